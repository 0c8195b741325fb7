import type { FastifyRequest } from 'fastify';
import { AppConfig } from '@app/config';
import { AppException } from '@app/errors';
import { SESSION_COOKIE, SessionCookie } from './session-cookie';

/** Which requests may use or start a cookie session (the rules the e2e spec exercises over HTTP). */
describe('SessionCookie', () => {
  const cookie = new SessionCookie({ REFRESH_TOKEN_TTL_SECONDS: 3600 } as AppConfig);
  const request = (protocol: 'http' | 'https', host: string, headers: Record<string, string> = {}) =>
    ({ protocol, host, headers }) as unknown as FastifyRequest;
  const code = (work: () => void): string | null => {
    try {
      work();
      return null;
    } catch (error) {
      return (error as AppException).code;
    }
  };

  it('allows cookie sessions over https anywhere, over plain http only at localhost and *.localhost', () => {
    expect(code(() => cookie.assertAllowed(request('https', 'shop.example.com')))).toBeNull();
    expect(code(() => cookie.assertAllowed(request('http', 'localhost:3000')))).toBeNull();
    expect(code(() => cookie.assertAllowed(request('http', 'shop.localhost:3000')))).toBeNull();
    expect(code(() => cookie.assertAllowed(request('http', 'shop.example.com')))).toBe('cookie_session_needs_https');
    expect(code(() => cookie.assertAllowed(request('http', 'localhost.example.com')))).toBe('cookie_session_needs_https');
    expect(code(() => cookie.assertAllowed(request('http', '127.0.0.1:3000')))).toBe('cookie_session_needs_https');
  });

  it('accepts a cookie refresh only with the CSRF header and from the same origin (scheme, host and port)', () => {
    const ok = { 'x-aigw-csrf': '1' };
    expect(code(() => cookie.assertSameOrigin(request('https', 'shop.example.com', ok)))).toBeNull();
    expect(code(() => cookie.assertSameOrigin(request('https', 'shop.example.com', { ...ok, origin: 'https://shop.example.com', 'sec-fetch-site': 'same-origin' })))).toBeNull();
    expect(code(() => cookie.assertSameOrigin(request('https', 'shop.example.com:443', { ...ok, origin: 'https://shop.example.com' })))).toBeNull();
    expect(code(() => cookie.assertSameOrigin(request('http', 'shop.localhost:3000', { ...ok, origin: 'http://shop.localhost:3000' })))).toBeNull();
    for (const [host, headers] of [
      ['shop.example.com', {}],
      ['shop.example.com', { 'x-aigw-csrf': 'true' }],
      ['shop.example.com', { ...ok, origin: 'http://shop.example.com' }],
      ['shop.example.com', { ...ok, origin: 'https://evil.example.com' }],
      ['shop.example.com', { ...ok, origin: 'https://shop.example.com.evil.test' }],
      ['shop.example.com', { ...ok, origin: 'https://shop.example.com:8443' }],
      ['shop.example.com', { ...ok, origin: 'null' }],
      ['shop.example.com', { ...ok, 'sec-fetch-site': 'same-site' }],
      ['shop.example.com', { ...ok, 'sec-fetch-site': 'none' }],
      ['shop.localhost:3000', { ...ok, origin: 'http://shop.localhost:5173' }],
    ] as Array<[string, Record<string, string>]>) {
      expect({ host, headers, code: code(() => cookie.assertSameOrigin(request('https', host, headers))) }).toEqual({ host, headers, code: 'csrf_check_failed' });
    }
  });

  it('reads only its own cookie', () => {
    expect(cookie.read(request('https', 'a.example', { cookie: `other=1; ${SESSION_COOKIE}=abc.def` }))).toBe('abc.def');
    expect(cookie.read(request('https', 'a.example', { cookie: 'aigw_refresh=abc' }))).toBeUndefined();
    expect(cookie.read(request('https', 'a.example'))).toBeUndefined();
  });
});
