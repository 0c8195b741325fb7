import { Client } from 'pg';
import { RunningApp, startTestApi } from '../support/app';
import { auditLog, login } from '../support/auth';
import { connectAs } from '../support/db';
import { HttpResult } from '../support/http';
import { resellerWithUsers, TEST_PASSWORD, TestTenant } from '../support/identity';
import { expectProblem } from '../support/problem';
import { isolatedRedisUrl } from '../support/redis';
import { scaled } from '../support/timing';

const MAX_FAILURES = 3;
const WRONG = 'Wrong-Password-123!';

/** A client address of each test's own (the api trusts X-Forwarded-For here), so locks don't leak between tests. */
let lastOctet = 0;
const newIp = () => `198.51.100.${++lastOctet}`;

/**
 * Brute-force protection on sign-in: failures are slowed down and then locked per account and per
 * client IP, the lock is audited, and a failure never tells whether the e-mail exists.
 */
describe('sign-in brute-force protection (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let reseller: TestTenant;

  const attempt = (user: string, password: string, ip: string): Promise<HttpResult> =>
    login(api.baseUrl, { host: reseller.domain, email: reseller.users[user].email, password, ip });

  beforeAll(async () => {
    system = await connectAs('system');
    api = await startTestApi({
      LOGIN_MAX_FAILURES: String(MAX_FAILURES),
      LOGIN_SLOWDOWN_MS: '1',
      TRUST_PROXY: 'true',
      REDIS_URL: await isolatedRedisUrl(),
    });
    reseller = await resellerWithUsers(system, {
      owner: ['owner'],
      victim: ['sales'],
      resetter: ['user'],
      a: ['user'],
      b: ['user'],
      c: ['user'],
      d: ['user'],
      bystander: ['user'],
    });
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  it('locks an account after the allowed failures, even against the right password, and audits it', async () => {
    const ip = newIp();
    for (let i = 0; i < MAX_FAILURES; i++) expectProblem(await attempt('victim', WRONG, ip), 401, 'invalid_credentials');

    const locked = await attempt('victim', WRONG, ip);
    expectProblem(locked, 429, 'login_locked');
    const retryAfter = Number(locked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(api.config.LOGIN_LOCK_SECONDS);

    expectProblem(await attempt('victim', TEST_PASSWORD, ip), 429, 'login_locked');
    // The account is locked, not just this address.
    expectProblem(await attempt('victim', TEST_PASSWORD, newIp()), 429, 'login_locked');
    // Others of the tenant still sign in.
    const owner = await attempt('owner', TEST_PASSWORD, newIp());
    expect(owner.status).toBe(200);

    const entries = await auditLog(api.baseUrl, reseller, owner.body, { action: 'auth.account_locked' });
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      tenantId: reseller.id,
      action: 'auth.account_locked',
      subjectType: 'Member',
      subjectId: reseller.users.victim.id,
      actorUserId: null,
      ip,
    });
    expect(entries[0].changes.email.to).toBe(reseller.users.victim.email);
    expect(JSON.stringify(entries[0])).not.toContain(WRONG);
  });

  it('forgets earlier failures after a successful sign-in', async () => {
    const ip = newIp();
    for (let i = 0; i < MAX_FAILURES; i++) expect((await attempt('resetter', WRONG, ip)).status).toBe(401);
    expect((await attempt('resetter', TEST_PASSWORD, ip)).status).toBe(200);
    for (let i = 0; i < MAX_FAILURES; i++) expectProblem(await attempt('resetter', WRONG, ip), 401, 'invalid_credentials');
    expect((await attempt('resetter', TEST_PASSWORD, ip)).status).toBe(200);
  });

  it('locks a client address that fails across many accounts', async () => {
    const ip = newIp();
    const accounts = ['a', 'b', 'c', 'd'];
    // Each account stays under its own limit; the address reaches four times that.
    for (const user of accounts) {
      for (let i = 0; i < MAX_FAILURES; i++) expectProblem(await attempt(user, WRONG, ip), 401, 'invalid_credentials');
    }
    const locked = await login(api.baseUrl, { host: reseller.domain, email: `nobody-${lastOctet}@example.test`, password: WRONG, ip });
    expectProblem(locked, 429, 'login_locked');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    // From that address nobody signs in now, not even with the right password...
    expectProblem(await attempt('bystander', TEST_PASSWORD, ip), 429, 'login_locked');
    // ...while the same accounts still can from elsewhere.
    expect((await attempt('a', TEST_PASSWORD, newIp())).status).toBe(200);

    const owner = (await attempt('owner', TEST_PASSWORD, newIp())).body;
    const entries = await auditLog(api.baseUrl, reseller, owner, { action: 'auth.ip_locked' });
    expect(entries.some((e) => e.ip === ip && e.subjectType === 'ClientIp')).toBe(true);
  });

  it('answers an unknown e-mail exactly like a wrong password', async () => {
    const ip = newIp();
    const wrongPassword = await attempt('owner', WRONG, ip);
    const unknownEmail = await login(api.baseUrl, { host: reseller.domain, email: `ghost@${reseller.domain}`, password: WRONG, ip });
    // At the tenant's domain, a slug that names no tenant (sign-in is only ever at a tenant's domain).
    const unknownTenant = await login(api.baseUrl, { host: reseller.domain, email: reseller.users.owner.email, password: WRONG, tenant: 'no-such-tenant-xyz', ip });
    for (const res of [wrongPassword, unknownEmail, unknownTenant]) expectProblem(res, 401, 'invalid_credentials');
    const shape = (res: HttpResult) => ({ status: res.status, code: res.body.code, title: res.body.title, detail: res.body.detail });
    expect(shape(unknownEmail)).toEqual(shape(wrongPassword));
    expect(shape(unknownTenant)).toEqual(shape(wrongPassword));
    expect(Object.keys(unknownEmail.body).sort()).toEqual(Object.keys(wrongPassword.body).sort());
  });

  it('unlocks the account once the lock has expired', async () => {
    const shortLocks = await startTestApi({
      LOGIN_MAX_FAILURES: String(MAX_FAILURES),
      LOGIN_SLOWDOWN_MS: '1',
      LOGIN_LOCK_SECONDS: '10',
      TRUST_PROXY: 'true',
      REDIS_URL: api.config.REDIS_URL,
    });
    try {
      const tenant = await resellerWithUsers(system, { patient: ['user'] });
      const ip = newIp();
      const tryAs = (password: string) => login(shortLocks.baseUrl, { host: tenant.domain, email: tenant.users.patient.email, password, ip });
      for (let i = 0; i < MAX_FAILURES; i++) expect((await tryAs(WRONG)).status).toBe(401);
      const locked = await tryAs(WRONG);
      expectProblem(locked, 429, 'login_locked');
      const retryAfter = Number(locked.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(10);
      expectProblem(await tryAs(TEST_PASSWORD), 429, 'login_locked');
      await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000 + 300));
      expect((await tryAs(TEST_PASSWORD)).status).toBe(200);
    } finally {
      await shortLocks.close();
    }
  }, scaled(20000));
});
