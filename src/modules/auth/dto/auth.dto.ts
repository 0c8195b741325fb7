import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';

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

  @ApiPropertyOptional({ description: "The tenant's slug, when not calling through the tenant's own domain", example: 'demo' })
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

  @ApiProperty({ description: '12+ characters mixing three of lower, upper, digits and symbols (or 16+ of anything)' })
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

  @ApiPropertyOptional({ example: 'demo' })
  @IsOptional()
  @Matches(SLUG)
  tenant?: string;
}

export class PasswordResetConfirm {
  @ApiProperty()
  @IsString()
  @MaxLength(200)
  token: string;

  @ApiProperty()
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

export class Jwks {
  @ApiProperty({ type: 'array', items: { type: 'object', additionalProperties: true } }) keys: object[];
}
