import { Client } from 'pg';
import { RunningApp, startTestApi } from '../support/app';
import { auditLog, me, refresh } from '../support/auth';
import { connectAs } from '../support/db';
import { call } from '../support/http';
import { resellerWithUsers, signIn, TestTenant } from '../support/identity';
import { expectProblem } from '../support/problem';

/**
 * Sessions: refresh tokens are single use and rotate; a reused one revokes its whole family;
 * logout, role changes and disabling take effect on the very next request.
 */
describe('sessions (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let reseller: TestTenant;
  let other: TestTenant;

  beforeAll(async () => {
    system = await connectAs('system');
    api = await startTestApi();
    reseller = await resellerWithUsers(system, { owner: ['owner'], deputy: ['owner'], member: ['sales'], racer: ['user'], reused: ['user'] });
    other = await resellerWithUsers(system, { owner: ['owner'] });
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  const membersOf = (tenant: TestTenant, token: string) =>
    call(api.baseUrl, 'GET', `/api/v1/tenants/${tenant.id}/members`, { host: tenant.domain, token });

  it('rotates the refresh token on every use: each one works exactly once', async () => {
    const first = await signIn(api.baseUrl, reseller, 'member');
    const second = await refresh(api.baseUrl, first.refreshToken, reseller.domain);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ tokenType: 'Bearer', expiresIn: expect.any(Number), refreshExpiresIn: expect.any(Number) });
    expect(second.body.refreshToken).not.toBe(first.refreshToken);
    expect(second.body.accessToken).not.toBe(first.accessToken);
    expect((await me(api.baseUrl, second.body.accessToken, reseller.domain)).status).toBe(200);

    const third = await refresh(api.baseUrl, second.body.refreshToken, reseller.domain);
    expect(third.status).toBe(200);
    expectProblem(await refresh(api.baseUrl, second.body.refreshToken, reseller.domain), 401, 'refresh_token_reused');
  });

  it('revokes the whole family when a used refresh token comes back', async () => {
    const otherSession = await signIn(api.baseUrl, reseller, 'reused');
    const first = await signIn(api.baseUrl, reseller, 'reused');
    const second = (await refresh(api.baseUrl, first.refreshToken, reseller.domain)).body;
    const third = (await refresh(api.baseUrl, second.refreshToken, reseller.domain)).body;
    expect((await me(api.baseUrl, third.accessToken, reseller.domain)).status).toBe(200);

    // Someone replays the first (stolen) refresh token.
    expectProblem(await refresh(api.baseUrl, first.refreshToken, reseller.domain), 401, 'refresh_token_reused');

    // The legitimate holder's newest refresh token is dead too, and so is every access token of the session, at once.
    expectProblem(await refresh(api.baseUrl, third.refreshToken, reseller.domain), 401, 'invalid_refresh_token');
    for (const access of [first.accessToken, second.accessToken, third.accessToken]) {
      expectProblem(await me(api.baseUrl, access, reseller.domain), 401, 'token_revoked');
    }
    // Another session of the same user is untouched.
    expect((await me(api.baseUrl, otherSession.accessToken, reseller.domain)).status).toBe(200);
    expect((await refresh(api.baseUrl, otherSession.refreshToken, reseller.domain)).status).toBe(200);

    const owner = await signIn(api.baseUrl, reseller, 'owner');
    const entries = await auditLog(api.baseUrl, reseller, owner, { action: 'auth.refresh_token_reused' });
    expect(entries.length).toBeGreaterThanOrEqual(1);
    expect(entries[0]).toMatchObject({ tenantId: reseller.id, subjectType: 'Session' });
  });

  it('refuses malformed and unknown refresh tokens', async () => {
    for (const token of ['', 'garbage', `${reseller.id}.${'A'.repeat(43)}`, `${reseller.id}.short`]) {
      expectProblem(await refresh(api.baseUrl, token, reseller.domain), 401, 'invalid_refresh_token');
    }
    const host = reseller.domain;
    expectProblem(await call(api.baseUrl, 'POST', '/api/v1/auth/refresh', { host, json: {} }), 400, 'validation_failed');
    expectProblem(await call(api.baseUrl, 'POST', '/api/v1/auth/refresh', { host, json: { refreshToken: 42 } }), 400, 'validation_failed');
    const broken = await call(api.baseUrl, 'POST', '/api/v1/auth/refresh', { host, headers: { 'content-type': 'application/json' }, body: '{"refreshToken":' });
    expectProblem(broken, 400, 'malformed_request');
    const plain = await call(api.baseUrl, 'POST', '/api/v1/auth/refresh', { host, headers: { 'content-type': 'application/xml' }, body: '<token/>' });
    expectProblem(plain, 415, 'unsupported_media_type');
  });

  it('logs out at once: the access token is revoked and its refresh token dies', async () => {
    const kept = await signIn(api.baseUrl, reseller, 'member');
    const tokens = await signIn(api.baseUrl, reseller, 'member');
    const out = await call(api.baseUrl, 'POST', '/api/v1/auth/logout', { host: reseller.domain, token: tokens.accessToken });
    expect(out.status).toBe(204);
    expectProblem(await me(api.baseUrl, tokens.accessToken, reseller.domain), 401, 'token_revoked');
    expectProblem(await membersOf(reseller, tokens.accessToken), 401, 'token_revoked');
    expectProblem(await refresh(api.baseUrl, tokens.refreshToken, reseller.domain), 401, 'invalid_refresh_token');
    // Logging out twice with the same token is refused like any revoked token.
    expectProblem(await call(api.baseUrl, 'POST', '/api/v1/auth/logout', { host: reseller.domain, token: tokens.accessToken }), 401, 'token_revoked');
    // Only that session ended.
    expect((await me(api.baseUrl, kept.accessToken, reseller.domain)).status).toBe(200);
  });

  it('logout with a refresh token of another own session ends that one too', async () => {
    const phone = await signIn(api.baseUrl, reseller, 'member');
    const laptop = await signIn(api.baseUrl, reseller, 'member');
    const out = await call(api.baseUrl, 'POST', '/api/v1/auth/logout', {
      host: reseller.domain,
      token: laptop.accessToken,
      json: { refreshToken: phone.refreshToken },
    });
    expect(out.status).toBe(204);
    expectProblem(await refresh(api.baseUrl, phone.refreshToken, reseller.domain), 401, 'invalid_refresh_token');
    expectProblem(await refresh(api.baseUrl, laptop.refreshToken, reseller.domain), 401, 'invalid_refresh_token');
  });

  it('logout needs a valid access token', async () => {
    expectProblem(await call(api.baseUrl, 'POST', '/api/v1/auth/logout', { host: reseller.domain }), 401, 'invalid_token');
  });

  it("refuses a refresh token at another tenant's domain without spending it", async () => {
    const tokens = await signIn(api.baseUrl, reseller, 'member');
    expectProblem(await refresh(api.baseUrl, tokens.refreshToken, other.domain), 403, 'tenant_mismatch');
    expect((await refresh(api.baseUrl, tokens.refreshToken, reseller.domain)).status).toBe(200);
  });

  it('lets exactly one of two concurrent refreshes of one token succeed', async () => {
    for (let round = 0; round < 3; round++) {
      const tokens = await signIn(api.baseUrl, reseller, 'racer');
      const results = await Promise.all([
        refresh(api.baseUrl, tokens.refreshToken, reseller.domain),
        refresh(api.baseUrl, tokens.refreshToken, reseller.domain),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
      const loser = results.find((r) => r.status === 401)!;
      expectProblem(loser, 401, loser.body.code === 'refresh_token_reused' ? 'refresh_token_reused' : 'invalid_refresh_token');
    }
  });

  it('applies a removed role on the next request with the same token', async () => {
    const deputy = await signIn(api.baseUrl, reseller, 'deputy');
    expect((await membersOf(reseller, deputy.accessToken)).status).toBe(200);

    const owner = await signIn(api.baseUrl, reseller, 'owner');
    const demoted = await call(api.baseUrl, 'PUT', `/api/v1/tenants/${reseller.id}/members/${reseller.users.deputy.id}/roles`, {
      host: reseller.domain,
      token: owner.accessToken,
      json: { roles: ['user'] },
    });
    expect(demoted.status).toBe(200);
    expect(demoted.body.roles).toEqual(['user']);

    expectProblem(await membersOf(reseller, deputy.accessToken), 403, 'forbidden');
    const self = await me(api.baseUrl, deputy.accessToken, reseller.domain);
    expect(self.status).toBe(200);
    expect(self.body.roles).toEqual(['user']);
  });

  it('denies a disabled member on their next request and ends their sessions', async () => {
    const victim = await resellerWithUsers(system, { owner: ['owner'], gone: ['finance'] });
    const gone = await signIn(api.baseUrl, victim, 'gone');
    expect((await me(api.baseUrl, gone.accessToken, victim.domain)).status).toBe(200);
    const owner = await signIn(api.baseUrl, victim, 'owner');
    const disabled = await call(api.baseUrl, 'POST', `/api/v1/tenants/${victim.id}/members/${victim.users.gone.id}/disable`, {
      host: victim.domain,
      token: owner.accessToken,
    });
    expect(disabled.status).toBe(200);
    expect(disabled.body.status).toBe('disabled');
    const after = await me(api.baseUrl, gone.accessToken, victim.domain);
    expect(after.status).toBe(401);
    expect(['account_disabled', 'token_revoked']).toContain(after.body.code);
    expectProblem(after, 401, after.body.code);
    expectProblem(await refresh(api.baseUrl, gone.refreshToken, victim.domain), 401, 'invalid_refresh_token');
  });
});
