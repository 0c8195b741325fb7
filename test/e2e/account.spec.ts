import { Client } from 'pg';
import { RunningApp, startTestApi } from '../support/app';
import { login, me, refresh } from '../support/auth';
import { connectAs } from '../support/db';
import { call } from '../support/http';
import { resellerWithUsers, signIn, TEST_PASSWORD, TestTenant } from '../support/identity';
import { expectInvalidFields, expectProblem } from '../support/problem';
import { isolatedRedisUrl } from '../support/redis';

const MAX_FAILURES = 3;
const NEW_PASSWORD = 'Brand-New-Passphrase-77';

/**
 * The portal's own-account routes (issue 20): profile, password change and sessions. Each user
 * reaches only their own account, and only at their own tenant's domain.
 */
describe('own account: profile, password, sessions (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let shop: TestTenant;
  let other: TestTenant;

  beforeAll(async () => {
    system = await connectAs('system');
    api = await startTestApi({ LOGIN_MAX_FAILURES: String(MAX_FAILURES), LOGIN_SLOWDOWN_MS: '1', REDIS_URL: await isolatedRedisUrl() });
    shop = await resellerWithUsers(system, { alice: ['user'], bob: ['user'], carol: ['user'], dora: ['user'], erin: ['finance'] });
    other = await resellerWithUsers(system, { mallory: ['owner'] });
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  const as = (tenant: TestTenant, token: string) => ({ host: tenant.domain, token });

  describe('PATCH /api/v1/me', () => {
    it('changes your own display name and language, shown by /me and audited', async () => {
      const alice = await signIn(api.baseUrl, shop, 'alice');
      const res = await call(api.baseUrl, 'PATCH', '/api/v1/me', { ...as(shop, alice.accessToken), json: { displayName: '  Alice L. ', preferredLanguage: 'zh-CN' } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ id: shop.users.alice.id, email: shop.users.alice.email, displayName: 'Alice L.', preferredLanguage: 'zh-CN' });
      const who = await me(api.baseUrl, alice.accessToken, shop.domain);
      expect(who.body.user).toMatchObject({ displayName: 'Alice L.', preferredLanguage: 'zh-CN' });

      // Absent fields stay; null clears.
      const cleared = await call(api.baseUrl, 'PATCH', '/api/v1/me', { ...as(shop, alice.accessToken), json: { preferredLanguage: null } });
      expect(cleared.body).toMatchObject({ displayName: 'Alice L.', preferredLanguage: null });

      // Bob's account is untouched.
      const bob = await signIn(api.baseUrl, shop, 'bob');
      expect((await me(api.baseUrl, bob.accessToken, shop.domain)).body.user.displayName).not.toBe('Alice L.');

      const audited = await system.query(`SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1 AND action = 'member.profile_updated' AND subject_id = $2`, [shop.id, shop.users.alice.id]);
      expect(audited.rows[0].n).toBe(2);
    });

    it('refuses bad values and unknown fields', async () => {
      const alice = await signIn(api.baseUrl, shop, 'alice');
      const patch = (json: unknown) => call(api.baseUrl, 'PATCH', '/api/v1/me', { ...as(shop, alice.accessToken), json });
      expectInvalidFields(await patch({ preferredLanguage: 'fr' }), ['preferredLanguage']);
      expectInvalidFields(await patch({ displayName: '   ' }), ['displayName']);
      expectInvalidFields(await patch({ displayName: 'x'.repeat(201) }), ['displayName']);
      expectProblem(await patch({ email: 'new@example.com' }), 400, 'validation_failed');
      expectProblem(await call(api.baseUrl, 'PATCH', '/api/v1/me', { host: shop.domain, json: { displayName: 'x' } }), 401, 'invalid_token');
    });

    it("refuses another tenant's token at this tenant's domain", async () => {
      const mallory = await signIn(api.baseUrl, other, 'mallory');
      expectProblem(await call(api.baseUrl, 'PATCH', '/api/v1/me', { ...as(shop, mallory.accessToken), json: { displayName: 'x' } }), 403, 'tenant_mismatch');
      expectProblem(await call(api.baseUrl, 'GET', '/api/v1/me/sessions', as(shop, mallory.accessToken)), 403, 'tenant_mismatch');
      expectProblem(
        await call(api.baseUrl, 'POST', '/api/v1/me/password', { ...as(shop, mallory.accessToken), json: { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD } }),
        403,
        'tenant_mismatch',
      );
    });
  });

  describe('POST /api/v1/me/password', () => {
    it('changes the password, keeps this session and ends the others', async () => {
      const here = await signIn(api.baseUrl, shop, 'bob');
      const elsewhere = await signIn(api.baseUrl, shop, 'bob');
      const live = (await call(api.baseUrl, 'GET', '/api/v1/me/sessions', as(shop, here.accessToken))).body.items.length;
      expect(live).toBeGreaterThanOrEqual(2);
      const res = await call(api.baseUrl, 'POST', '/api/v1/me/password', { ...as(shop, here.accessToken), json: { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ sessionsEnded: live - 1 });
      expect((await call(api.baseUrl, 'GET', '/api/v1/me/sessions', as(shop, here.accessToken))).body.items).toHaveLength(1);

      expect((await me(api.baseUrl, here.accessToken, shop.domain)).status).toBe(200);
      expect((await refresh(api.baseUrl, here.refreshToken, shop.domain)).status).toBe(200);
      expectProblem(await me(api.baseUrl, elsewhere.accessToken, shop.domain), 401, 'token_revoked');
      expectProblem(await refresh(api.baseUrl, elsewhere.refreshToken, shop.domain), 401, 'invalid_refresh_token');

      expectProblem(await login(api.baseUrl, { host: shop.domain, email: shop.users.bob.email, password: TEST_PASSWORD }), 401, 'invalid_credentials');
      expect((await login(api.baseUrl, { host: shop.domain, email: shop.users.bob.email, password: NEW_PASSWORD })).status).toBe(200);
      const audited = await system.query(`SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1 AND action = 'auth.password_changed' AND subject_id = $2`, [shop.id, shop.users.bob.id]);
      expect(audited.rows[0].n).toBe(1);
    });

    it('checks the new password against the policy and changes nothing when it is weak', async () => {
      const carol = await signIn(api.baseUrl, shop, 'carol');
      const weak = await call(api.baseUrl, 'POST', '/api/v1/me/password', { ...as(shop, carol.accessToken), json: { currentPassword: TEST_PASSWORD, newPassword: 'short' } });
      expectProblem(weak, 400, 'weak_password');
      expect((await login(api.baseUrl, { host: shop.domain, email: shop.users.carol.email, password: TEST_PASSWORD })).status).toBe(200);
      expectInvalidFields(await call(api.baseUrl, 'POST', '/api/v1/me/password', { ...as(shop, carol.accessToken), json: { newPassword: NEW_PASSWORD } }), ['currentPassword']);
    });

    it('counts a wrong current password toward the sign-in lock', async () => {
      const dora = await signIn(api.baseUrl, shop, 'dora');
      const change = (currentPassword: string) =>
        call(api.baseUrl, 'POST', '/api/v1/me/password', { ...as(shop, dora.accessToken), json: { currentPassword, newPassword: NEW_PASSWORD } });
      const wrong = await change('Not-The-Password-1');
      expectProblem(wrong, 400, 'wrong_password');
      expect(wrong.body.errors).toEqual([{ field: 'currentPassword', messages: ['the current password is wrong'] }]);
      let locked = false;
      for (let i = 1; i <= MAX_FAILURES && !locked; i++) {
        const res = await change('Not-The-Password-1');
        locked = res.status === 429;
        if (locked) expectProblem(res, 429, 'login_locked');
        else expectProblem(res, 400, 'wrong_password');
      }
      expect(locked).toBe(true);
      // The account is locked for sign-in too, and for the right current password here.
      expectProblem(await login(api.baseUrl, { host: shop.domain, email: shop.users.dora.email, password: TEST_PASSWORD }), 429, 'login_locked');
      expectProblem(await change(TEST_PASSWORD), 429, 'login_locked');
    });
  });

  describe('sessions', () => {
    it('lists your live sessions, marks the current one, and ends one at once', async () => {
      const first = await signIn(api.baseUrl, shop, 'erin');
      const second = await signIn(api.baseUrl, shop, 'erin');
      const list = await call(api.baseUrl, 'GET', '/api/v1/me/sessions', as(shop, second.accessToken));
      expect(list.status).toBe(200);
      expect(list.body.items.length).toBeGreaterThanOrEqual(2);
      const current = list.body.items.filter((s: { current: boolean }) => s.current);
      expect(current).toHaveLength(1);
      expect(current[0]).toMatchObject({ id: expect.any(String), startedAt: expect.any(String), lastActiveAt: expect.any(String), expiresAt: expect.any(String) });
      const firstId = list.body.items.find((s: { current: boolean }) => !s.current).id;

      // Another customer's list holds none of these.
      const alice = await signIn(api.baseUrl, shop, 'alice');
      const alices = await call(api.baseUrl, 'GET', '/api/v1/me/sessions', as(shop, alice.accessToken));
      expect(alices.body.items.map((s: { id: string }) => s.id)).not.toContain(firstId);
      // ...and cannot end them.
      expectProblem(await call(api.baseUrl, 'DELETE', `/api/v1/me/sessions/${firstId}`, as(shop, alice.accessToken)), 404, 'not_found');
      expect((await me(api.baseUrl, first.accessToken, shop.domain)).status).toBe(200);

      const ended = await call(api.baseUrl, 'DELETE', `/api/v1/me/sessions/${firstId}`, as(shop, second.accessToken));
      expect(ended.status).toBe(204);
      expectProblem(await me(api.baseUrl, first.accessToken, shop.domain), 401, 'token_revoked');
      expectProblem(await refresh(api.baseUrl, first.refreshToken, shop.domain), 401, 'invalid_refresh_token');
      expect((await me(api.baseUrl, second.accessToken, shop.domain)).status).toBe(200);
      const after = await call(api.baseUrl, 'GET', '/api/v1/me/sessions', as(shop, second.accessToken));
      expect(after.body.items.map((s: { id: string }) => s.id)).not.toContain(firstId);
      // Ended already: not found.
      expectProblem(await call(api.baseUrl, 'DELETE', `/api/v1/me/sessions/${firstId}`, as(shop, second.accessToken)), 404, 'not_found');
      expectProblem(await call(api.baseUrl, 'DELETE', `/api/v1/me/sessions/not-a-uuid`, as(shop, second.accessToken)), 404, 'not_found');
    });
  });
});
