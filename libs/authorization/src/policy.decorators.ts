import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { Action, SubjectName } from './ability';

export const ACCESS_METADATA = 'aigateway:access';

export type AccessRule =
  | { kind: 'public' }
  | { kind: 'authenticated' }
  | { kind: 'permission'; action: Action; subject: SubjectName };

/** No sign-in needed (login, JWKS, invitation acceptance). */
export const Public = () => SetMetadata(ACCESS_METADATA, { kind: 'public' } satisfies AccessRule);

/** Any signed-in user of an active tenant (their own profile, logout). */
export const Authenticated = () =>
  applyDecorators(
    SetMetadata(ACCESS_METADATA, { kind: 'authenticated' } satisfies AccessRule),
    ApiBearerAuth('access-token'),
    ApiUnauthorizedResponse({ description: 'Missing, invalid, expired or revoked access token (problem+json)' }),
  );

/**
 * The caller must be allowed `action` on at least some `subject`s; the service then checks the
 * particular object and filters lists in SQL. Routes without any of these decorators are refused.
 */
export const RequirePermission = (action: Action, subject: SubjectName) =>
  applyDecorators(
    SetMetadata(ACCESS_METADATA, { kind: 'permission', action, subject } satisfies AccessRule),
    ApiBearerAuth('access-token'),
    ApiUnauthorizedResponse({ description: 'Missing, invalid, expired or revoked access token (problem+json)' }),
    ApiForbiddenResponse({ description: `The caller may not ${action} ${subject} (problem+json)` }),
  );
