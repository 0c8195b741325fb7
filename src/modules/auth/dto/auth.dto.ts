import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { ProblemSchema } from '../../../common/problem.schema';
import { PASSWORD_POLICY, PASSWORD_RULES, PasswordRuleCode } from '../../users/password-policy';

/** The policy in words, for every field that sets a password. */
const NEW_PASSWORD = {
  description:
    `The new password. It ${PASSWORD_RULES.map((r) => `${r.message} (\`${r.code}\`)`).join('; ')}. ` +
    'A weak one is refused with 400 `weak_password` listing every broken rule in `rules`; ' +
    '`GET /api/v1/auth/password-policy` gives the rules as data.',
  minLength: PASSWORD_POLICY.minLength,
  maxLength: PASSWORD_POLICY.maxLength,
};

/** `require_tld: false`: see LoginRequest.email. */
const SIGN_IN_EMAIL = { require_tld: false };

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** `token`: the refresh token in the JSON body (API clients). `cookie`: in the browser session cookie. */
export const SESSION_KINDS = ['token', 'cookie'] as const;
export type SessionKind = (typeof SESSION_KINDS)[number];
const SESSION_DOC =
  '`cookie` (the browser console): the refresh token is set in the `__Host-aigw_refresh` cookie (HttpOnly, Secure, SameSite=Strict) ' +
  'and left out of the body; needs https, or plain http at localhost / *.localhost (400 cookie_session_needs_https otherwise). ' +
  '`token` (default): the refresh token is in the body.';

export class LoginRequest {
  @ApiProperty({ example: 'owner@demo.localhost' })
  // A sign-in address needs no top-level domain: the platform's own users may live at a bare
  // host name (`owner@localhost`, as `npm run dev` seeds them). It is still an address.
  @IsEmail(SIGN_IN_EMAIL)
  @MaxLength(320)
  email: string;

  @ApiProperty({ example: 'Demo-Gateway-2026!' })
  @IsString()
  @MinLength(1)
  @MaxLength(128)
  password: string;

  @ApiPropertyOptional({ description: "The tenant's slug, if given: it must name the tenant of the domain called (a Host that is no tenant's domain is answered 404)", example: 'demo' })
  @IsOptional()
  @Matches(SLUG)
  tenant?: string;

  @ApiPropertyOptional({ enum: SESSION_KINDS, default: 'token', description: SESSION_DOC })
  @IsOptional()
  @IsIn(SESSION_KINDS)
  session?: SessionKind;
}

export class RefreshRequest {
  @ApiPropertyOptional({
    description:
      'The refresh token. Absent: the browser session cookie is used instead, and then the request must carry `X-AIGW-CSRF: 1` ' +
      'and come from this origin (403 csrf_check_failed otherwise); the new token goes back into the cookie, not the body.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  refreshToken?: string;
}

export class LogoutRequest {
  @ApiPropertyOptional({ description: 'Also revokes this refresh token\'s session (the access token\'s session is always revoked)' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  refreshToken?: string;
}

export class TokenPair {
  @ApiProperty() accessToken: string;
  @ApiProperty({ example: 'Bearer' }) tokenType: 'Bearer';
  @ApiProperty({ description: 'Seconds until the access token expires' }) expiresIn: number;
  @ApiPropertyOptional({ description: 'Single use: every refresh returns a new one. Absent in a cookie session (it is in the cookie)' })
  refreshToken?: string;
  @ApiProperty() refreshExpiresIn: number;
}

export class AcceptInvitationRequest {
  @ApiProperty({ description: 'The token from the invitation link' })
  @IsString()
  @MaxLength(200)
  token: string;

  @ApiProperty(NEW_PASSWORD)
  @IsString()
  @MaxLength(128)
  password: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  displayName?: string;

  @ApiPropertyOptional({ enum: SESSION_KINDS, default: 'token', description: SESSION_DOC })
  @IsOptional()
  @IsIn(SESSION_KINDS)
  session?: SessionKind;
}

export class PasswordResetRequest {
  @ApiProperty()
  // A sign-in address needs no top-level domain: the platform's own users may live at a bare
  // host name (`owner@localhost`, as `npm run dev` seeds them). It is still an address.
  @IsEmail(SIGN_IN_EMAIL)
  @MaxLength(320)
  email: string;

  @ApiPropertyOptional({ description: "The tenant's slug, if given: it must name the tenant of the domain called", example: 'demo' })
  @IsOptional()
  @Matches(SLUG)
  tenant?: string;
}

export class PasswordResetConfirm {
  @ApiProperty()
  @IsString()
  @MaxLength(200)
  token: string;

  @ApiProperty(NEW_PASSWORD)
  @IsString()
  @MaxLength(128)
  password: string;
}

export class MeTenant {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() slug: string;
  @ApiProperty({ enum: ['platform', 'reseller'] }) type: string;
  @ApiProperty() name: string;
}

export class MeUser {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() email: string;
  @ApiPropertyOptional({ nullable: true, type: String }) displayName: string | null;
  @ApiPropertyOptional({ nullable: true, enum: ['en', 'zh-CN'], description: "The console's language for you; null: the tenant's default (GET /api/v1/site)" })
  preferredLanguage: string | null;
}

/**
 * What the console decides its navigation from: the tenant's type (platform staff see channels,
 * resellers, statements of all), the roles, and the CASL rules (hide what they forbid).
 */
export class MeResponse {
  @ApiProperty({ type: MeUser }) user: MeUser;
  @ApiProperty({ type: MeTenant, description: "The tenant's type decides the platform-only pages (channels, resellers)" }) tenant: MeTenant;
  @ApiProperty({ type: [String], example: ['owner'], enum: ['owner', 'operator', 'sales', 'finance', 'tech', 'user'], isArray: true }) roles: string[];
  @ApiProperty({
    description: 'The caller\'s CASL rules, packed (@casl/ability/extra packRules): unpack and build an ability to show or hide actions',
    type: 'array',
    items: { type: 'array', items: {} },
  })
  rules: unknown[];
}

export class PasswordRuleView {
  @ApiProperty({ enum: PasswordRuleCode, enumName: 'PasswordRuleCode', description: 'Stable code of the rule' }) code: PasswordRuleCode;
  @ApiProperty({ example: 'must be at least 12 characters long', description: 'English text; follows "The password"' }) message: string;
}

export class PasswordPolicyView {
  @ApiProperty({ example: 12 }) minLength: number;
  @ApiProperty({ example: 128 }) maxLength: number;
  @ApiProperty({ example: 3, description: 'At least this many of characterClasses, unless the password is passphraseLength or longer' })
  minCharacterClasses: number;
  @ApiProperty({ type: [String], example: ['lower case', 'upper case', 'digits', 'symbols'] }) characterClasses: string[];
  @ApiProperty({ example: 16 }) passphraseLength: number;
  @ApiProperty({ example: 5 }) minDistinctCharacters: number;
  @ApiProperty({ type: [String], description: 'Words that may not appear anywhere in the password (case-insensitive)' }) commonWords: string[];
  @ApiProperty({ example: 4, description: "The e-mail address's part before @ may not appear in the password when it is at least this long" })
  emailLocalPartMinLength: number;
  @ApiProperty({ type: [PasswordRuleView], description: 'Every rule, in the order they are checked' }) rules: PasswordRuleView[];
}

/** 400 `weak_password`: every rule the password breaks, at once. */
export class WeakPasswordProblem extends ProblemSchema {
  @ApiProperty({ type: [PasswordRuleView], description: 'Every rule the password breaks (weak_password only)' }) rules: PasswordRuleView[];
}

export class Jwks {
  @ApiProperty({ type: 'array', items: { type: 'object', additionalProperties: true } }) keys: object[];
}
