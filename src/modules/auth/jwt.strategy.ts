import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { AppConfig, APP_CONFIG } from '@app/config';
import { Principal } from '@app/authorization';
import { AppException, CommonErrorCode } from '@app/errors';
import { hostTenantOf, UNKNOWN_HOST_DETAIL } from '@app/tenancy';
import type { FastifyRequest } from 'fastify';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { AuthErrorCode, authError } from './auth.exceptions';
import { PrincipalLoader, toPrincipal } from './principal.loader';
import { Revocations } from './revocations';
import { ACCESS_TOKEN_ALGORITHM, ACCESS_TOKEN_AUDIENCE, SigningKeys } from './signing-keys';

export interface AccessTokenClaims {
  sub: string;
  tid: string;
  tty: string;
  roles: string[];
  sid: string;
  jti: string;
  exp: number;
  iat: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Verifies access tokens (ES256 only, so `alg: none` and HMAC confusion are refused; the key by
 * its kid; issuer, audience and expiry checked, `exp` required, no `crit` header), then checks revocation and reloads the caller.
 */
/** What staff who must set up two-factor may still do: see who they are, set it up, sign out. */
const ENROLMENT_ROUTES = /^\/api\/v1\/(me|me\/two-factor(\/[a-z-]+)?|auth\/logout)\/?$/;

@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    keys: SigningKeys,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly loader: PrincipalLoader,
    private readonly revocations: Revocations,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      algorithms: [ACCESS_TOKEN_ALGORITHM],
      audience: ACCESS_TOKEN_AUDIENCE,
      issuer: config.PUBLIC_URL,
      ignoreExpiration: false,
      passReqToCallback: true,
      secretOrKeyProvider: (_req: unknown, rawToken: string, done: (err: unknown, key?: string | Buffer) => void) => {
        try {
          const header = JSON.parse(Buffer.from(rawToken.split('.')[0], 'base64url').toString('utf8')) as { kid?: string; crit?: unknown };
          // RFC 7515 4.1.11: a recipient must refuse a critical header it does not understand, and
          // we understand none (jsonwebtoken would ignore it).
          if (header.crit !== undefined) return done(authError(AuthErrorCode.InvalidToken, 'Unsupported critical header.'));
          const key = keys.verificationKey(header.kid);
          if (!key) return done(authError(AuthErrorCode.InvalidToken, 'Unknown signing key.'));
          // passport-jwt hands the key to jsonwebtoken, which accepts a KeyObject.
          done(null, key as unknown as Buffer);
        } catch {
          done(authError(AuthErrorCode.InvalidToken));
        }
      },
    });
  }

  async validate(request: FastifyRequest, claims: AccessTokenClaims): Promise<Principal> {
    // Every access token must expire: jsonwebtoken checks `exp` only when it is present.
    if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) throw authError(AuthErrorCode.InvalidToken, 'The token has no expiry.');
    if (!UUID.test(String(claims.tid)) || !UUID.test(String(claims.sub)) || !claims.sid || !claims.jti) {
      throw authError(AuthErrorCode.InvalidToken);
    }
    // The token's tenant is never a fallback for the Host's (the Host hook answers 404 first).
    const host = hostTenantOf(request.raw);
    if (!host) throw AppException.common(CommonErrorCode.UnknownTenant, 404, UNKNOWN_HOST_DETAIL);
    if (host.id !== claims.tid) throw authError(AuthErrorCode.TenantMismatch);
    if (await this.revocations.isRevoked(claims.jti, claims.sid)) throw authError(AuthErrorCode.TokenRevoked);
    const identity = await this.loader.load(claims.tid, claims.sub);
    if (!identity || identity.userStatus !== 'active') throw authError(AuthErrorCode.AccountDisabled);
    if (identity.tenantStatus !== 'active') throw authError(AuthErrorCode.TenantDisabled);
    if (identity.mustEnrolSecondFactor && !ENROLMENT_ROUTES.test((request.url ?? '').split('?')[0])) throw authError(AuthErrorCode.TwoFactorEnrolmentRequired);
    return toPrincipal(identity, claims);
  }
}
