import { errorFactory } from '@app/errors';

export enum KeyErrorCode {
  KeyRevoked = 'api_key_revoked',
  KeySuspended = 'api_key_suspended',
  UnknownCustomer = 'unknown_customer',
  UnknownModel = 'unknown_model',
}

const MESSAGES: Record<KeyErrorCode, { status: number; title: string }> = {
  [KeyErrorCode.KeyRevoked]: { status: 409, title: 'The API key is revoked; revocation is final' },
  [KeyErrorCode.KeySuspended]: { status: 409, title: "The API key is suspended by a risk flag; the tenant's owner lifts it by resolving the flag" },
  [KeyErrorCode.UnknownCustomer]: { status: 422, title: 'The owner must be an active customer of the tenant that you manage' },
  [KeyErrorCode.UnknownModel]: { status: 422, title: 'The platform has no price for a model in allowedModels' },
};

export const keyError = errorFactory<KeyErrorCode>(MESSAGES);
