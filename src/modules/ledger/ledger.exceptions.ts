import { errorFactory } from '@app/errors';

export enum LedgerErrorCode {
  InsufficientBalance = 'insufficient_balance',
  ReferenceReused = 'credit_reference_reused',
  WebhookSignature = 'webhook_signature_invalid',
  WebhookNotConfigured = 'webhook_not_configured',
  WebhookPayload = 'webhook_payload_invalid',
}

const MESSAGES: Record<LedgerErrorCode, { status: number; title: string }> = {
  [LedgerErrorCode.InsufficientBalance]: { status: 422, title: 'The debit would take the wallet below zero and overdraft is not allowed' },
  [LedgerErrorCode.ReferenceReused]: { status: 409, title: 'This reference was already used for a different credit' },
  [LedgerErrorCode.WebhookSignature]: { status: 400, title: 'The webhook signature is missing or invalid' },
  [LedgerErrorCode.WebhookNotConfigured]: { status: 503, title: 'Payments are not configured (STRIPE_WEBHOOK_SECRET)' },
  [LedgerErrorCode.WebhookPayload]: { status: 422, title: 'The payment event lacks the tenant, customer or amount needed to credit a wallet' },
};

export const ledgerError = errorFactory<LedgerErrorCode>(MESSAGES);
