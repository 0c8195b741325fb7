import { errorFactory } from '@app/errors';

export enum IdentityErrorCode {
  SignUpClosed = 'sign_up_closed',
  SignUpDomainNotAllowed = 'sign_up_domain_not_allowed',
  SignUpRateLimited = 'sign_up_rate_limited',
  StaffAccountDeletion = 'staff_account_deletion',
  AccountDeleted = 'account_deleted',
  OidcProviderUnusable = 'oidc_provider_unusable',
}

const MESSAGES: Record<IdentityErrorCode, { status: number; title: string }> = {
  [IdentityErrorCode.SignUpClosed]: { status: 403, title: 'Sign-up is not open here; ask for an invitation' },
  [IdentityErrorCode.SignUpDomainNotAllowed]: { status: 400, title: 'Sign-up is open only to some e-mail domains' },
  [IdentityErrorCode.SignUpRateLimited]: { status: 429, title: 'Too many sign-ups; try again later' },
  [IdentityErrorCode.StaffAccountDeletion]: { status: 409, title: 'Staff accounts are removed by the owner in the members list, not deleted here' },
  [IdentityErrorCode.AccountDeleted]: { status: 409, title: 'The account is already deleted' },
  [IdentityErrorCode.OidcProviderUnusable]: { status: 400, title: 'The identity provider cannot be used' },
};

export const identityError = errorFactory<IdentityErrorCode>(MESSAGES);
