import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { newOpaqueToken } from '../../src/modules/auth/token-secrets';
import { RunningApp, startTestApi } from '../support/app';
import { me } from '../support/auth';
import { connectAs, uniqueSlug } from '../support/db';
import { call, HttpResult } from '../support/http';
import { resellerWithUsers, TEST_PASSWORD, TestTenant } from '../support/identity';
import { expectInvalidFields, expectProblem } from '../support/problem';

const COOKIE = '__Host-aigw_refresh';

/** The session cookie a response sets: its value and attributes (lower-cased names). */
function sessionCookie(res: HttpResult): { value: string; attributes: Record<string, string | true> } | null {
  const headers = [res.headers['set-cookie'] ?? []].flat();
  const line = headers.find((h) => h.startsWith(`${COOKIE}=`));
  if (!line) return null;
  const [pair, ...rest] = line.split(';').map((p) => p.trim());
  const attributes: Record<string, string | true> = {};
  for (const attribute of rest) {
    const [name, value] = attribute.split('=');
    attributes[name.toLowerCase()] = value ?? true;
  }
  return { value: decodeURIComponent(pair.slice(COOKIE.length + 1)), attributes };
}

/**
 * Browser sessions (DESIGN.md "Web console"): the refresh token in a __Host- cookie, set on opt-in
 * at sign-in, read only by the refresh route (with a CSRF check), cleared by logout. The JSON flow
 * of API clients is unchanged.
 */
