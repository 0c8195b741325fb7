import { Inject, Injectable } from '@nestjs/common';
import { parse, serialize } from 'cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppConfig, APP_CONFIG } from '@app/config';
import { normalizeHost } from '@app/tenancy';
import { AuthErrorCode, authError } from './auth.exceptions';

/**
 * The browser console's refresh token lives in this cookie, never in page script: `__Host-` (so it
 * is bound to this exact host, Path=/, Secure, no Domain), HttpOnly, SameSite=Strict.
 */
export const SESSION_COOKIE = '__Host-aigw_refresh';

/** The header the console sends on `POST /api/v1/auth/refresh` when the token comes from the cookie. */
export const CSRF_HEADER = 'x-aigw-csrf';

/**
 * Cookie sessions for the browser console (DESIGN.md "Web console").
 *
 * Where they work: over https (as the request arrives, or as `X-Forwarded-Proto` says with
 * TRUST_PROXY), and over plain http only at `localhost` and `*.localhost`, which browsers treat as
 * potentially trustworthy origins and where they accept Secure cookies (development). At any other
 * plain-http host the cookie could not be Secure, so a cookie session is refused with
 * `cookie_session_needs_https` rather than quietly downgraded; the JSON-body flow still works there.
 *
 * CSRF on the refresh route (the only route that reads the cookie): SameSite=Strict already keeps
 * the browser from sending it cross-site; on top, the request must carry `X-AIGW-CSRF: 1` (a custom
 * header no cross-origin page can add without a CORS preflight, and the api answers none), and when
 * the browser states `Origin` or `Sec-Fetch-Site`, they must say same origin. Logout only clears the
 * cookie and needs the access token anyway.
 */
@Injectable()
export class SessionCookie {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** The refresh token in the request's session cookie, if any. */
  read(request: FastifyRequest): string | undefined {
    const header = request.headers.cookie;
    if (!header) return undefined;
    const value = parse(header)[SESSION_COOKIE];
    return value ? value : undefined;
  }

  /** Throws `cookie_session_needs_https` where the cookie could not be Secure. */
  assertAllowed(request: FastifyRequest): void {
    if (!this.secureContext(request)) {
      throw authError(
        AuthErrorCode.CookieSessionNeedsHttps,
        'Cookie sessions need https (plain http works only at localhost and *.localhost). Use the JSON refresh token instead.',
      );
    }
  }

  /** Refuses a cookie-borne refresh that a cross-site page could have started. */
  assertSameOrigin(request: FastifyRequest): void {
    if (request.headers[CSRF_HEADER] !== '1') {
      throw authError(AuthErrorCode.CsrfCheckFailed, `Send the header ${CSRF_HEADER.toUpperCase()}: 1 with a cookie refresh.`);
    }
    const site = request.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin') throw authError(AuthErrorCode.CsrfCheckFailed, 'Cross-site requests may not use the session cookie.');
    const origin = request.headers.origin;
    if (origin !== undefined && !this.isOwnOrigin(request, origin)) {
      throw authError(AuthErrorCode.CsrfCheckFailed, 'Cross-origin requests may not use the session cookie.');
    }
  }

  set(reply: FastifyReply, refreshToken: string): void {
    reply.header(
      'set-cookie',
      serialize(SESSION_COOKIE, refreshToken, {
        httpOnly: true,
        secure: true,
        sameSite: 'strict',
        path: '/',
        maxAge: this.config.REFRESH_TOKEN_TTL_SECONDS,
      }),
    );
  }

  clear(reply: FastifyReply): void {
    reply.header('set-cookie', serialize(SESSION_COOKIE, '', { httpOnly: true, secure: true, sameSite: 'strict', path: '/', maxAge: 0 }));
  }

  private secureContext(request: FastifyRequest): boolean {
    if (request.protocol === 'https') return true;
    const host = normalizeHost(request.host);
    return host !== null && (host === 'localhost' || host.endsWith('.localhost'));
  }

  /** Scheme, host and port of `origin` are this request's own (default ports dropped on both sides). */
  private isOwnOrigin(request: FastifyRequest, origin: string): boolean {
    let url: URL;
    let own: URL;
    try {
      url = new URL(origin);
      own = new URL(`${request.protocol}://${request.host}`);
    } catch {
      return false;
    }
    return url.protocol === own.protocol && url.host === own.host;
  }
}
