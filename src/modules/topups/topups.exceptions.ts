import { errorFactory } from '@app/errors';

export enum TopupErrorCode {
  ProviderNotEnabled = 'payment_provider_not_enabled',
  AmountOutOfRange = 'topup_amount_out_of_range',
  ProviderUnavailable = 'payment_provider_unavailable',
  ProviderRejected = 'payment_provider_rejected',
  SettingsIncomplete = 'payment_settings_incomplete',
  SignatureInvalid = 'webhook_signature_invalid',
  NotConfigured = 'webhook_not_configured',
  CodeInvalid = 'redemption_code_invalid',
  RedeemRateLimited = 'redemption_rate_limited',
}

const MESSAGES: Record<TopupErrorCode, { status: number; title: string }> = {
  [TopupErrorCode.ProviderNotEnabled]: { status: 422, title: 'This payment provider is not enabled for the tenant' },
  [TopupErrorCode.AmountOutOfRange]: { status: 422, title: "The amount is outside the tenant's top-up limits" },
  [TopupErrorCode.ProviderUnavailable]: { status: 502, title: 'The payment provider could not be reached' },
  [TopupErrorCode.ProviderRejected]: { status: 502, title: 'The payment provider refused the request' },
  [TopupErrorCode.SettingsIncomplete]: { status: 422, title: 'A provider can be enabled only with all of its credentials' },
  [TopupErrorCode.SignatureInvalid]: { status: 400, title: 'The webhook signature is missing or invalid' },
  [TopupErrorCode.NotConfigured]: { status: 404, title: 'This tenant takes no payments through this provider' },
  [TopupErrorCode.CodeInvalid]: { status: 422, title: 'The code is not valid, already redeemed, disabled or expired' },
  [TopupErrorCode.RedeemRateLimited]: { status: 429, title: 'Too many redemption attempts; try again later' },
};

export const topupError = errorFactory<TopupErrorCode>(MESSAGES);
