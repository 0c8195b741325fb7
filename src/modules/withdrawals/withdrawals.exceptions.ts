import { errorFactory } from '@app/errors';

export enum WithdrawalErrorCode {
  ExceedsAvailable = 'withdrawal_exceeds_available',
  NotAReseller = 'withdrawal_not_a_reseller',
  InvalidTransition = 'withdrawal_invalid_transition',
  ReferenceReused = 'withdrawal_reference_reused',
}

const MESSAGES: Record<WithdrawalErrorCode, { status: number; title: string }> = {
  [WithdrawalErrorCode.ExceedsAvailable]: {
    status: 422,
    title: 'The amount exceeds the settled margin available to withdraw (pending requests already deducted)',
  },
  [WithdrawalErrorCode.NotAReseller]: { status: 422, title: 'Only reseller tenants have settled margin to withdraw' },
  [WithdrawalErrorCode.InvalidTransition]: { status: 409, title: 'The withdrawal is not in a state that allows this step' },
  [WithdrawalErrorCode.ReferenceReused]: { status: 409, title: 'This reference was already used for a different withdrawal' },
};

export const withdrawalError = errorFactory<WithdrawalErrorCode>(MESSAGES);