describe('browser cookie sessions (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let shop: TestTenant;
  let other: TestTenant;

  beforeAll(async () => {
    system = await connectAs('system');
    api = await startTestApi();
    shop = await resellerWithUsers(system, { alice: ['user'], bob: ['user'], carol: ['owner'] });
    other = await resellerWithUsers(system, { dave: ['user'] });
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  const origin = (tenant: TestTenant) => `http://${tenant.domain}`;
  const loginWithCookie = (tenant: TestTenant, user: string, host = tenant.domain) =>
    call(api.baseUrl, 'POST', '/api/v1/auth/login', { host, json: { email: tenant.users[user].email, password: TEST_PASSWORD, session: 'cookie' } });
  const cookieRefresh = (tenant: TestTenant, cookie: string, headers: Record<string, string> = { 'x-aigw-csrf': '1', origin: origin(tenant), 'sec-fetch-site': 'same-origin' }) =>
    call(api.baseUrl, 'POST', '/api/v1/auth/refresh', { host: tenant.domain, json: {}, headers: { cookie: `${COOKIE}=${encodeURIComponent(cookie)}`, ...headers } });

  it('sets the refresh token as a __Host- HttpOnly Secure SameSite=Strict cookie and leaves it out of the body', async () => {
    const res = await loginWithCookie(shop, 'alice');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: expect.any(Number) });
    expect(res.body).not.toHaveProperty('refreshToken');
    const cookie = sessionCookie(res)!;
    expect(cookie.value).toMatch(new RegExp(`^${shop.id}\\.`));
    expect(cookie.attributes).toMatchObject({ httponly: true, secure: true, samesite: 'Strict', path: '/', 'max-age': String(api.config.REFRESH_TOKEN_TTL_SECONDS) });
    expect(cookie.attributes).not.toHaveProperty('domain');
    expect((await me(api.baseUrl, res.body.accessToken, shop.domain)).status).toBe(200);

    // Without the option the JSON flow is unchanged: the token in the body, no cookie.
    const plain = await call(api.baseUrl, 'POST', '/api/v1/auth/login', { host: shop.domain, json: { email: shop.users.alice.email, password: TEST_PASSWORD } });
    expect(plain.status).toBe(200);
    expect(plain.body.refreshToken).toEqual(expect.any(String));
    expect(sessionCookie(plain)).toBeNull();
  });

  it('refreshes from the cookie with the CSRF header, rotating the cookie; the spent cookie is refused', async () => {
    const first = sessionCookie(await loginWithCookie(shop, 'alice'))!.value;
    const refreshed = await cookieRefresh(shop, first);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).not.toHaveProperty('refreshToken');
    expect((await me(api.baseUrl, refreshed.body.accessToken, shop.domain)).status).toBe(200);
    const second = sessionCookie(refreshed)!;
    expect(second.value).not.toBe(first);
    expect(second.attributes).toMatchObject({ httponly: true, secure: true, samesite: 'Strict', path: '/' });

    // Replaying the spent cookie is reuse: the session is revoked and the cookie cleared.
    const replay = await cookieRefresh(shop, first);
    expectProblem(replay, 401, 'refresh_token_reused');
    expect(sessionCookie(replay)).toMatchObject({ value: '', attributes: { 'max-age': '0' } });
    expectProblem(await cookieRefresh(shop, second.value), 401, 'invalid_refresh_token');
  });

  it('refuses a cookie refresh without the CSRF header, or from another site, and spends nothing', async () => {
    const token = sessionCookie(await loginWithCookie(shop, 'bob'))!.value;
    expectProblem(await cookieRefresh(shop, token, { origin: origin(shop) }), 403, 'csrf_check_failed');
    expectProblem(await cookieRefresh(shop, token, { 'x-aigw-csrf': 'yes' }), 403, 'csrf_check_failed');
    expectProblem(await cookieRefresh(shop, token, { 'x-aigw-csrf': '1', origin: 'https://evil.example' }), 403, 'csrf_check_failed');
    expectProblem(await cookieRefresh(shop, token, { 'x-aigw-csrf': '1', origin: origin(other) }), 403, 'csrf_check_failed');
    expectProblem(await cookieRefresh(shop, token, { 'x-aigw-csrf': '1', origin: `https://${shop.domain}` }), 403, 'csrf_check_failed');
    expectProblem(await cookieRefresh(shop, token, { 'x-aigw-csrf': '1', 'sec-fetch-site': 'cross-site' }), 403, 'csrf_check_failed');
    expectProblem(await cookieRefresh(shop, token, { 'x-aigw-csrf': '1', 'sec-fetch-site': 'same-site' }), 403, 'csrf_check_failed');
    // None of those spent the token: it still works once, from the page itself.
    expect((await cookieRefresh(shop, token)).status).toBe(200);
  });

  it("refuses this tenant's cookie at another tenant's domain", async () => {
    const token = sessionCookie(await loginWithCookie(shop, 'bob'))!.value;
    const res = await call(api.baseUrl, 'POST', '/api/v1/auth/refresh', {
      host: other.domain,
      json: {},
      headers: { cookie: `${COOKIE}=${encodeURIComponent(token)}`, 'x-aigw-csrf': '1', origin: origin(other) },
    });
    expectProblem(res, 403, 'tenant_mismatch');
  });

  it('refreshes from the cookie when the request has no body at all', async () => {
    const token = sessionCookie(await loginWithCookie(shop, 'bob'))!.value;
    const res = await call(api.baseUrl, 'POST', '/api/v1/auth/refresh', {
      host: shop.domain,
      headers: { cookie: `${COOKIE}=${encodeURIComponent(token)}`, 'x-aigw-csrf': '1', origin: origin(shop) },
    });
    expect(res.status).toBe(200);
    expect(sessionCookie(res)!.value).not.toBe(token);
  });

  it('needs a refresh token in the body or the cookie', async () => {
    expectInvalidFields(await call(api.baseUrl, 'POST', '/api/v1/auth/refresh', { host: shop.domain, json: {}, headers: { 'x-aigw-csrf': '1' } }), ['refreshToken']);
  });

  it('logout ends the cookie session and clears the cookie', async () => {
    const login = await loginWithCookie(shop, 'carol');
    const token = sessionCookie(login)!.value;
    const out = await call(api.baseUrl, 'POST', '/api/v1/auth/logout', {
      host: shop.domain,
      token: login.body.accessToken,
      json: {},
      headers: { cookie: `${COOKIE}=${encodeURIComponent(token)}` },
    });
    expect(out.status).toBe(204);
    expect(sessionCookie(out)).toMatchObject({ value: '', attributes: { 'max-age': '0', path: '/', secure: true, httponly: true } });
    expectProblem(await cookieRefresh(shop, token), 401, 'invalid_refresh_token');
    expectProblem(await me(api.baseUrl, login.body.accessToken, shop.domain), 401, 'token_revoked');
  });

  it('accepting an invitation with session "cookie" signs in with the cookie', async () => {
    const id = uuidv7();
    const email = `invited.${id.slice(-12)}@${shop.domain}`;
    await system.query(`INSERT INTO users (id, tenant_id, email, status) VALUES ($1, $2, $3, 'invited')`, [id, shop.id, email]);
    await system.query(`INSERT INTO user_roles (tenant_id, user_id, role) VALUES ($1, $2, 'user')`, [shop.id, id]);
    const { token, hash } = newOpaqueToken(shop.id);
    await system.query(
      `INSERT INTO one_time_tokens (id, tenant_id, user_id, purpose, token_hash, expires_at) VALUES ($1, $2, $3, 'invitation', $4, now() + interval '1 hour')`,
      [uuidv7(), shop.id, id, hash],
    );
    const accepted = await call(api.baseUrl, 'POST', '/api/v1/auth/invitations/accept', {
      host: shop.domain,
      json: { token, password: 'Copper-Kettle-Song-31', session: 'cookie' },
    });
    expect(accepted.status).toBe(200);
    expect(accepted.body).not.toHaveProperty('refreshToken');
    const cookie = sessionCookie(accepted)!;
    expect(cookie.attributes).toMatchObject({ httponly: true, secure: true, samesite: 'Strict', path: '/' });
    const refreshed = await cookieRefresh(shop, cookie.value);
    expect(refreshed.status).toBe(200);
    expect((await me(api.baseUrl, refreshed.body.accessToken, shop.domain)).body.user.email).toBe(email);
  });

  it('refuses a cookie session over plain http at a host that is not *.localhost, and signs nobody in', async () => {
    const domain = `${uniqueSlug('plain')}.example.com`;
    await system.query(`INSERT INTO tenant_domains (tenant_id, domain) VALUES ($1, $2)`, [shop.id, domain]);
    const refused = await loginWithCookie(shop, 'alice', domain);
    expectProblem(refused, 400, 'cookie_session_needs_https');
    expect(sessionCookie(refused)).toBeNull();
    // The JSON flow still works there.
    const plain = await call(api.baseUrl, 'POST', '/api/v1/auth/login', { host: domain, json: { email: shop.users.alice.email, password: TEST_PASSWORD } });
    expect(plain.status).toBe(200);
  });

  it('accepts a cookie session at such a host when the proxy says the request came over https', async () => {
    const proxied = await startTestApi({ TRUST_PROXY: 'true' });
    try {
      const domain = `${uniqueSlug('tls')}.example.com`;
      await system.query(`INSERT INTO tenant_domains (tenant_id, domain) VALUES ($1, $2)`, [shop.id, domain]);
      const res = await call(proxied.baseUrl, 'POST', '/api/v1/auth/login', {
        host: domain,
        headers: { 'x-forwarded-proto': 'https' },
        json: { email: shop.users.alice.email, password: TEST_PASSWORD, session: 'cookie' },
      });
      expect(res.status).toBe(200);
      const token = sessionCookie(res)!.value;
      const refreshed = await call(proxied.baseUrl, 'POST', '/api/v1/auth/refresh', {
        host: domain,
        json: {},
        headers: { 'x-forwarded-proto': 'https', cookie: `${COOKIE}=${encodeURIComponent(token)}`, 'x-aigw-csrf': '1', origin: `https://${domain}` },
      });
      expect(refreshed.status).toBe(200);
    } finally {
      await proxied.close();
    }
  });
});
