import { Client } from 'pg';
import { RunningApp } from '../support/app';
import { login, tokenInMail } from '../support/auth';
import { connectAs } from '../support/db';
import { call, HttpResult } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TEST_PASSWORD, TestTenant } from '../support/identity';
import { MailSink } from '../support/mail';
import { MailStack, startMailStack } from '../support/mail-stack';
import { expectProblem } from '../support/problem';
import { utcDay } from '../support/statements';
import { ledgerInvariants, usageEvent } from '../support/usage';
import { UsageWriter } from '../../src/modules/metering/usage-writer';
import { StatementCloser } from '../../src/modules/settlement/statement-closer.service';
import { createHash } from 'node:crypto';

const NEW_PASSWORD = 'Lantern-Meadow-Quartz-58';

/**
 * Self sign-up (issue 25): closed unless the owner opens it, optionally limited to domains; the
 * answer is the same for known and unknown addresses; verification activates and credits the
 * bonus exactly once; per-tenant isolation. Personal data: export and erasure that leaves the
 * ledger, usage and statements as they were.
 */
describe('self sign-up and personal data (e2e)', () => {
  let system: Client;
  let stack: MailStack;
  let sink: MailSink;
  let api: RunningApp;
  let shop: TestTenant;
  let other: TestTenant;
  let ipCounter = 0;

  beforeAll(async () => {
    system = await connectAs('system');
    stack = await startMailStack({ TRUST_PROXY: 'true', SIGN_UP_MAX_PER_ADDRESS_HOUR: '3', SIGN_UP_MAX_PER_IP_HOUR: '4' });
    ({ sink, api } = stack);
    shop = await resellerWithUsers(system, { owner: ['owner'], finance: ['finance'], known: ['user'], paying: ['user'] });
    other = await resellerWithUsers(system, { owner: ['owner'] });
    await platformWithUsers(system, {}); // metering posts the wholesale leg to the platform
  });

  afterAll(async () => {
    await stack?.close();
    await system?.end();
  });

  /** Every call from its own client address unless told, so the per-IP limit is tested on purpose only. */
  const freshIp = () => `198.51.100.${(ipCounter++ % 250) + 1}`;
  const register = (json: Record<string, unknown>, host = shop.domain, ip = freshIp()): Promise<HttpResult> =>
    call(api.baseUrl, 'POST', '/api/v1/auth/register', { host, json, headers: { 'x-forwarded-for': ip } });
  const verify = (token: string, host = shop.domain) => call(api.baseUrl, 'POST', '/api/v1/auth/verify-email', { host, json: { token } });
  const settings = (tenant: TestTenant, token: string, json: Record<string, unknown>) =>
    call(api.baseUrl, 'PUT', '/api/v1/identity-settings', { host: tenant.domain, token, json });
  const newAddress = (name: string, domain = 'example.com') => `${name}.${Math.random().toString(36).slice(2, 8)}@${domain}`;

  async function verificationToken(email: string): Promise<string> {
    const mail = await sink.waitFor((m) => m.to.includes(email) && /verify-email\?token=/.test(m.text), 15000);
    return tokenInMail(mail.text);
  }

  it('is closed by default, and only the owner opens it', async () => {
    expectProblem(await register({ email: newAddress('early'), password: NEW_PASSWORD }), 403, 'sign_up_closed');
    expect((await call(api.baseUrl, 'GET', '/api/v1/site', { host: shop.domain })).body.signUp).toEqual({ open: false, domains: [] });

    const finance = await signIn(api.baseUrl, shop, 'finance');
    expectProblem(await settings(shop, finance.accessToken, { signUpEnabled: true }), 403, 'forbidden');
    const owner = await signIn(api.baseUrl, shop, 'owner');
    const saved = await settings(shop, owner.accessToken, { signUpEnabled: true, signUpBonus: '5.25' });
    expect(saved.status).toBe(200);
    expect(saved.body).toMatchObject({ signUpEnabled: true, signUpDomains: [], signUpBonus: '5.250000000', requireStaffTwoFactor: false });
    expect((await call(api.baseUrl, 'GET', '/api/v1/site', { host: shop.domain })).body.signUp).toEqual({ open: true, domains: [] });
    // The other reseller stays closed.
    expectProblem(await register({ email: newAddress('elsewhere'), password: NEW_PASSWORD }, other.domain), 403, 'sign_up_closed');
    expect((await call(api.baseUrl, 'GET', '/api/v1/site', { host: other.domain })).body.signUp.open).toBe(false);
  });

  it('signs up, verifies, credits the bonus once even when the link is opened twice at once, and signs in', async () => {
    const email = newAddress('newbie');
    const res = await register({ email, password: NEW_PASSWORD, displayName: 'New Bie' });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ status: 'verification_sent', message: expect.any(String) });
    // Pending: cannot sign in yet.
    expectProblem(await login(api.baseUrl, { host: shop.domain, email, password: NEW_PASSWORD }), 401, 'account_disabled');

    const token = await verificationToken(email);
    const [a, b] = await Promise.all([verify(token), verify(token)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body).toEqual({ status: 'verified', email, bonus: '5.250000000' });
    expect(b.body).toEqual(a.body);
    const third = await verify(token);
    expect(third.body).toEqual(a.body);

    const user = (await system.query(`SELECT id, status, email_verified_at FROM users WHERE tenant_id = $1 AND email = $2`, [shop.id, email])).rows[0];
    expect(user.status).toBe('active');
    expect(user.email_verified_at).not.toBeNull();
    const credits = await system.query(`SELECT amount::text FROM ledger_transactions WHERE tenant_id = $1 AND customer_id = $2`, [shop.id, user.id]);
    expect(credits.rows).toEqual([{ amount: '5.250000000' }]);
    expect(await ledgerInvariants(system)).toEqual({ unbalanced: 0, mismatched: 0 });

    const signedIn = await login(api.baseUrl, { host: shop.domain, email, password: NEW_PASSWORD });
    expect(signedIn.status).toBe(200);
    const balance = await call(api.baseUrl, 'GET', '/api/v1/me/balance', { host: shop.domain, token: signedIn.body.accessToken });
    expect(balance.body.balance).toBe('5.250000000');
    // The account belongs to this reseller only.
    expectProblem(await login(api.baseUrl, { host: other.domain, email, password: NEW_PASSWORD }), 401, 'invalid_credentials');
    // And its link means nothing at another reseller's domain.
    expectProblem(await verify(token, other.domain), 403, 'tenant_mismatch');
  });

  it('answers a known address exactly like a new one (status, body, timing class), mailing its owner instead', async () => {
    const known = shop.users.known.email;
    const fresh = newAddress('fresh');
    const knownRes = await register({ email: known, password: NEW_PASSWORD });
    const freshRes = await register({ email: fresh, password: NEW_PASSWORD });
    expect(knownRes.status).toBe(freshRes.status);
    expect(knownRes.text).toBe(freshRes.text);
    const notice = await sink.waitFor((m) => m.to.includes(known), 15000);
    expect(notice.text).toMatch(/already has one/);
    expect(notice.text).not.toMatch(/token=/);
    // The known account is untouched: its password still works, the new one does not.
    expect((await login(api.baseUrl, { host: shop.domain, email: known, password: TEST_PASSWORD })).status).toBe(200);

    // Timing class: both hash the password and write one mail; medians within a factor of three.
    const timed = async (email: string) => {
      const started = process.hrtime.bigint();
      const r = await register({ email, password: NEW_PASSWORD });
      expect(r.status).toBe(202);
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    const knownTimes: number[] = [];
    const freshTimes: number[] = [];
    for (let i = 0; i < 3; i++) {
      // Distinct known addresses (the per-address limit) against distinct new ones.
      const k = await resellerUser(`known${i}`);
      knownTimes.push(await timed(k));
      freshTimes.push(await timed(newAddress(`fresh${i}`)));
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[1];
    const ratio = median(knownTimes) / median(freshTimes);
    expect(ratio).toBeGreaterThan(1 / 3);
    expect(ratio).toBeLessThan(3);
  });

  async function resellerUser(name: string): Promise<string> {
    const t = await resellerWithUsersInto(shop, name);
    return t;
  }

  async function resellerWithUsersInto(tenant: TestTenant, name: string): Promise<string> {
    const email = newAddress(name, tenant.domain);
    await system.query(
      `INSERT INTO users (id, tenant_id, email, password_hash, status) SELECT gen_random_uuid(), $1, $2, password_hash, 'active' FROM users WHERE id = $3`,
      [tenant.id, email, tenant.users.known.id],
    );
    return email;
  }

  it('limits sign-ups per address and per IP, without telling known from unknown', async () => {
    const email = newAddress('eager');
    for (let i = 0; i < 3; i++) expect((await register({ email, password: NEW_PASSWORD })).status).toBe(202);
    const limited = await register({ email: email.toUpperCase(), password: NEW_PASSWORD });
    expectProblem(limited, 429, 'sign_up_rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);

    const ip = '203.0.113.99';
    for (let i = 0; i < 4; i++) expect((await register({ email: newAddress(`burst${i}`), password: NEW_PASSWORD }, shop.domain, ip)).status).toBe(202);
    expectProblem(await register({ email: newAddress('burst-over'), password: NEW_PASSWORD }, shop.domain, ip), 429, 'sign_up_rate_limited');
    expectProblem(await register({ email: shop.users.known.email, password: NEW_PASSWORD }, shop.domain, ip), 429, 'sign_up_rate_limited');
  });

  it('checks the password and the allowed domains before anything else', async () => {
    expectProblem(await register({ email: newAddress('weak'), password: 'short' }), 400, 'weak_password');
    const owner = await signIn(api.baseUrl, shop, 'owner');
    expect((await settings(shop, owner.accessToken, { signUpDomains: ['Partner.Example'] })).body.signUpDomains).toEqual(['partner.example']);
    expectProblem(await register({ email: newAddress('outsider'), password: NEW_PASSWORD }), 400, 'sign_up_domain_not_allowed');
    expect((await register({ email: newAddress('insider', 'partner.example'), password: NEW_PASSWORD })).status).toBe(202);
    expect((await call(api.baseUrl, 'GET', '/api/v1/site', { host: shop.domain })).body.signUp).toEqual({ open: true, domains: ['partner.example'] });
    await settings(shop, owner.accessToken, { signUpDomains: [] });
  });

  describe('personal data', () => {
    it('exports profile, keys without secrets, usage and transactions', async () => {
      const paying = await signIn(api.baseUrl, shop, 'paying');
      const key = await call(api.baseUrl, 'POST', '/api/v1/keys', { host: shop.domain, token: paying.accessToken, json: { name: 'laptop' } });
      expect(key.status).toBe(201);
      const secret: string = key.body.secret;
      const owner = await signIn(api.baseUrl, shop, 'owner');
      expect((await call(api.baseUrl, 'POST', `/api/v1/customers/${shop.users.paying.id}/credits`, { host: shop.domain, token: owner.accessToken, json: { amount: '10', note: 'gift', reference: 'gift-1' } })).status).toBe(200);
      const event = usageEvent({ tenantId: shop.id, customerId: shop.users.paying.id, apiKeyId: key.body.id, retailUnits: '2000000', wholesaleUnits: '1000000' });
      await stack.worker.app.get(UsageWriter, { strict: false }).write(shop.id, [event]);

      const res = await call(api.baseUrl, 'GET', '/api/v1/me/export', { host: shop.domain, token: paying.accessToken });
      expect(res.status).toBe(200);
      expect(res.body.profile).toMatchObject({ id: shop.users.paying.id, email: shop.users.paying.email, roles: ['user'], twoFactorEnabled: false });
      expect(res.body.apiKeys).toEqual([expect.objectContaining({ id: key.body.id, name: 'laptop' })]);
      expect(res.body.usage).toEqual([expect.objectContaining({ requestId: event.requestId, charge: '0.002000000', clientIp: '203.0.113.7' })]);
      expect(res.body.transactions.map((t: { amount: string }) => t.amount)).toEqual(['10.000000000', '-0.002000000']);
      expect(res.body.balance).toBe('9.998000000');
      expect(res.body.sessions.length).toBeGreaterThanOrEqual(1);
      // No secret in it: neither the key nor any hash of it, nor the password hash.
      const text = res.text;
      expect(text).not.toContain(secret);
      expect(text).not.toContain(createHash('sha256').update(secret).digest('hex'));
      expect(text).not.toMatch(/argon2|secret_hash|password/i);
      // Another reseller's token is refused here.
      const mallory = await signIn(api.baseUrl, other, 'owner');
      expectProblem(await call(api.baseUrl, 'GET', '/api/v1/me/export', { host: shop.domain, token: mallory.accessToken }), 403, 'tenant_mismatch');
    });

    it('deletion pseudonymises the person, ends sign-in and keys, and leaves the ledger, usage and statements as they were', async () => {
      await system.query(`UPDATE tenants SET created_at = now() - interval '5 days' WHERE id = $1`, [shop.id]);
      const customer = shop.users.paying;
      const yesterday = utcDay(1);
      const event = usageEvent({ tenantId: shop.id, customerId: customer.id, retailUnits: '3000000', wholesaleUnits: '1000000', createdAt: yesterday.getTime() + 3600_000 });
      await stack.worker.app.get(UsageWriter, { strict: false }).write(shop.id, [event]);
      const closer = stack.worker.app.get(StatementCloser, { strict: false });
      const statement = await closer.closePeriod(shop.id, yesterday, 'day');
      const snapshot = async () => ({
        statement: (await system.query(`SELECT * FROM statements WHERE id = $1`, [statement.id])).rows[0],
        lines: (await system.query(`SELECT * FROM statement_lines WHERE statement_id = $1 ORDER BY kind, model`, [statement.id])).rows,
        usage: (await system.query(`SELECT request_id, retail_charge::text, wholesale_cost::text FROM usage_records WHERE tenant_id = $1 AND customer_id = $2 ORDER BY request_id`, [shop.id, customer.id])).rows,
        accounts: (await system.query(`SELECT id, balance::text FROM ledger_accounts WHERE tenant_id = $1 ORDER BY id`, [shop.id])).rows,
        transactions: (await system.query(`SELECT count(*)::int AS n FROM ledger_transactions WHERE tenant_id = $1`, [shop.id])).rows[0].n,
      });
      const before = await snapshot();
      expect(before.usage.length).toBeGreaterThanOrEqual(2);

      const paying = await signIn(api.baseUrl, shop, 'paying');
      const keys = await call(api.baseUrl, 'GET', '/api/v1/keys', { host: shop.domain, token: paying.accessToken });
      expect(keys.body.items.length).toBeGreaterThanOrEqual(1);
      expectProblem(await call(api.baseUrl, 'POST', '/api/v1/me/deletion', { host: shop.domain, token: paying.accessToken, json: { password: 'Not-The-Password-1' } }), 400, 'wrong_password');
      const deleted = await call(api.baseUrl, 'POST', '/api/v1/me/deletion', { host: shop.domain, token: paying.accessToken, json: { password: TEST_PASSWORD } });
      expect(deleted.status).toBe(200);
      expect(deleted.body).toMatchObject({ id: customer.id, keysRevoked: keys.body.items.length });

      const row = (await system.query(`SELECT email, display_name, password_hash, status, deleted_at FROM users WHERE id = $1`, [customer.id])).rows[0];
      expect(row).toMatchObject({ email: `deleted-${customer.id}@deleted.invalid`, display_name: null, password_hash: null, status: 'disabled' });
      expect(row.deleted_at).not.toBeNull();
      expect(await snapshot()).toEqual(before);
      expect(await ledgerInvariants(system)).toEqual({ unbalanced: 0, mismatched: 0 });

      // Signed out, cannot sign in, keys refused.
      expectProblem(await call(api.baseUrl, 'GET', '/api/v1/me', { host: shop.domain, token: paying.accessToken }), 401, 'token_revoked');
      expectProblem(await login(api.baseUrl, { host: shop.domain, email: customer.email, password: TEST_PASSWORD }), 401, 'invalid_credentials');
      const keyRows = await system.query(`SELECT status FROM api_keys WHERE customer_id = $1`, [customer.id]);
      expect(keyRows.rows.every((k: { status: string }) => k.status === 'revoked')).toBe(true);
      // The owner cannot bring it back.
      const owner = await signIn(api.baseUrl, shop, 'owner');
      expectProblem(await call(api.baseUrl, 'POST', `/api/v1/customers/${customer.id}/enable`, { host: shop.domain, token: owner.accessToken }), 409, 'conflict');
    });

    it('the owner erases a customer on request; nobody else, and never across resellers', async () => {
      const email = await resellerWithUsersInto(shop, 'leaving');
      const id = (await system.query(`SELECT id FROM users WHERE email = $1`, [email])).rows[0].id;
      await system.query(`INSERT INTO user_roles (tenant_id, user_id, role) VALUES ($1, $2, 'user')`, [shop.id, id]);
      const finance = await signIn(api.baseUrl, shop, 'finance');
      expectProblem(await call(api.baseUrl, 'DELETE', `/api/v1/customers/${id}/personal-data`, { host: shop.domain, token: finance.accessToken }), 403, 'forbidden');
      const otherOwner = await signIn(api.baseUrl, other, 'owner');
      expectProblem(await call(api.baseUrl, 'DELETE', `/api/v1/customers/${id}/personal-data`, { host: other.domain, token: otherOwner.accessToken }), 404, 'not_found');
      const owner = await signIn(api.baseUrl, shop, 'owner');
      // Staff are not erased here.
      expectProblem(await call(api.baseUrl, 'DELETE', `/api/v1/customers/${shop.users.finance.id}/personal-data`, { host: shop.domain, token: owner.accessToken }), 404, 'not_found');
      const res = await call(api.baseUrl, 'DELETE', `/api/v1/customers/${id}/personal-data`, { host: shop.domain, token: owner.accessToken });
      expect(res.status).toBe(200);
      expectProblem(await call(api.baseUrl, 'DELETE', `/api/v1/customers/${id}/personal-data`, { host: shop.domain, token: owner.accessToken }), 409, 'account_deleted');
      // The address is free to sign up again as a new account.
      expect((await register({ email, password: NEW_PASSWORD })).status).toBe(202);
      await verificationToken(email);
    });
  });
});
