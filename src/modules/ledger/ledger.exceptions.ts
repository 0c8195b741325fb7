import { errorFactory } from '@app/errors';

export enum LedgerErrorCode {
  InsufficientBalance = 'insufficient_balance',
  ReferenceReused = 'credit_reference_reused',
}

const MESSAGES: Record<LedgerErrorCode, { status: number; title: string }> = {
  [LedgerErrorCode.InsufficientBalance]: { status: 422, title: 'The debit would take the wallet below zero and overdraft is not allowed' },
  [LedgerErrorCode.ReferenceReused]: { status: 409, title: 'This reference was already used for a different credit' },
};

export const ledgerError = errorFactory<LedgerErrorCode>(MESSAGES);
