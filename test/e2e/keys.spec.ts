import { Client } from 'pg';
import { createHash } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { RunningApp, startTestApi } from '../support/app';
import { auditLog } from '../support/auth';
import { connectAs, uniqueSlug } from '../support/db';
import { call, HttpResult } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TestTenant, Tokens } from '../support/identity';
import { expectInvalidFields, expectProblem } from '../support/problem';
import { KeysRuntime, keySpendRedisKey } from '../../src/modules/keys/keys-runtime';
import { REDIS } from '@app/redis';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { scaled, waitUntil } from '../support/timing';

/**
 * API keys through the HTTP API, and the in-memory runtime the proxy resolves them with: secrets
 * shown once and stored only as hashes, every limit validated, rotation with a grace period,
 * propagation of revocation and disabling to a second api instance, and scoping by role.
 */
describe('API keys (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let api2: RunningApp;
  let runtime: KeysRuntime;
  let runtime2: KeysRuntime;
  let platform: TestTenant;
  let shop: TestTenant;
  let other: TestTenant;
  let model: string;
  const tokens: Record<string, Tokens> = {};

  const as = (tenant: TestTenant, who: string) => ({ host: tenant.domain, token: tokens[`${tenant.slug}:${who}`].accessToken });
  const keysApi = (tenant: TestTenant, who: string, base = () => api.baseUrl) => ({
    create: (json: unknown) => call(base(), 'POST', '/api/v1/keys', { ...as(tenant, who), json }),
    list: (query = '') => call(base(), 'GET', `/api/v1/keys${query}`, as(tenant, who)),
    get: (id: string) => call(base(), 'GET', `/api/v1/keys/${id}`, as(tenant, who)),
    update: (id: string, json: unknown) => call(base(), 'PATCH', `/api/v1/keys/${id}`, { ...as(tenant, who), json }),
    disable: (id: string) => call(base(), 'POST', `/api/v1/keys/${id}/disable`, as(tenant, who)),
    enable: (id: string) => call(base(), 'POST', `/api/v1/keys/${id}/enable`, as(tenant, who)),
    rotate: (id: string, json: unknown = {}) => call(base(), 'POST', `/api/v1/keys/${id}/rotate`, { ...as(tenant, who), json }),
    revoke: (id: string) => call(base(), 'DELETE', `/api/v1/keys/${id}`, as(tenant, who)),
  });

  /** Polls `condition`; `quietMs` is a quiet machine's deadline (scaled, see ../support/timing). */
  async function waitFor(condition: () => Promise<boolean>, quietMs: number): Promise<number> {
    const ms = scaled(quietMs);
    const start = Date.now();
    while (Date.now() - start < ms) {
      if (await condition()) return Date.now() - start;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`not within ${ms} ms`);
  }

  beforeAll(async () => {
    system = await connectAs('system');
    // A long TTL: propagation must come from the broadcast, not from expiry.
    api = await startTestApi({ KEY_CACHE_TTL_SECONDS: '600' });
    api2 = await startTestApi({ KEY_CACHE_TTL_SECONDS: '600' });
    runtime = api.app.get(KeysRuntime);
    runtime2 = api2.app.get(KeysRuntime);
    platform = await platformWithUsers(system, { owner: ['owner'], finance: ['finance'], tech: ['tech'], operator: ['operator'], pricing: ['finance'] });
    shop = await resellerWithUsers(system, { owner: ['owner'], finance: ['finance'], sales: ['sales'], sales2: ['sales'], alice: ['user'], bob: ['user'], carol: ['user'] });
    other = await resellerWithUsers(system, { owner: ['owner'], dave: ['user'] });
    for (const t of [platform, shop, other]) for (const who of Object.keys(t.users)) tokens[`${t.slug}:${who}`] = await signIn(api.baseUrl, t, who);
    model = uniqueSlug('km');
    const priced = await call(api.baseUrl, 'PUT', `/api/v1/pricing/${model}`, { ...as(platform, 'pricing'), json: { inputPerMillion: '1', outputPerMillion: '2' } });
    expect(priced.status).toBe(200);
    // carol is bound to `sales`; alice and bob are not.
    await system.query(`INSERT INTO customer_bindings (tenant_id, customer_id, sales_user_id) VALUES ($1, $2, $3)`, [shop.id, shop.users.carol.id, shop.users.sales.id]);
  });

  afterAll(async () => {
    await api2?.close();
    await api?.close();
    await system?.end();
  });

  describe('secrets', () => {
    let created: HttpResult;

    beforeAll(async () => {
      created = await keysApi(shop, 'alice').create({ name: 'laptop', spendLimit: '25.5', rpmLimit: 60, ipAllowlist: ['203.0.113.0/24', '2001:db8::/32'], allowedModels: [model] });
    });

    it('returns the secret once, stores only its SHA-256 and prefix, and shows it nowhere again', async () => {
      expect(created.status).toBe(201);
      const { secret, id } = created.body;
      expect(secret).toMatch(/^sk-[0-9A-Za-z]{43}$/);
      expect(created.body).toMatchObject({ customerId: shop.users.alice.id, name: 'laptop', prefix: secret.slice(0, 9), spendLimit: '25.5', spent: '0', status: 'active', ipAllowlist: ['203.0.113.0/24', '2001:db8::/32'] });
      const { rows } = await system.query(`SELECT secret_hash, prefix, row_to_json(k)::text AS everything FROM api_keys k WHERE id = $1`, [id]);
      expect(rows[0].secret_hash.equals(createHash('sha256').update(secret).digest())).toBe(true);
      expect(rows[0].everything).not.toContain(secret);
      expect(rows[0].everything).not.toContain(secret.slice(9));

      const reads = [
        await keysApi(shop, 'alice').get(id),
        await keysApi(shop, 'alice').list(),
        await keysApi(shop, 'owner').list(`?userId=${shop.users.alice.id}`),
        await keysApi(shop, 'alice').update(id, { name: 'laptop 2' }),
        await keysApi(shop, 'alice').disable(id),
        await keysApi(shop, 'alice').enable(id),
      ];
      for (const res of reads) {
        expect(res.status).toBe(200);
        expect(res.text).not.toContain(secret.slice(9));
        expect(res.text).not.toMatch(/"secret"|secretHash|secret_hash/);
      }
      const audit = await auditLog(api.baseUrl, shop, tokens[`${shop.slug}:owner`], { subjectId: id });
      expect(audit.map((e) => e.action).sort()).toEqual(['api_key.created', 'api_key.disabled', 'api_key.enabled', 'api_key.updated']);
      expect(JSON.stringify(audit)).not.toContain(secret.slice(9));
      const { rows: raw } = await system.query(`SELECT changes::text AS c FROM audit_log WHERE subject_id = $1`, [id]);
      for (const r of raw) expect(r.c).not.toMatch(/secret|hash/i);
    });

    it('resolves a key by the hash of its secret from memory, only at its own tenant', async () => {
      const key = (await runtime.resolve(created.body.secret, shop.id))!;
      expect(key).toMatchObject({ id: created.body.id, tenantId: shop.id, customerId: shop.users.alice.id, rpmLimit: 60, spendLimitUnits: 25_500_000_000n, status: 'active' });
      expect(runtime.check(key, { clientIp: '203.0.113.9', model })).toBeNull();
      expect(runtime.check(key, { clientIp: '2001:db8::1', model })).toBeNull();
      expect(runtime.check(key, { clientIp: '198.51.100.1', model })).toBe('ip_not_allowed');
      expect(runtime.check(key, { clientIp: '203.0.113.9', model: 'other-model' })).toBe('model_not_allowed');
      expect(await runtime.resolveHash(createHash('sha256').update(created.body.secret).digest('hex'), shop.id)).toBe(key);
      // At another reseller's domain the key does not exist (looked up under that tenant's RLS scope).
      expect(await runtime.resolve(created.body.secret, other.id)).toBeNull();
      expect(await runtime.resolve(`sk-${'x'.repeat(43)}`, shop.id)).toBeNull();
    });

    it('resolves a known key with no PostgreSQL query', async () => {
      await runtime.resolve(created.body.secret, shop.id);
      const dataSource = api.app.get(DataSource);
      const spies = [jest.spyOn(dataSource, 'query'), jest.spyOn(dataSource, 'transaction'), jest.spyOn(dataSource, 'createQueryRunner')];
      try {
        for (let i = 0; i < 100; i++) expect((await runtime.resolve(created.body.secret, shop.id))?.id).toBe(created.body.id);
        expect(spies.map((s) => s.mock.calls.length)).toEqual([0, 0, 0]);
        // An unknown hash goes to PostgreSQL once, then is cached briefly as unknown.
        await runtime.resolve(`sk-${'y'.repeat(43)}`, shop.id);
        await runtime.resolve(`sk-${'y'.repeat(43)}`, shop.id);
        expect(spies[1].mock.calls.length).toBe(1);
      } finally {
        spies.forEach((s) => s.mockRestore());
      }
    });
  });

  it('validates every limit field, naming each, and creates nothing', async () => {
    const before = (await system.query(`SELECT count(*)::int AS n FROM api_keys WHERE tenant_id = $1`, [shop.id])).rows[0].n;
    const bad = await keysApi(shop, 'owner').create({
      name: '',
      customerId: 'nope',
      allowedModels: ['bad model!'],
      rpmLimit: 0,
      tpmLimit: 1.5,
      spendLimit: '1.0000000001',
      expiresAt: 'tomorrow',
      ipAllowlist: ['10.0.0.0/33', '2001:db8::/32'],
    });
    expectInvalidFields(bad, ['name', 'customerId', 'allowedModels', 'rpmLimit', 'tpmLimit', 'spendLimit', 'expiresAt', 'ipAllowlist'], true);
    const owner = keysApi(shop, 'owner');
    const alice = shop.users.alice.id;
    expectInvalidFields(await owner.create({ name: 'x', customerId: alice, spendLimit: 5 }), ['spendLimit'], true);
    expectInvalidFields(await owner.create({ name: 'x', customerId: alice, spendLimit: '-1' }), ['spendLimit'], true);
    expectInvalidFields(await owner.create({ name: 'x', customerId: alice, ipAllowlist: ['10.1.2.3/24'] }), ['ipAllowlist'], true);
    expectInvalidFields(await owner.create({ name: 'x', customerId: alice, ipAllowlist: 'any' }), ['ipAllowlist']);
    expectInvalidFields(await owner.create({ name: 'x', customerId: alice, expiresAt: new Date(Date.now() - 1000).toISOString() }), ['expiresAt'], true);
    expectInvalidFields(await owner.create({ name: 'x', customerId: alice, tenantId: other.id }), ['tenantId']);
    const unknownModel = await owner.create({ name: 'x', customerId: alice, allowedModels: [model, 'no-such-model-anywhere'] });
    expectProblem(unknownModel, 422, 'unknown_model');
    expect(unknownModel.body.errors[0].field).toBe('allowedModels');
    expectProblem(await owner.create({ name: 'x', customerId: other.users.dave.id }), 422, 'unknown_customer');
    expectProblem(await owner.create({ name: 'x', customerId: shop.users.sales.id }), 422, 'unknown_customer');
    const after = (await system.query(`SELECT count(*)::int AS n FROM api_keys WHERE tenant_id = $1`, [shop.id])).rows[0].n;
    expect(after).toBe(before);

    const ok = await owner.create({ name: 'limits', customerId: alice, tpmLimit: 100000, spendLimit: '0.000000001', expiresAt: new Date(Date.now() + 3600_000).toISOString(), ipAllowlist: ['192.0.2.7', '::1'] });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ tpmLimit: 100000, spendLimit: '0.000000001', ipAllowlist: ['192.0.2.7/32', '::1/128'] });
    const cleared = await owner.update(ok.body.id, { spendLimit: null, ipAllowlist: null, tpmLimit: null, allowedModels: [model] });
    expect(cleared.body).toMatchObject({ spendLimit: null, ipAllowlist: null, tpmLimit: null, allowedModels: [model], expiresAt: ok.body.expiresAt });
    expectInvalidFields(await owner.update(ok.body.id, { rpmLimit: -5 }), ['rpmLimit'], true);
  });

  it('shows the spend so far from Redis', async () => {
    const key = await keysApi(shop, 'owner').create({ name: 'spend', customerId: shop.users.bob.id, spendLimit: '10' });
    const redis = api.app.get<Redis>(REDIS);
    await redis.set(keySpendRedisKey(shop.id, key.body.id), '1500000001');
    expect((await keysApi(shop, 'owner').get(key.body.id)).body).toMatchObject({ spent: '1.500000001', spendLimit: '10' });
  });

  it('keeps an old secret working during the rotation grace period and refuses it after', async () => {
    const bob = keysApi(shop, 'bob');
    const key = await bob.create({ name: 'rotating' });
    const old = key.body.secret;
    expect((await runtime.resolve(old, shop.id))?.id).toBe(key.body.id);
    const rotated = await bob.rotate(key.body.id, { gracePeriodSeconds: 1 });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^sk-/);
    expect(rotated.body.secret).not.toBe(old);
    expect(rotated.body.prefix).toBe(rotated.body.secret.slice(0, 9));
    const fresh = (await runtime2.resolve(rotated.body.secret, shop.id))!;
    expect(runtime2.check(fresh, {})).toBeNull();
    const during = (await runtime2.resolve(old, shop.id))!;
    expect(during.id).toBe(key.body.id);
    expect(runtime2.check(during, {})).toBeNull();
    await waitUntil(async () => runtime2.check((await runtime2.resolve(old, shop.id))!, {}) === 'rotated', { what: 'the grace second to end', timeoutMs: 3000 });
    expect(runtime2.check((await runtime2.resolve(rotated.body.secret, shop.id))!, {})).toBeNull();

    expectInvalidFields(await bob.rotate(key.body.id, { gracePeriodSeconds: 7 * 24 * 3600 + 1 }), ['gracePeriodSeconds'], true);
    const defaultGrace = await bob.rotate(key.body.id, {});
    const graceMs = new Date(defaultGrace.body.previousSecretExpiresAt).getTime() - Date.now();
    expect(graceMs).toBeGreaterThan(3590_000);
    expect(graceMs).toBeLessThanOrEqual(3600_000);

    expect((await bob.revoke(key.body.id)).body).toMatchObject({ status: 'revoked', previousSecretExpiresAt: null });
    expectProblem(await bob.rotate(key.body.id, {}), 409, 'api_key_revoked');
    expectProblem(await bob.enable(key.body.id), 409, 'api_key_revoked');
    expect(runtime.check((await runtime.resolve(defaultGrace.body.secret, shop.id))!, {})).toBe('revoked');
    // The grace secret of a revoked key is not even found.
    expect(await runtime.resolve(rotated.body.secret, shop.id)).toBeNull();
    const audit = await auditLog(api.baseUrl, shop, tokens[`${shop.slug}:owner`], { subjectId: key.body.id });
    expect(audit.map((e) => e.action)).toEqual(['api_key.revoked', 'api_key.rotated', 'api_key.rotated', 'api_key.created']);
    expect(JSON.stringify(audit)).not.toContain(rotated.body.secret.slice(9));
  });

  describe('propagation to a second api instance', () => {
    const refusedOn2 = (secret: string, reason: string) => async () => {
      const key = await runtime2.resolve(secret, shop.id);
      return key !== null && runtime2.check(key, {}) === reason;
    };

    it('sees revocation within 5 seconds', async () => {
      const key = await keysApi(shop, 'owner').create({ name: 'revoke me', customerId: shop.users.bob.id });
      expect(runtime2.check((await runtime2.resolve(key.body.secret, shop.id))!, {})).toBeNull();
      await keysApi(shop, 'owner').revoke(key.body.id);
      expect(await waitFor(refusedOn2(key.body.secret, 'revoked'), 5000)).toBeLessThan(scaled(5000));
    });

    it('sees disabling and enabling within 5 seconds', async () => {
      const key = await keysApi(shop, 'owner').create({ name: 'disable me', customerId: shop.users.bob.id });
      expect(runtime2.check((await runtime2.resolve(key.body.secret, shop.id))!, {})).toBeNull();
      await keysApi(shop, 'owner').disable(key.body.id);
      await waitFor(refusedOn2(key.body.secret, 'disabled'), 5000);
      await keysApi(shop, 'owner').enable(key.body.id);
      await waitFor(async () => runtime2.check((await runtime2.resolve(key.body.secret, shop.id))!, {}) === null, 5000);
    });

    it('sees a disabled owner and a disabled tenant within 5 seconds', async () => {
      const t = await resellerWithUsers(system, { owner: ['owner'], erin: ['user'] });
      tokens[`${t.slug}:owner`] = await signIn(api.baseUrl, t, 'owner');
      tokens[`${t.slug}:erin`] = await signIn(api.baseUrl, t, 'erin');
      const key = await keysApi(t, 'erin').create({ name: 'mine' });
      const check2 = async () => runtime2.check((await runtime2.resolve(key.body.secret, t.id))!, {});
      expect(await check2()).toBeNull();
      const disabled = await call(api.baseUrl, 'POST', `/api/v1/tenants/${t.id}/members/${t.users.erin.id}/disable`, as(t, 'owner'));
      expect(disabled.status).toBe(200);
      await waitFor(async () => (await check2()) === 'customer_disabled', 5000);
      await call(api.baseUrl, 'POST', `/api/v1/tenants/${t.id}/members/${t.users.erin.id}/enable`, as(t, 'owner'));
      await waitFor(async () => (await check2()) === null, 5000);
      // The same through the customers API.
      expect((await call(api.baseUrl, 'POST', `/api/v1/customers/${t.users.erin.id}/disable`, as(t, 'owner'))).status).toBe(200);
      await waitFor(async () => (await check2()) === 'customer_disabled', 5000);
      expect((await call(api.baseUrl, 'POST', `/api/v1/customers/${t.users.erin.id}/enable`, as(t, 'owner'))).status).toBe(200);
      await waitFor(async () => (await check2()) === null, 5000);
      const off = await call(api.baseUrl, 'POST', `/api/v1/tenants/${t.id}/disable`, as(platform, 'operator'));
      expect(off.status).toBe(200);
      await waitFor(async () => (await check2()) === 'tenant_disabled', 5000);
    });

    it('refuses an expired key at once, with no broadcast', async () => {
      const key = await keysApi(shop, 'owner').create({ name: 'short', customerId: shop.users.bob.id, expiresAt: new Date(Date.now() + 800).toISOString() });
      const resolved = (await runtime2.resolve(key.body.secret, shop.id))!;
      expect(runtime2.check(resolved, {})).toBeNull();
      expect(runtime2.check(resolved, { now: Date.now() + 1000 })).toBe('expired');
    });
  });

  describe('scoping', () => {
    let aliceKey: string;
    let carolKey: string;
    let bobKey: string;

    beforeAll(async () => {
      aliceKey = (await keysApi(shop, 'owner').create({ name: 'a', customerId: shop.users.alice.id })).body.id;
      bobKey = (await keysApi(shop, 'bob').create({ name: 'b' })).body.id;
      carolKey = (await keysApi(shop, 'owner').create({ name: 'c', customerId: shop.users.carol.id })).body.id;
    });

    it('lets a user manage only their own keys', async () => {
      const bob = keysApi(shop, 'bob');
      const mine = await bob.list();
      expect(new Set(mine.body.items.map((k: { customerId: string }) => k.customerId))).toEqual(new Set([shop.users.bob.id]));
      expect(mine.body.total).toBe(mine.body.items.length);
      for (const res of [await bob.get(aliceKey), await bob.disable(aliceKey), await bob.revoke(aliceKey), await bob.rotate(aliceKey), await bob.update(aliceKey, { name: 'x' })]) {
        expectProblem(res, 404, 'not_found');
      }
      expectProblem(await bob.create({ name: 'for alice', customerId: shop.users.alice.id }), 422, 'unknown_customer');
      expect((await keysApi(shop, 'alice').list(`?userId=${shop.users.bob.id}`)).body.items).toEqual([]);
    });

    it('lets sales manage the keys of their bound customers only', async () => {
      const sales = keysApi(shop, 'sales');
      const listed = await sales.list();
      expect(listed.status).toBe(200);
      expect(new Set(listed.body.items.map((k: { customerId: string }) => k.customerId))).toEqual(new Set([shop.users.carol.id]));
      expect((await sales.get(carolKey)).status).toBe(200);
      expect((await sales.update(carolKey, { rpmLimit: 10 })).status).toBe(200);
      expectProblem(await sales.get(aliceKey), 404, 'not_found');
      expectProblem(await sales.disable(aliceKey), 404, 'not_found');
      expect((await sales.create({ name: 'for carol', customerId: shop.users.carol.id })).status).toBe(201);
      expectProblem(await sales.create({ name: 'for alice', customerId: shop.users.alice.id }), 422, 'unknown_customer');
      expect((await keysApi(shop, 'sales2').list()).body.items).toEqual([]);
      // Reassigned: gone from the old salesperson's view on the very next request.
      await system.query(`UPDATE customer_bindings SET unbound_at = now() WHERE customer_id = $1 AND unbound_at IS NULL`, [shop.users.carol.id]);
      await system.query(`INSERT INTO customer_bindings (tenant_id, customer_id, sales_user_id) VALUES ($1, $2, $3)`, [shop.id, shop.users.carol.id, shop.users.sales2.id]);
      expectProblem(await sales.get(carolKey), 404, 'not_found');
      expect((await keysApi(shop, 'sales2').get(carolKey)).status).toBe(200);
    });

    it('lets owners manage every key of their tenant, finance none, and nobody another tenant\'s', async () => {
      const owner = keysApi(shop, 'owner');
      const all = await owner.list('?pageSize=100');
      expect(all.body.items.map((k: { id: string }) => k.id)).toEqual(expect.arrayContaining([aliceKey, bobKey, carolKey]));
      expect(new Set(all.body.items.map((k: { tenantId: string }) => k.tenantId))).toEqual(new Set([shop.id]));
      expect((await owner.disable(bobKey)).status).toBe(200);
      expectProblem(await keysApi(shop, 'finance').list(), 403, 'forbidden');
      expectProblem(await keysApi(shop, 'finance').get(aliceKey), 403, 'forbidden');
      expectProblem(await keysApi(other, 'owner').get(aliceKey), 404, 'not_found');
      expect((await keysApi(other, 'owner').list()).body.items).toEqual([]);
      // Platform staff manage the platform's keys, not a reseller's.
      expectProblem(await keysApi(platform, 'owner').get(aliceKey), 404, 'not_found');
      expectProblem(await keysApi(platform, 'tech').revoke(aliceKey), 404, 'not_found');
      expectProblem(await keysApi(platform, 'finance').list(), 403, 'forbidden');
    });

    it('lets platform owner, operator and tech manage the platform tenant\'s keys', async () => {
      const p = await platformWithUsers(system, { frank: ['user'] });
      const key = await keysApi(platform, 'tech').create({ name: 'platform customer', customerId: p.users.frank.id });
      expect(key.status).toBe(201);
      expect((await keysApi(platform, 'operator').disable(key.body.id)).status).toBe(200);
      expect((await keysApi(platform, 'owner').revoke(key.body.id)).status).toBe(200);
    });

    it('hides keys of other tenants even with CASL allowing everything (RLS)', async () => {
      const { ALL_PERMISSIONS } = await import('../../src/modules/permissions');
      const permissions = ALL_PERMISSIONS as unknown as Array<(p: unknown, r: { can: (...a: unknown[]) => void }) => void>;
      const allowAll = (_p: unknown, { can }: { can: (...a: unknown[]) => void }) => can('manage', 'all');
      permissions.push(allowAll);
      try {
        expectProblem(await keysApi(other, 'owner').get(aliceKey), 404, 'not_found');
        expect((await keysApi(other, 'owner').list('?pageSize=100')).body.items.every((k: { tenantId: string }) => k.tenantId === other.id)).toBe(true);
      } finally {
        permissions.splice(permissions.indexOf(allowAll), 1);
      }
    });
  });

  it('never finds a key whose id is not a UUID', async () => {
    expectProblem(await keysApi(shop, 'owner').get('123'), 404, 'not_found');
    expectProblem(await keysApi(shop, 'owner').get(uuidv7()), 404, 'not_found');
  });
});
