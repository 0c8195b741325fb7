import { Client } from 'pg';
import { generate } from 'otplib';
import { RunningApp, startTestApi } from '../support/app';
import { login } from '../support/auth';
import { connectAs } from '../support/db';
import { call, HttpResult } from '../support/http';
import { resellerWithUsers, signIn, TEST_PASSWORD, TestTenant } from '../support/identity';
import { expectProblem } from '../support/problem';
import { isolatedRedisUrl } from '../support/redis';

const MAX_FAILURES = 3;

/**
 * TOTP two-factor (issue 25): enrol with a QR code and confirm, sign in in two steps, codes work
 * once, recovery codes work once, wrong codes lock like wrong passwords, disable with a code, and
 * an owner can require it of all staff.
 */
describe('two-factor sign-in (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let shop: TestTenant;
  let other: TestTenant;

  beforeAll(async () => {
    system = await connectAs('system');
    api = await startTestApi({ LOGIN_MAX_FAILURES: String(MAX_FAILURES), LOGIN_SLOWDOWN_MS: '1', REDIS_URL: await isolatedRedisUrl() });
    shop = await resellerWithUsers(system, { alice: ['user'], bob: ['user'], carol: ['user'], owner: ['owner'], sam: ['sales'] });
    other = await resellerWithUsers(system, { owner: ['owner'] });
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  const as = (token: string) => ({ host: shop.domain, token });
  const post = (path: string, token: string, json?: unknown) => call(api.baseUrl, 'POST', path, { ...as(token), json: json ?? {} });
  const secondStep = (json: Record<string, unknown>, host = shop.domain): Promise<HttpResult> =>
    call(api.baseUrl, 'POST', '/api/v1/auth/login/second-factor', { host, json });
  /** A code of the next time step, so it was not used by the step before (codes work once). */
  const codeAt = (secret: string, offsetSteps = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSteps * 30 });

  async function enrol(user: string): Promise<{ secret: string; recoveryCodes: string[] }> {
    const tokens = await signIn(api.baseUrl, shop, user);
    const started = await post('/api/v1/me/two-factor/enrolment', tokens.accessToken);
    expect(started.status).toBe(200);
    expect(started.body.qrCodeDataUrl).toMatch(/^data:image\/png;base64,/);
    expect(started.body.otpauthUrl).toContain(`secret=${started.body.secret}`);
    const stored = (await system.query(`SELECT totp_secret_sealed, totp_enabled_at FROM users WHERE id = $1`, [shop.users[user].id])).rows[0];
    expect(stored.totp_secret_sealed).not.toContain(started.body.secret);
    expect(stored.totp_enabled_at).toBeNull();
    const confirmed = await post('/api/v1/me/two-factor/confirm', tokens.accessToken, { code: await codeAt(started.body.secret) });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.recoveryCodes).toHaveLength(10);
    return { secret: started.body.secret, recoveryCodes: confirmed.body.recoveryCodes };
  }

  async function passwordStep(user: string, tenant = shop): Promise<string> {
    const res = await login(api.baseUrl, { host: tenant.domain, email: tenant.users[user].email, password: TEST_PASSWORD });
    expectProblem(res, 401, 'second_factor_required');
    expect(res.body.challenge).toEqual(expect.any(String));
    expect(res.body.accessToken).toBeUndefined();
    return res.body.challenge;
  }

  it('enrols, then signs in with a second step; a code works once', async () => {
    const { secret } = await enrol('alice');
    const status = await call(api.baseUrl, 'GET', '/api/v1/me/two-factor', as((await (async () => {
      const challenge = await passwordStep('alice');
      const done = await secondStep({ challenge, code: await codeAt(secret, 1) });
      expect(done.status).toBe(200);
      expect(done.body.accessToken).toEqual(expect.any(String));
      // The challenge is spent, and so is that code.
      expectProblem(await secondStep({ challenge, code: await codeAt(secret, 1) }), 400, 'invalid_one_time_token');
      const again = await passwordStep('alice');
      expectProblem(await secondStep({ challenge: again, code: await codeAt(secret, 1) }), 401, 'invalid_second_factor');
      return done.body.accessToken as string;
    })())));
    expect(status.body).toMatchObject({ enabled: true, pending: false, recoveryCodesLeft: 10, required: false });
    // The challenge means nothing at another reseller's domain.
    const challenge = await passwordStep('alice');
    expectProblem(await secondStep({ challenge, code: await codeAt(secret, 2) }, other.domain), 403, 'tenant_mismatch');
  });

  it('locks after wrong codes like wrong passwords, and the password alone does not reset the count', async () => {
    const { secret } = await enrol('bob');
    let challenge = await passwordStep('bob');
    let locked: HttpResult | null = null;
    for (let i = 0; i < MAX_FAILURES + 1 && !locked; i++) {
      const res = await secondStep({ challenge, code: '000000' });
      if (res.status === 429) locked = res;
      else {
        expectProblem(res, 401, 'invalid_second_factor');
        if (i === 1) challenge = await passwordStep('bob'); // a fresh password step does not reset it
      }
    }
    expect(locked).not.toBeNull();
    expectProblem(locked!, 429, 'login_locked');
    // The right code is refused while locked, and so is the password step.
    expectProblem(await secondStep({ challenge, code: await codeAt(secret, 1) }), 429, 'login_locked');
    expectProblem(await login(api.baseUrl, { host: shop.domain, email: shop.users.bob.email, password: TEST_PASSWORD }), 429, 'login_locked');
  });

  it('a recovery code signs in once; disabling needs a code', async () => {
    const { secret, recoveryCodes } = await enrol('carol');
    const challenge = await passwordStep('carol');
    const done = await secondStep({ challenge, recoveryCode: recoveryCodes[0].toUpperCase() });
    expect(done.status).toBe(200);
    const again = await passwordStep('carol');
    expectProblem(await secondStep({ challenge: again, recoveryCode: recoveryCodes[0] }), 401, 'invalid_second_factor');
    const stored = await system.query(`SELECT code_hash FROM user_recovery_codes WHERE user_id = $1`, [shop.users.carol.id]);
    expect(stored.rows).toHaveLength(10);
    expect(stored.rows.some((r: { code_hash: Buffer }) => r.code_hash.toString('utf8').includes(recoveryCodes[1]))).toBe(false);

    const token = done.body.accessToken;
    expect((await call(api.baseUrl, 'GET', '/api/v1/me/two-factor', as(token))).body.recoveryCodesLeft).toBe(9);
    expectProblem(await post('/api/v1/me/two-factor/disable', token, { code: '000000' }), 401, 'invalid_second_factor');
    expect((await post('/api/v1/me/two-factor/disable', token, { code: await codeAt(secret, 1) })).status).toBe(204);
    // Password alone signs in again.
    expect((await login(api.baseUrl, { host: shop.domain, email: shop.users.carol.email, password: TEST_PASSWORD })).status).toBe(200);
  });

  it('an owner can require it of staff: until they enrol, staff can do nothing else; customers are not affected', async () => {
    const owner = await signIn(api.baseUrl, shop, 'owner');
    const put = await call(api.baseUrl, 'PUT', '/api/v1/identity-settings', { ...as(owner.accessToken), json: { requireStaffTwoFactor: true } });
    expect(put.status).toBe(200);
    const sam = await signIn(api.baseUrl, shop, 'sam');
    expectProblem(await call(api.baseUrl, 'GET', '/api/v1/customers', as(sam.accessToken)), 403, 'two_factor_enrolment_required');
    expect((await call(api.baseUrl, 'GET', '/api/v1/me', as(sam.accessToken))).status).toBe(200);
    expect((await call(api.baseUrl, 'GET', '/api/v1/me/two-factor', as(sam.accessToken))).body).toMatchObject({ enabled: false, required: true });
    const { secret } = await enrol('sam');
    const challenge = await passwordStep('sam');
    const done = await secondStep({ challenge, code: await codeAt(secret, 1) });
    expect((await call(api.baseUrl, 'GET', '/api/v1/customers', as(done.body.accessToken))).status).toBe(200);
    expectProblem(await post('/api/v1/me/two-factor/disable', done.body.accessToken, { code: await codeAt(secret, 2) }), 409, 'two_factor_required_by_tenant');
    // A customer of the same tenant signs in with the password alone.
    expect((await login(api.baseUrl, { host: shop.domain, email: shop.users.alice.email, password: TEST_PASSWORD })).status).toBe(401); // alice has two-factor on
    // The other reseller's staff are not affected.
    expect((await call(api.baseUrl, 'GET', '/api/v1/customers', { host: other.domain, token: (await signIn(api.baseUrl, other, 'owner')).accessToken })).status).toBe(200);
  });
});
