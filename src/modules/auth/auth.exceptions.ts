import { errorFactory } from '@app/errors';

/** Codes of the identity API's failures (stable; clients branch on them). */
export enum AuthErrorCode {
  InvalidCredentials = 'invalid_credentials',
  LoginLocked = 'login_locked',
  TenantDisabled = 'tenant_disabled',
  TenantMismatch = 'tenant_mismatch',
  InvalidToken = 'invalid_token',
  TokenRevoked = 'token_revoked',
  AccountDisabled = 'account_disabled',
  InvalidRefreshToken = 'invalid_refresh_token',
  RefreshTokenReused = 'refresh_token_reused',
  InvalidOneTimeToken = 'invalid_one_time_token',
  WeakPassword = 'weak_password',
  CsrfCheckFailed = 'csrf_check_failed',
  CookieSessionNeedsHttps = 'cookie_session_needs_https',
  WrongPassword = 'wrong_password',
  SecondFactorRequired = 'second_factor_required',
  InvalidSecondFactor = 'invalid_second_factor',
  TwoFactorEnrolmentRequired = 'two_factor_enrolment_required',
  TwoFactorAlreadyEnabled = 'two_factor_already_enabled',
  TwoFactorNotEnabled = 'two_factor_not_enabled',
  TwoFactorRequiredByTenant = 'two_factor_required_by_tenant',
}

const MESSAGES: Record<AuthErrorCode, { status: number; title: string }> = {
  [AuthErrorCode.InvalidCredentials]: { status: 401, title: 'E-mail or password is wrong' },
  [AuthErrorCode.LoginLocked]: { status: 429, title: 'Too many failed sign-ins; try again later' },
  [AuthErrorCode.TenantDisabled]: { status: 403, title: 'This tenant is disabled' },
  [AuthErrorCode.TenantMismatch]: { status: 403, title: 'The token belongs to another tenant than this domain' },
  [AuthErrorCode.InvalidToken]: { status: 401, title: 'The access token is missing, invalid or expired' },
  [AuthErrorCode.TokenRevoked]: { status: 401, title: 'The access token was revoked' },
  [AuthErrorCode.AccountDisabled]: { status: 401, title: 'The account is disabled or no longer exists' },
  [AuthErrorCode.InvalidRefreshToken]: { status: 401, title: 'The refresh token is invalid or expired' },
  [AuthErrorCode.RefreshTokenReused]: { status: 401, title: 'The refresh token was already used; the session is revoked' },
  [AuthErrorCode.InvalidOneTimeToken]: { status: 400, title: 'The link is invalid, used or expired' },
  [AuthErrorCode.WeakPassword]: { status: 400, title: 'The password is too weak' },
  [AuthErrorCode.CsrfCheckFailed]: { status: 403, title: 'The request failed the cross-site request check' },
  [AuthErrorCode.CookieSessionNeedsHttps]: { status: 400, title: 'Cookie sessions need https' },
  [AuthErrorCode.WrongPassword]: { status: 400, title: 'The current password is wrong' },
  [AuthErrorCode.SecondFactorRequired]: { status: 401, title: 'Enter the code from your authenticator app to finish signing in' },
  [AuthErrorCode.InvalidSecondFactor]: { status: 401, title: 'The code is wrong, expired or already used' },
  [AuthErrorCode.TwoFactorEnrolmentRequired]: { status: 403, title: 'This tenant requires two-factor sign-in for staff: set it up first' },
  [AuthErrorCode.TwoFactorAlreadyEnabled]: { status: 409, title: 'Two-factor sign-in is already on' },
  [AuthErrorCode.TwoFactorNotEnabled]: { status: 409, title: 'Two-factor sign-in is not on' },
  [AuthErrorCode.TwoFactorRequiredByTenant]: { status: 409, title: 'This tenant requires two-factor sign-in for staff; it cannot be turned off' },
};

export const authError = errorFactory<AuthErrorCode>(MESSAGES);
