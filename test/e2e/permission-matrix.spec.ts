import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { connectAs, uniqueSlug } from '../support/db';
import { call, HttpResult } from '../support/http';
import { platformWithUsers, resellerWithUsers, RoleName, signIn, TEST_PASSWORD, TestTenant, TestUser } from '../support/identity';
import { RunningApp, startTestApi } from '../support/app';
import { PermissionDefinition } from '@app/authorization';
import { ALL_PERMISSIONS } from '../../src/modules/permissions';

/**
 * DESIGN.md's permission matrix as one table, for the capabilities that exist in this wave
 * (tenant settings, members, role assignment, audit log, reseller management, customers and
 * their bindings, usage). Every role of both
 * tenant types is tried on every capability: allowed gets 2xx, forbidden gets 403, and an object
 * of another tenant gets 404 wherever the caller holds the capability (its existence is not
 * revealed). Users with several roles get the union.
 */

type Capability =
  | 'tenant.read'
  | 'tenant.update'
  | 'domains.read'
  | 'domains.create'
  | 'members.list'
  | 'members.invite'
  | 'members.disable'
  | 'roles.assign'
  | 'audit.read'
  | 'resellers.create'
  | 'resellers.disable'
  | 'customers.list'
  | 'customers.create'
  | 'customers.update'
  | 'customers.bind'
  | 'usage.read'
  | 'usage.records'
  | 'usage.requestLogs'
  | 'channels.read'
  | 'channels.create';

const CAPABILITIES: Capability[] = [
  'tenant.read',
  'tenant.update',
  'domains.read',
  'domains.create',
  'members.list',
  'members.invite',
  'members.disable',
  'roles.assign',
  'audit.read',
  'resellers.create',
  'resellers.disable',
  'customers.list',
  'customers.create',
  'customers.update',
  'customers.bind',
  'usage.read',
  'usage.records',
  'usage.requestLogs',
  'channels.read',
  'channels.create',
];
const PLATFORM_ONLY = (c: Capability) => c.startsWith('resellers.') || c.startsWith('channels.') || c === 'usage.requestLogs';

/** Customers invite/manage: owner, operator, sales (bound only); list: also finance, read-only; usage: all but tech. */
const SALES_CAPABILITIES: Capability[] = ['customers.list', 'customers.create', 'customers.update', 'usage.read', 'usage.records'];

/** What each role may do, straight from the matrix (tenant settings and members: owner, operator; ...). */
const ALLOWED: Record<'platform' | 'reseller', Partial<Record<RoleName, Capability[]>>> = {
  platform: {
    owner: [...CAPABILITIES],
    operator: CAPABILITIES.filter((c) => c !== 'roles.assign' && c !== 'audit.read' && c !== 'usage.requestLogs' && !c.startsWith('channels.')),
    sales: SALES_CAPABILITIES,
    // Platform finance reads the customer list read-only: for the platform, resellers are customers.
    finance: ['tenant.read', 'customers.list', 'usage.read', 'usage.records'],
    // Monitoring and logs: platform owner and tech. Tech also reads (and verifies) its tenant's domains (issue 28).
    tech: ['audit.read', 'usage.requestLogs', 'channels.read', 'channels.create', 'domains.read'],
    user: ['usage.read', 'usage.records'],
  },
  reseller: {
    owner: CAPABILITIES.filter((c) => !PLATFORM_ONLY(c)),
    sales: SALES_CAPABILITIES,
    finance: ['customers.list', 'usage.read', 'usage.records'],
    user: ['usage.read', 'usage.records'],
  },
};

const SUCCESS: Record<Capability, number> = {
  'tenant.read': 200,
  'tenant.update': 200,
  'domains.read': 200,
  'domains.create': 201,
  'members.list': 200,
  'members.invite': 201,
  'members.disable': 200,
  'roles.assign': 200,
  'audit.read': 200,
  'resellers.create': 201,
  'resellers.disable': 200,
  'customers.list': 200,
  'customers.create': 201,
  'customers.update': 200,
  'customers.bind': 200,
  'usage.read': 200,
  'usage.records': 200,
  'usage.requestLogs': 200,
  'channels.read': 200,
  'channels.create': 201,
};

/** Capabilities that act on the caller's own tenant only (no object of another tenant to address). */
const OWN_TENANT_ONLY: Capability[] = ['customers.list', 'customers.create', 'usage.read', 'usage.records', 'usage.requestLogs'];

describe('permission matrix (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let platform: TestTenant;
  let resellerA: TestTenant;
  let resellerB: TestTenant;
  const tokens = new Map<string, string>();

  async function victim(tenant: TestTenant): Promise<string> {
    const id = uuidv7();
    await system.query(`INSERT INTO users (id, tenant_id, email, status) VALUES ($1, $2, $3, 'active')`, [id, tenant.id, `victim.${id.slice(-12)}@${tenant.domain}`]);
    await system.query(`INSERT INTO user_roles (tenant_id, user_id, role) VALUES ($1, $2, 'user')`, [tenant.id, id]);
    return id;
  }

  /** A customer of `tenant`, bound to `salesUserId` when given (a salesperson acts on their own customers). */
  async function customer(tenant: TestTenant, salesUserId?: string): Promise<string> {
    const id = await victim(tenant);
    if (salesUserId) await system.query(`INSERT INTO customer_bindings (tenant_id, customer_id, sales_user_id) VALUES ($1, $2, $3)`, [tenant.id, id, salesUserId]);
    return id;
  }

  async function salesperson(tenant: TestTenant): Promise<string> {
    const id = uuidv7();
    await system.query(`INSERT INTO users (id, tenant_id, email, status) VALUES ($1, $2, $3, 'active')`, [id, tenant.id, `seller.${id.slice(-12)}@${tenant.domain}`]);
    await system.query(`INSERT INTO user_roles (tenant_id, user_id, role) VALUES ($1, $2, 'sales')`, [tenant.id, id]);
    return id;
  }

  async function freshReseller(): Promise<string> {
    const id = uuidv7();
    await system.query(`INSERT INTO tenants (id, type, slug, name) VALUES ($1, 'reseller', $2, 'Target')`, [id, uniqueSlug('target')]);
    return id;
  }

  /** Performs one capability as `token` (at `host`) against the objects of `target`. */
  async function perform(capability: Capability, host: TestTenant, token: string, target: TestTenant, caller?: TestUser): Promise<HttpResult> {
    const as = { host: host.domain, token };
    const ownSales = caller?.roles.includes('sales') && target === host ? caller.id : undefined;
    const base = `/api/v1/tenants/${target.id}`;
    switch (capability) {
      case 'tenant.read':
        return call(api.baseUrl, 'GET', base, as);
      case 'tenant.update':
        return call(api.baseUrl, 'PATCH', base, { ...as, json: { name: `Renamed ${uniqueSlug()}` } });
      case 'domains.read':
        return call(api.baseUrl, 'GET', `${base}/domains`, as);
      case 'domains.create':
        return call(api.baseUrl, 'POST', `${base}/domains`, { ...as, json: { domain: `${uniqueSlug('d')}.extra.localhost` } });
      case 'members.list':
        return call(api.baseUrl, 'GET', `${base}/members`, as);
      case 'members.invite':
        return call(api.baseUrl, 'POST', `${base}/members`, { ...as, json: { email: `${uniqueSlug('inv')}@example.test`, roles: ['user'] } });
      case 'members.disable':
        return call(api.baseUrl, 'POST', `${base}/members/${await victim(target)}/disable`, as);
      case 'roles.assign':
        return call(api.baseUrl, 'PUT', `${base}/members/${await victim(target)}/roles`, { ...as, json: { roles: ['user', 'finance'] } });
      case 'audit.read':
        return call(api.baseUrl, 'GET', target === host ? '/api/v1/audit-log' : `/api/v1/audit-log?tenantId=${target.id}`, as);
      case 'resellers.create':
        return call(api.baseUrl, 'POST', '/api/v1/tenants', { ...as, json: { slug: uniqueSlug('new'), name: 'New reseller' } });
      case 'resellers.disable':
        return call(api.baseUrl, 'POST', `/api/v1/tenants/${await freshReseller()}/disable`, as);
      case 'customers.list':
        return call(api.baseUrl, 'GET', '/api/v1/customers', as);
      case 'customers.create':
        return call(api.baseUrl, 'POST', '/api/v1/customers', { ...as, json: { email: `${uniqueSlug('cust')}@example.test` } });
      case 'customers.update':
        return call(api.baseUrl, 'PATCH', `/api/v1/customers/${await customer(target, ownSales)}`, { ...as, json: { displayName: 'Renamed' } });
      case 'customers.bind':
        return call(api.baseUrl, 'PUT', `/api/v1/customers/${await customer(target)}/sales`, { ...as, json: { salesUserId: await salesperson(target) } });
      case 'usage.read':
        return call(api.baseUrl, 'GET', '/api/v1/usage/summary', as);
      case 'usage.records':
        return call(api.baseUrl, 'GET', '/api/v1/usage/records?requestId=matrix-lookup-1', as);
      case 'usage.requestLogs':
        return call(api.baseUrl, 'GET', '/api/v1/platform/usage/records?limit=1', as);
      case 'channels.read':
        return call(api.baseUrl, 'GET', '/api/v1/channels', as);
      case 'channels.create':
        // Platform-owned: there is no "another tenant's" channel; a refused port, so health checks fail fast.
        return call(api.baseUrl, 'POST', '/api/v1/channels', { ...as, json: { name: uniqueSlug('matrix'), provider: 'openai', baseUrl: 'http://127.0.0.1:9/v1', keys: ['sk-matrix-test-key-0000'] } });
    }
  }

  beforeAll(async () => {
    system = await connectAs('system');
    api = await startTestApi();
    platform = await platformWithUsers(system, {
      owner: ['owner'],
      operator: ['operator'],
      sales: ['sales'],
      finance: ['finance'],
      tech: ['tech'],
      user: ['user'],
      financeTech: ['finance', 'tech'],
    });
    resellerA = await resellerWithUsers(system, { owner: ['owner'], sales: ['sales'], finance: ['finance'], user: ['user'], salesFinance: ['sales', 'finance'] });
    resellerB = await resellerWithUsers(system, { owner: ['owner'] });
    for (const tenant of [platform, resellerA]) {
      for (const name of Object.keys(tenant.users)) tokens.set(`${tenant.type}:${name}`, (await signIn(api.baseUrl, tenant, name)).accessToken);
    }
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  const rows: Array<['platform' | 'reseller', RoleName, Capability]> = [];
  for (const type of ['platform', 'reseller'] as const) {
    for (const role of Object.keys(ALLOWED[type]) as RoleName[]) for (const capability of CAPABILITIES) rows.push([type, role, capability]);
  }

  it.each(rows)('%s %s: %s on its own tenant', async (type, role, capability) => {
    const tenant = type === 'platform' ? platform : resellerA;
    const res = await perform(capability, tenant, tokens.get(`${type}:${role}`)!, tenant, tenant.users[role]);
    const allowed = ALLOWED[type][role]!.includes(capability);
    expect({ status: res.status, code: res.body?.code }).toEqual(
      allowed ? { status: SUCCESS[capability], code: undefined } : { status: 403, code: 'forbidden' },
    );
  });

  const resellerRows = rows.filter(
    ([type, , capability]) => type === 'reseller' && !PLATFORM_ONLY(capability) && !OWN_TENANT_ONLY.includes(capability),
  );
  it.each(resellerRows)("%s %s: %s on another reseller's objects is 404 where allowed at home, else 403", async (_type, role, capability) => {
    const res = await perform(capability, resellerA, tokens.get(`reseller:${role}`)!, resellerB);
    const allowedAtHome = ALLOWED.reseller[role]!.includes(capability);
    // The audit log of another tenant is not an object lookup: the filter simply matches nothing.
    if (capability === 'audit.read' && allowedAtHome) {
      expect(res.status).toBe(200);
      expect(res.body.items).toEqual([]);
      return;
    }
    expect(res.status).toBe(allowedAtHome ? 404 : 403);
  });

  it('platform owner and operator manage a reseller; other platform roles do not see it or may only read it', async () => {
    const expectations: Array<[string, Capability, number]> = [
      ['owner', 'members.invite', 201],
      ['operator', 'tenant.update', 200],
      ['operator', 'members.list', 200],
      ['finance', 'tenant.read', 200],
      ['finance', 'tenant.update', 403],
      ['sales', 'tenant.read', 403],
      ['tech', 'members.list', 403],
    ];
    for (const [role, capability, status] of expectations) {
      const res = await perform(capability, platform, tokens.get(`platform:${role}`)!, resellerB);
      expect({ role, capability, status: res.status }).toEqual({ role, capability, status });
    }
  });

  it('a reseller owner cannot see the platform tenant (404)', async () => {
    const res = await call(api.baseUrl, 'GET', `/api/v1/tenants/${platform.id}`, { host: resellerA.domain, token: tokens.get('reseller:owner') });
    expect(res.status).toBe(404);
  });

  it('gives users with several roles the union of their permissions', async () => {
    const financeTech = tokens.get('platform:financeTech')!;
    expect((await perform('tenant.read', platform, financeTech, platform)).status).toBe(200); // from finance
    expect((await perform('audit.read', platform, financeTech, platform)).status).toBe(200); // from tech
    expect((await perform('members.list', platform, financeTech, platform)).status).toBe(403); // from neither
    // And each role alone lacks the other's capability.
    expect((await perform('audit.read', platform, tokens.get('platform:finance')!, platform)).status).toBe(403);
    expect((await perform('tenant.read', platform, tokens.get('platform:tech')!, platform)).status).toBe(403);
  });

  it('lists only what the caller may read, filtered in SQL', async () => {
    const asOwner = await call(api.baseUrl, 'GET', '/api/v1/tenants?pageSize=100', { host: resellerA.domain, token: tokens.get('reseller:owner') });
    expect(asOwner.status).toBe(200);
    expect(asOwner.body.items.map((t: { id: string }) => t.id)).toEqual([resellerA.id]);
    const asFinance = await call(api.baseUrl, 'GET', `/api/v1/tenants?q=${resellerB.slug}`, { host: platform.domain, token: tokens.get('platform:finance') });
    expect(asFinance.body.items.map((t: { id: string }) => t.id)).toEqual([resellerB.id]);
    const audit = await call(api.baseUrl, 'GET', '/api/v1/audit-log?limit=200', { host: resellerA.domain, token: tokens.get('reseller:owner') });
    expect(audit.body.items.length).toBeGreaterThan(0);
    expect(new Set(audit.body.items.map((e: { tenantId: string }) => e.tenantId))).toEqual(new Set([resellerA.id]));
  });

  it('still hides other tenants when CASL is broken to allow everything (RLS is independent)', async () => {
    const permissions = ALL_PERMISSIONS as PermissionDefinition[];
    const allowEverything: PermissionDefinition = (_principal, { can }) => can('manage', 'all');
    permissions.push(allowEverything);
    try {
      const owner = { host: resellerA.domain, token: tokens.get('reseller:owner') };
      expect((await call(api.baseUrl, 'GET', `/api/v1/tenants/${resellerB.id}`, owner)).status).toBe(404);
      expect((await call(api.baseUrl, 'GET', `/api/v1/tenants/${resellerB.id}/members`, owner)).status).toBe(404);
      const list = await call(api.baseUrl, 'GET', '/api/v1/tenants?pageSize=100', owner);
      expect(list.body.items.map((t: { id: string }) => t.id)).toEqual([resellerA.id]);
      const audit = await call(api.baseUrl, 'GET', `/api/v1/audit-log?tenantId=${resellerB.id}`, owner);
      expect(audit.body.items).toEqual([]);
      // A reseller user now passes every CASL check, yet still reaches only its own tenant's rows.
      const sales = { host: resellerA.domain, token: tokens.get('reseller:sales') };
      expect((await call(api.baseUrl, 'GET', `/api/v1/tenants/${resellerA.id}/members`, sales)).status).toBe(200);
      expect((await call(api.baseUrl, 'GET', `/api/v1/tenants/${resellerB.id}/members`, sales)).status).toBe(404);
      // ... and every customer of its own tenant, but none of another's.
      const customerOfB = await customer(resellerB, resellerB.users.owner.id);
      expect((await call(api.baseUrl, 'GET', `/api/v1/customers/${customerOfB}`, sales)).status).toBe(404);
      expect((await call(api.baseUrl, 'PUT', `/api/v1/customers/${customerOfB}/sales`, { ...sales, json: { salesUserId: resellerA.users.sales.id } })).status).toBe(404);
      const customers = await call(api.baseUrl, 'GET', '/api/v1/customers?pageSize=100', sales);
      expect(customers.status).toBe(200);
      expect(customers.body.items.map((c: { id: string }) => c.id)).not.toContain(customerOfB);
    } finally {
      permissions.splice(permissions.indexOf(allowEverything), 1);
    }
  });

  /**
   * API keys and price books (issue 10), every role of both tenant types. Keys are "own" for a
   * user and "bound customers" for sales: on a key of some other customer of their own tenant
   * they get 404 (its existence is not revealed), on a key of their own or bound customer 200.
   */
  describe('API keys and pricing', () => {
    type KeyCapability = 'pricing.read' | 'pricing.update' | 'pricing.history' | 'discount.read' | 'discount.set' | 'keys.list' | 'keys.revoke' | 'keys.revokeMine';
    const K: Record<'platform' | 'reseller', Partial<Record<RoleName | 'financeTech' | 'salesFinance', Record<KeyCapability, number>>>> = {
      platform: {
        owner: { 'pricing.read': 200, 'pricing.update': 200, 'pricing.history': 200, 'discount.read': 200, 'discount.set': 200, 'keys.list': 200, 'keys.revoke': 200, 'keys.revokeMine': 200 },
        operator: { 'pricing.read': 200, 'pricing.update': 403, 'pricing.history': 403, 'discount.read': 403, 'discount.set': 403, 'keys.list': 200, 'keys.revoke': 200, 'keys.revokeMine': 200 },
        sales: { 'pricing.read': 200, 'pricing.update': 403, 'pricing.history': 403, 'discount.read': 403, 'discount.set': 403, 'keys.list': 200, 'keys.revoke': 404, 'keys.revokeMine': 200 },
        finance: { 'pricing.read': 200, 'pricing.update': 200, 'pricing.history': 200, 'discount.read': 200, 'discount.set': 200, 'keys.list': 403, 'keys.revoke': 403, 'keys.revokeMine': 403 },
        tech: { 'pricing.read': 200, 'pricing.update': 403, 'pricing.history': 403, 'discount.read': 403, 'discount.set': 403, 'keys.list': 200, 'keys.revoke': 200, 'keys.revokeMine': 200 },
        user: { 'pricing.read': 200, 'pricing.update': 403, 'pricing.history': 403, 'discount.read': 403, 'discount.set': 403, 'keys.list': 200, 'keys.revoke': 404, 'keys.revokeMine': 200 },
        financeTech: { 'pricing.read': 200, 'pricing.update': 200, 'pricing.history': 200, 'discount.read': 200, 'discount.set': 200, 'keys.list': 200, 'keys.revoke': 200, 'keys.revokeMine': 200 },
      },
      reseller: {
        owner: { 'pricing.read': 200, 'pricing.update': 200, 'pricing.history': 200, 'discount.read': 200, 'discount.set': 403, 'keys.list': 200, 'keys.revoke': 200, 'keys.revokeMine': 200 },
        sales: { 'pricing.read': 200, 'pricing.update': 403, 'pricing.history': 403, 'discount.read': 403, 'discount.set': 403, 'keys.list': 200, 'keys.revoke': 404, 'keys.revokeMine': 200 },
        finance: { 'pricing.read': 200, 'pricing.update': 200, 'pricing.history': 200, 'discount.read': 200, 'discount.set': 403, 'keys.list': 403, 'keys.revoke': 403, 'keys.revokeMine': 403 },
        user: { 'pricing.read': 200, 'pricing.update': 403, 'pricing.history': 403, 'discount.read': 403, 'discount.set': 403, 'keys.list': 200, 'keys.revoke': 404, 'keys.revokeMine': 200 },
        salesFinance: { 'pricing.read': 200, 'pricing.update': 200, 'pricing.history': 200, 'discount.read': 200, 'discount.set': 403, 'keys.list': 200, 'keys.revoke': 404, 'keys.revokeMine': 200 },
      },
    };
    const knownModel = `matrix-${uuidv7().slice(-12)}`;

    beforeAll(async () => {
      await system.query(
        `INSERT INTO platform_prices (id, model, input_per_million, output_per_million, effective_from) VALUES ($1, $2, 1, 1, now() - interval '1 minute')`,
        [uuidv7(), knownModel],
      );
    });

    /** A key of a fresh customer of `tenant`; bound to `salesUserId` if given, or the customer is `ownerId`. */
    async function keyOf(tenant: TestTenant, options: { salesUserId?: string; ownerId?: string } = {}): Promise<string> {
      const customer = options.ownerId ?? (await victim(tenant));
      const id = uuidv7();
      await system.query(`INSERT INTO api_keys (id, tenant_id, customer_id, name, prefix, secret_hash) VALUES ($1, $2, $3, 'k', 'sk-xxxxxx', $4)`, [
        id,
        tenant.id,
        customer,
        Buffer.from(uuidv7().replace(/-/g, '') + uuidv7().replace(/-/g, ''), 'hex'),
      ]);
      if (options.salesUserId) {
        await system.query(`INSERT INTO customer_bindings (tenant_id, customer_id, sales_user_id) VALUES ($1, $2, $3)`, [tenant.id, customer, options.salesUserId]);
      }
      return id;
    }

    async function performKey(capability: KeyCapability, tenant: TestTenant, role: string): Promise<HttpResult> {
      const as = { host: tenant.domain, token: tokens.get(`${tenant.type}:${role}`) };
      const user = tenant.users[role];
      switch (capability) {
        case 'pricing.read':
          return call(api.baseUrl, 'GET', '/api/v1/pricing', as);
        case 'pricing.update': {
          const model = tenant.type === 'platform' ? `matrix-${uuidv7().slice(-12)}` : knownModel;
          return call(api.baseUrl, 'PUT', `/api/v1/pricing/${model}`, { ...as, json: { inputPerMillion: '2', outputPerMillion: '2', effectiveFrom: new Date(Date.now() + 3600_000 + Math.floor(Math.random() * 1e9)).toISOString() } });
        }
        case 'pricing.history':
          return call(api.baseUrl, 'GET', `/api/v1/pricing/${knownModel}/history`, as);
        case 'discount.read':
          return call(api.baseUrl, 'GET', `/api/v1/tenants/${resellerA.id}/wholesale-discount`, as);
        case 'discount.set':
          return call(api.baseUrl, 'PUT', `/api/v1/tenants/${resellerA.id}/wholesale-discount`, { ...as, json: { percent: '5' } });
        case 'keys.list':
          return call(api.baseUrl, 'GET', '/api/v1/keys', as);
        case 'keys.revoke':
          return call(api.baseUrl, 'DELETE', `/api/v1/keys/${await keyOf(tenant)}`, as);
        case 'keys.revokeMine': {
          // A user's own key; a salesperson's bound customer's key; anyone else's: some customer's.
          const id = user.roles.includes('user')
            ? await keyOf(tenant, { ownerId: user.id })
            : user.roles.includes('sales')
              ? await keyOf(tenant, { salesUserId: user.id })
              : await keyOf(tenant);
          return call(api.baseUrl, 'DELETE', `/api/v1/keys/${id}`, as);
        }
      }
    }

    const keyRows: Array<['platform' | 'reseller', string, KeyCapability, number]> = [];
    for (const type of ['platform', 'reseller'] as const) {
      for (const [role, caps] of Object.entries(K[type])) for (const [cap, status] of Object.entries(caps!)) keyRows.push([type, role, cap as KeyCapability, status]);
    }

    it.each(keyRows)('%s %s: %s -> %d', async (type, role, capability, status) => {
      const tenant = type === 'platform' ? platform : resellerA;
      const res = await performKey(capability, tenant, role);
      expect({ status: res.status, code: res.status >= 400 ? res.body?.code : undefined }).toEqual({
        status,
        code: status === 403 ? 'forbidden' : status === 404 ? 'not_found' : undefined,
      });
    });

    it("keeps another reseller's keys, prices and discount out of reach (404)", async () => {
      const owner = { host: resellerA.domain, token: tokens.get('reseller:owner') };
      expect((await call(api.baseUrl, 'DELETE', `/api/v1/keys/${await keyOf(resellerB)}`, owner)).status).toBe(404);
      expect((await call(api.baseUrl, 'GET', `/api/v1/tenants/${resellerB.id}/wholesale-discount`, owner)).status).toBe(404);
      const list = await call(api.baseUrl, 'GET', '/api/v1/keys?pageSize=100', owner);
      expect(list.body.items.every((k: { tenantId: string }) => k.tenantId === resellerA.id)).toBe(true);
      const prices = await call(api.baseUrl, 'GET', '/api/v1/pricing', owner);
      expect(prices.body.tenantId).toBe(resellerA.id);
    });
  });

  /**
   * Low-balance thresholds (issue 13): a customer's own is part of managing the customer (owner,
   * operator, a salesperson for their bound customers); the tenant's default is a billing setting
   * (owner, operator, finance). Every role of both tenant types.
   */
  describe('low-balance thresholds', () => {
    type ThresholdCapability = 'threshold.customer' | 'threshold.tenant';
    const T: Record<'platform' | 'reseller', Record<string, Record<ThresholdCapability, number>>> = {
      platform: {
        owner: { 'threshold.customer': 200, 'threshold.tenant': 200 },
        operator: { 'threshold.customer': 200, 'threshold.tenant': 200 },
        sales: { 'threshold.customer': 200, 'threshold.tenant': 403 },
        finance: { 'threshold.customer': 403, 'threshold.tenant': 200 },
        tech: { 'threshold.customer': 403, 'threshold.tenant': 403 },
        user: { 'threshold.customer': 403, 'threshold.tenant': 403 },
        financeTech: { 'threshold.customer': 403, 'threshold.tenant': 200 },
      },
      reseller: {
        owner: { 'threshold.customer': 200, 'threshold.tenant': 200 },
        sales: { 'threshold.customer': 200, 'threshold.tenant': 403 },
        finance: { 'threshold.customer': 403, 'threshold.tenant': 200 },
        user: { 'threshold.customer': 403, 'threshold.tenant': 403 },
        salesFinance: { 'threshold.customer': 200, 'threshold.tenant': 200 },
      },
    };

    async function performThreshold(capability: ThresholdCapability, host: TestTenant, role: string, target: TestTenant): Promise<HttpResult> {
      const as = { host: host.domain, token: tokens.get(`${host.type}:${role}`), json: { threshold: '2.5' } };
      if (capability === 'threshold.tenant') return call(api.baseUrl, 'PUT', `/api/v1/tenants/${target.id}/low-balance-threshold`, as);
      // A salesperson acts on a customer bound to them.
      const ownSales = host.users[role].roles.includes('sales') && target === host ? host.users[role].id : undefined;
      return call(api.baseUrl, 'PUT', `/api/v1/customers/${await customer(target, ownSales)}/low-balance-threshold`, as);
    }

    const thresholdRows: Array<['platform' | 'reseller', string, ThresholdCapability, number]> = [];
    for (const type of ['platform', 'reseller'] as const) {
      for (const [role, caps] of Object.entries(T[type])) for (const [cap, status] of Object.entries(caps)) thresholdRows.push([type, role, cap as ThresholdCapability, status]);
    }

    it.each(thresholdRows)('%s %s: %s -> %d', async (type, role, capability, status) => {
      const tenant = type === 'platform' ? platform : resellerA;
      const res = await performThreshold(capability, tenant, role, tenant);
      expect({ status: res.status, code: res.status >= 400 ? res.body?.code : undefined }).toEqual({ status, code: status === 403 ? 'forbidden' : undefined });
    });

    it("keeps another reseller's customers and default out of reach (404)", async () => {
      for (const capability of ['threshold.customer', 'threshold.tenant'] as const) {
        expect((await performThreshold(capability, resellerA, 'owner', resellerB)).status).toBe(404);
      }
      // The platform's owner manages resellers, not their customers' thresholds.
      expect((await performThreshold('threshold.tenant', platform, 'owner', resellerB)).status).toBe(404);
    });
  });

  /**
   * The browser console's routes (issue 20): the public site, one's own account (profile,
   * password, sessions) for every role, and the usage export for whoever reads usage. Another
   * tenant's token is refused at this tenant's domain.
   */
  describe('console and own account', () => {
    type ConsoleCapability = 'me.update' | 'me.password' | 'me.sessions' | 'me.sessionRevoke' | 'usage.export';
    const CONSOLE_CAPABILITIES: ConsoleCapability[] = ['me.update', 'me.password', 'me.sessions', 'me.sessionRevoke', 'usage.export'];
    /**
     * Every role has its own account; the export follows usage.read. A too weak new password (with
     * the right current one, so no failed sign-in is counted on the shared Redis) is a 400, an
     * unknown session a 404: both past authorization, and neither changes anything.
     */
    const expected = (type: 'platform' | 'reseller', role: RoleName, capability: ConsoleCapability): number => {
      if (capability === 'usage.export') return ALLOWED[type][role]!.includes('usage.read') ? 200 : 403;
      return { 'me.update': 200, 'me.password': 400, 'me.sessions': 200, 'me.sessionRevoke': 404 }[capability];
    };

    function performConsole(capability: ConsoleCapability, host: TestTenant, token: string): Promise<HttpResult> {
      const as = { host: host.domain, token };
      switch (capability) {
        case 'me.update':
          return call(api.baseUrl, 'PATCH', '/api/v1/me', { ...as, json: { preferredLanguage: 'zh-CN' } });
        case 'me.password':
          return call(api.baseUrl, 'POST', '/api/v1/me/password', { ...as, json: { currentPassword: TEST_PASSWORD, newPassword: 'weak' } });
        case 'me.sessions':
          return call(api.baseUrl, 'GET', '/api/v1/me/sessions', as);
        case 'me.sessionRevoke':
          return call(api.baseUrl, 'DELETE', `/api/v1/me/sessions/${uuidv7()}`, as);
        case 'usage.export':
          return call(api.baseUrl, 'GET', '/api/v1/usage/export.csv', as);
      }
    }

    const consoleRows: Array<['platform' | 'reseller', RoleName, ConsoleCapability, number]> = [];
    for (const type of ['platform', 'reseller'] as const) {
      for (const role of Object.keys(ALLOWED[type]) as RoleName[]) for (const capability of CONSOLE_CAPABILITIES) consoleRows.push([type, role, capability, expected(type, role, capability)]);
    }

    it.each(consoleRows)('%s %s: %s -> %d', async (type, role, capability, status) => {
      const tenant = type === 'platform' ? platform : resellerA;
      const res = await performConsole(capability, tenant, tokens.get(`${type}:${role}`)!);
      const code = { 400: 'weak_password', 403: 'forbidden', 404: 'not_found' }[status as 400 | 403 | 404];
      expect({ status: res.status, code: res.status >= 400 ? res.body?.code : undefined }).toEqual({ status, code });
    });

    it.each(CONSOLE_CAPABILITIES)("refuses %s with another tenant's token at this tenant's domain", async (capability) => {
      const res = await performConsole(capability, resellerA, tokens.get('platform:user')!);
      expect({ status: res.status, code: res.body?.code }).toEqual({ status: 403, code: 'tenant_mismatch' });
    });

    it('serves the site to anyone at a tenant domain, and nothing at another host', async () => {
      for (const tenant of [platform, resellerA]) expect((await call(api.baseUrl, 'GET', '/api/v1/site', { host: tenant.domain })).status).toBe(200);
      expect((await call(api.baseUrl, 'GET', '/api/v1/site', { host: `${uniqueSlug('nobody')}.example.com` })).status).toBe(404);
    });
  });
});

/**
 * Withdrawals of settled margin (issue 13), "settlement and withdrawal: owner, finance": every
 * role of both tenant types on the withdrawal routes. Resellers' owner and finance request and
 * read their own; the platform's owner and finance read all and decide (the platform itself has no
 * margin: 422); everyone else 403; another reseller's withdrawal is 404.
 */
describe('permission matrix: withdrawals (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let platform: TestTenant;
  let reseller: TestTenant;
  let otherReseller: TestTenant;
  let ownWithdrawal: string;
  let otherWithdrawal: string;
  const tokens = new Map<string, string>();
  type WithdrawalCapability = 'withdrawals.list' | 'withdrawals.read' | 'withdrawals.request' | 'withdrawals.approve';
  const W: Record<'platform' | 'reseller', Partial<Record<RoleName, Record<WithdrawalCapability, number>>>> = {
    platform: {
      owner: { 'withdrawals.list': 200, 'withdrawals.read': 200, 'withdrawals.request': 422, 'withdrawals.approve': 200 },
      operator: { 'withdrawals.list': 403, 'withdrawals.read': 403, 'withdrawals.request': 403, 'withdrawals.approve': 403 },
      sales: { 'withdrawals.list': 403, 'withdrawals.read': 403, 'withdrawals.request': 403, 'withdrawals.approve': 403 },
      finance: { 'withdrawals.list': 200, 'withdrawals.read': 200, 'withdrawals.request': 422, 'withdrawals.approve': 200 },
      tech: { 'withdrawals.list': 403, 'withdrawals.read': 403, 'withdrawals.request': 403, 'withdrawals.approve': 403 },
      user: { 'withdrawals.list': 403, 'withdrawals.read': 403, 'withdrawals.request': 403, 'withdrawals.approve': 403 },
    },
    reseller: {
      owner: { 'withdrawals.list': 200, 'withdrawals.read': 200, 'withdrawals.request': 201, 'withdrawals.approve': 403 },
      sales: { 'withdrawals.list': 403, 'withdrawals.read': 403, 'withdrawals.request': 403, 'withdrawals.approve': 403 },
      finance: { 'withdrawals.list': 200, 'withdrawals.read': 200, 'withdrawals.request': 201, 'withdrawals.approve': 403 },
      user: { 'withdrawals.list': 403, 'withdrawals.read': 403, 'withdrawals.request': 403, 'withdrawals.approve': 403 },
    },
  };

  beforeAll(async () => {
    system = await connectAs('system');
    api = await startTestApi();
    platform = await platformWithUsers(system, { owner: ['owner'], operator: ['operator'], sales: ['sales'], finance: ['finance'], tech: ['tech'], user: ['user'] });
    reseller = await resellerWithUsers(system, { owner: ['owner'], sales: ['sales'], finance: ['finance'], user: ['user'] });
    otherReseller = await resellerWithUsers(system, { owner: ['owner'] });
    for (const tenant of [platform, reseller, otherReseller]) {
      for (const name of Object.keys(tenant.users)) tokens.set(`${tenant.slug}:${name}`, (await signIn(api.baseUrl, tenant, name)).accessToken);
    }
    const { fundSettledMargin } = await import('../support/settled-margin');
    await fundSettledMargin(system, reseller.id, '100');
    await fundSettledMargin(system, otherReseller.id, '100');
    const request = (tenant: TestTenant) =>
      call(api.baseUrl, 'POST', '/api/v1/withdrawals', { host: tenant.domain, token: tokens.get(`${tenant.slug}:owner`), json: { amount: '1' } });
    ownWithdrawal = (await request(reseller)).body.id;
    otherWithdrawal = (await request(otherReseller)).body.id;
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  async function performWithdrawal(capability: WithdrawalCapability, tenant: TestTenant, role: string, withdrawalId = ownWithdrawal): Promise<HttpResult> {
    const as = { host: tenant.domain, token: tokens.get(`${tenant.slug}:${role}`) };
    switch (capability) {
      case 'withdrawals.list':
        return call(api.baseUrl, 'GET', '/api/v1/withdrawals', as);
      case 'withdrawals.read':
        return call(api.baseUrl, 'GET', `/api/v1/withdrawals/${withdrawalId}`, as);
      case 'withdrawals.request':
        return call(api.baseUrl, 'POST', '/api/v1/withdrawals', { ...as, json: { amount: '0.01' } });
      case 'withdrawals.approve': {
        // A fresh requested withdrawal of the reseller for each attempt.
        const owner = { host: reseller.domain, token: tokens.get(`${reseller.slug}:owner`) };
        const fresh = (await call(api.baseUrl, 'POST', '/api/v1/withdrawals', { ...owner, json: { amount: '0.01' } })).body.id;
        return call(api.baseUrl, 'POST', `/api/v1/withdrawals/${fresh}/approve`, { ...as, json: {} });
      }
    }
  }

  const withdrawalRows: Array<['platform' | 'reseller', string, WithdrawalCapability, number]> = [];
  for (const type of ['platform', 'reseller'] as const) {
    for (const [role, caps] of Object.entries(W[type])) for (const [cap, status] of Object.entries(caps!)) withdrawalRows.push([type, role, cap as WithdrawalCapability, status]);
  }

  it.each(withdrawalRows)('%s %s: %s -> %d', async (type, role, capability, status) => {
    const res = await performWithdrawal(capability, type === 'platform' ? platform : reseller, role);
    expect({ status: res.status, code: res.status >= 400 ? res.body?.code : undefined }).toEqual({
      status,
      code: status === 403 ? 'forbidden' : status === 422 ? 'withdrawal_not_a_reseller' : undefined,
    });
  });

  it.each(['owner', 'finance'])("reseller %s: another reseller's withdrawal is 404 and never listed", async (role) => {
    expect((await performWithdrawal('withdrawals.read', reseller, role, otherWithdrawal)).status).toBe(404);
    const list = await performWithdrawal('withdrawals.list', reseller, role);
    expect(list.body.items.map((w: { id: string }) => w.id)).not.toContain(otherWithdrawal);
    expect(list.body.items.map((w: { id: string }) => w.id)).toContain(ownWithdrawal);
  });
});

/**
 * Settlement statements (issue 13), every role of both tenant types on every statement route:
 * list, one statement of the caller's own tenant (JSON and CSV), one of another reseller, and the
 * platform rollup. Reseller owner and finance read their own; platform owner and finance read
 * every tenant's and the rollup; a platform salesperson reads the resellers bound to them (here:
 * reseller A, not the platform's own, which is 404 for them); everyone else 403. Statements are
 * written straight into the table, dated in the future so that no scheduled close catches up
 * from them in the shared database.
 */
describe('permission matrix: settlement statements (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let platform: TestTenant;
  let resellerA: TestTenant;
  let resellerB: TestTenant;
  const statementOf = new Map<string, string>();
  const tokens = new Map<string, string>();
  const periodStart = new Date(Date.UTC(2100, 0, 1) + Math.floor(Math.random() * 20000) * 24 * 3600 * 1000);

  type StatementCapability = 'list' | 'own' | 'ownCsv' | 'otherReseller' | 'rollup';
  const ALL = { list: 200, own: 200, ownCsv: 200, otherReseller: 200, rollup: 200 };
  const NONE = { list: 403, own: 403, ownCsv: 403, otherReseller: 403, rollup: 403 };
  const EXPECTED: Record<'platform' | 'reseller', Partial<Record<RoleName, Record<StatementCapability, number>>>> = {
    platform: {
      owner: ALL,
      operator: NONE,
      // Bound to reseller A only: its statements yes; the platform's own and reseller B's are not in reach.
      sales: { list: 200, own: 404, ownCsv: 404, otherReseller: 404, rollup: 403 },
      finance: ALL,
      tech: NONE,
      user: NONE,
    },
    reseller: {
      owner: { list: 200, own: 200, ownCsv: 200, otherReseller: 404, rollup: 403 },
      sales: NONE,
      finance: { list: 200, own: 200, ownCsv: 200, otherReseller: 404, rollup: 403 },
      user: NONE,
    },
  };

  beforeAll(async () => {
    system = await connectAs('system');
    api = await startTestApi();
    platform = await platformWithUsers(system, { owner: ['owner'], operator: ['operator'], sales: ['sales'], finance: ['finance'], tech: ['tech'], user: ['user'] });
    resellerA = await resellerWithUsers(system, { owner: ['owner'], sales: ['sales'], finance: ['finance'], user: ['user'] });
    resellerB = await resellerWithUsers(system, { owner: ['owner'] });
    await system.query(`INSERT INTO tenant_sales_bindings (tenant_id, reseller_id, sales_user_id) VALUES ($1, $2, $3)`, [platform.id, resellerA.id, platform.users.sales.id]);
    const { insertStatement } = await import('../support/statements');
    for (const tenant of [resellerA, resellerB]) statementOf.set(tenant.id, await insertStatement(system, tenant, periodStart));
    // The platform's own: its day is unique to this run (the tenant is shared by every file).
    statementOf.set(platform.id, await insertStatement(system, platform, new Date(periodStart.getTime() + 24 * 3600 * 1000 * (1 + Math.floor(Math.random() * 1000)))));
    for (const tenant of [platform, resellerA]) {
      for (const name of Object.keys(tenant.users)) tokens.set(`${tenant.type}:${name}`, (await signIn(api.baseUrl, tenant, name)).accessToken);
    }
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  const rows: Array<['platform' | 'reseller', RoleName, StatementCapability, number]> = [];
  for (const type of ['platform', 'reseller'] as const) {
    for (const [role, caps] of Object.entries(EXPECTED[type])) for (const [cap, status] of Object.entries(caps!)) rows.push([type, role as RoleName, cap as StatementCapability, status]);
  }

  it.each(rows)('%s %s: statements %s -> %d', async (type, role, capability, status) => {
    const tenant = type === 'platform' ? platform : resellerA;
    const as = { host: tenant.domain, token: tokens.get(`${type}:${role}`) };
    const own = statementOf.get(tenant.id)!;
    const path = {
      list: '/api/v1/statements',
      own: `/api/v1/statements/${own}`,
      ownCsv: `/api/v1/statements/${own}.csv`,
      otherReseller: `/api/v1/statements/${statementOf.get(resellerB.id)}`,
      rollup: `/api/v1/statements/rollup?periodStart=${periodStart.toISOString()}`,
    }[capability];
    const res = await call(api.baseUrl, 'GET', path, as);
    expect({ status: res.status, code: res.status >= 400 ? res.body?.code : undefined }).toEqual({
      status,
      code: status === 403 ? 'forbidden' : status === 404 ? 'not_found' : undefined,
    });
    if (capability === 'list' && status === 200) {
      const tenants = new Set(res.body.items.map((s: { tenantId: string }) => s.tenantId));
      if (type === 'reseller' || role === 'sales') expect(tenants).toEqual(new Set([resellerA.id]));
      else expect(tenants.has(resellerB.id) || res.body.nextCursor !== null).toBe(true);
    }
  });
});

/**
 * Webhooks (issue 13): endpoints, their delivery log and redelivery belong to the tenant owner,
 * on the platform and at a reseller; every other role gets 403 on every route. An owner acting
 * on another reseller's endpoint gets 404. No worker runs here: the endpoints point at a
 * `.invalid` host, so a job taken by another file's worker fails at DNS and reaches nobody.
 */
describe('permission matrix: webhooks (e2e)', () => {
  type WebhookCapability = 'webhooks.list' | 'webhooks.create' | 'webhooks.read' | 'webhooks.update' | 'webhooks.rotate' | 'webhooks.delete' | 'webhooks.deliveries' | 'webhooks.redeliver' | 'webhooks.test';
  const CAPS: WebhookCapability[] = ['webhooks.list', 'webhooks.create', 'webhooks.read', 'webhooks.update', 'webhooks.rotate', 'webhooks.delete', 'webhooks.deliveries', 'webhooks.redeliver', 'webhooks.test'];
  const OK: Record<WebhookCapability, number> = {
    'webhooks.list': 200,
    'webhooks.create': 201,
    'webhooks.read': 200,
    'webhooks.update': 200,
    'webhooks.rotate': 200,
    'webhooks.delete': 204,
    'webhooks.deliveries': 200,
    'webhooks.redeliver': 202,
    'webhooks.test': 202,
  };
  const ROLES: Record<'platform' | 'reseller', RoleName[]> = {
    platform: ['owner', 'operator', 'sales', 'finance', 'tech', 'user'],
    reseller: ['owner', 'sales', 'finance', 'user'],
  };

  let system: Client;
  let api: RunningApp;
  let platform: TestTenant;
  let resellerA: TestTenant;
  let resellerB: TestTenant;
  const tokens = new Map<string, string>();

  /** An endpoint of `tenant` with one failed delivery, made as the system role. */
  async function endpointWithDelivery(tenant: TestTenant): Promise<{ endpointId: string; deliveryId: string }> {
    const endpointId = uuidv7();
    const eventId = uuidv7();
    const deliveryId = uuidv7();
    await system.query(`INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret_ciphertext) VALUES ($1, $2, 'https://hooks.invalid/matrix', '{key.created}', 'v1.none.x.y.z')`, [endpointId, tenant.id]);
    await system.query(`INSERT INTO webhook_events (id, tenant_id, type, data, dispatched_at) VALUES ($1, $2, 'key.created', '{}', now())`, [eventId, tenant.id]);
    await system.query(`INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, status, attempts, completed_at) VALUES ($1, $2, $3, $4, 'failed', 1, now())`, [deliveryId, tenant.id, endpointId, eventId]);
    return { endpointId, deliveryId };
  }

  async function perform(capability: WebhookCapability, host: TestTenant, token: string, target: TestTenant): Promise<HttpResult> {
    const as = { host: host.domain, token };
    const { endpointId, deliveryId } = await endpointWithDelivery(target);
    const base = `/api/v1/webhooks/${endpointId}`;
    switch (capability) {
      case 'webhooks.list':
        return call(api.baseUrl, 'GET', '/api/v1/webhooks', as);
      case 'webhooks.create':
        return call(api.baseUrl, 'POST', '/api/v1/webhooks', { ...as, json: { url: 'https://hooks.invalid/new', events: ['key.created'] } });
      case 'webhooks.read':
        return call(api.baseUrl, 'GET', base, as);
      case 'webhooks.update':
        return call(api.baseUrl, 'PATCH', base, { ...as, json: { description: 'changed' } });
      case 'webhooks.rotate':
        return call(api.baseUrl, 'POST', `${base}/rotate-secret`, as);
      case 'webhooks.delete':
        return call(api.baseUrl, 'DELETE', base, as);
      case 'webhooks.deliveries':
        return call(api.baseUrl, 'GET', `${base}/deliveries`, as);
      case 'webhooks.redeliver':
        return call(api.baseUrl, 'POST', `${base}/deliveries/${deliveryId}/redeliver`, as);
      case 'webhooks.test':
        return call(api.baseUrl, 'POST', `${base}/test`, as);
    }
  }

  beforeAll(async () => {
    system = await connectAs('system');
    api = await startTestApi();
    platform = await platformWithUsers(system, Object.fromEntries(ROLES.platform.map((r) => [r, [r]])));
    resellerA = await resellerWithUsers(system, Object.fromEntries(ROLES.reseller.map((r) => [r, [r]])));
    resellerB = await resellerWithUsers(system, { owner: ['owner'] });
    for (const tenant of [platform, resellerA]) {
      for (const name of Object.keys(tenant.users)) tokens.set(`${tenant.type}:${name}`, (await signIn(api.baseUrl, tenant, name)).accessToken);
    }
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  const rows: Array<['platform' | 'reseller', RoleName, WebhookCapability]> = [];
  for (const type of ['platform', 'reseller'] as const) for (const role of ROLES[type]) for (const capability of CAPS) rows.push([type, role, capability]);

  it.each(rows)('%s %s: %s on its own tenant', async (type, role, capability) => {
    const tenant = type === 'platform' ? platform : resellerA;
    const res = await perform(capability, tenant, tokens.get(`${type}:${role}`)!, tenant);
    expect({ status: res.status, code: res.status >= 400 ? res.body?.code : undefined }).toEqual(role === 'owner' ? { status: OK[capability], code: undefined } : { status: 403, code: 'forbidden' });
  });

  const objectCaps = CAPS.filter((c) => c !== 'webhooks.list' && c !== 'webhooks.create');
  it.each(objectCaps)("reseller owner: %s on another reseller's endpoint is 404", async (capability) => {
    const res = await perform(capability, resellerA, tokens.get('reseller:owner')!, resellerB);
    expect({ status: res.status, code: res.body?.code }).toEqual({ status: 404, code: 'not_found' });
  });

  it.each(objectCaps)("platform owner: %s on a reseller's endpoint is 404 (webhooks are the tenant's own)", async (capability) => {
    const res = await perform(capability, platform, tokens.get('platform:owner')!, resellerB);
    expect({ status: res.status, code: res.body?.code }).toEqual({ status: 404, code: 'not_found' });
  });

  it("lists only the caller's tenant's endpoints", async () => {
    await endpointWithDelivery(resellerB);
    const list = await call(api.baseUrl, 'GET', '/api/v1/webhooks?pageSize=100', { host: resellerA.domain, token: tokens.get('reseller:owner') });
    expect(list.status).toBe(200);
    expect(list.body.items.length).toBeGreaterThan(0);
    expect(new Set(list.body.items.map((e: { tenantId: string }) => e.tenantId))).toEqual(new Set([resellerA.id]));
  });
});

/**
 * Manual adjustments of closed statements: every role of both tenant types adjusts reseller A's
 * statement, lists its adjustments, and lists reseller B's. Only the platform's owner and finance
 * adjust (a reseller never adjusts its own statement: 403); whoever reads a statement reads its
 * adjustments (platform sales: their bound reseller A); a statement out of reach is 404.
 * Statements are written straight into the table, dated in the future (see the statements block).
 */
describe('permission matrix: statement adjustments (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let platform: TestTenant;
  let resellerA: TestTenant;
  let resellerB: TestTenant;
  const statementOf = new Map<string, string>();
  const tokens = new Map<string, string>();
  const periodStart = new Date(Date.UTC(2100, 0, 1) + Math.floor(Math.random() * 20000) * 24 * 3600 * 1000);

  type AdjustmentCapability = 'adjust' | 'list' | 'listOtherReseller';
  const NONE = { adjust: 403, list: 403, listOtherReseller: 403 };
  const EXPECTED: Record<'platform' | 'reseller', Partial<Record<RoleName, Record<AdjustmentCapability, number>>>> = {
    platform: {
      owner: { adjust: 201, list: 200, listOtherReseller: 200 },
      operator: NONE,
      sales: { adjust: 403, list: 200, listOtherReseller: 404 },
      finance: { adjust: 201, list: 200, listOtherReseller: 200 },
      tech: NONE,
      user: NONE,
    },
    reseller: {
      owner: { adjust: 403, list: 200, listOtherReseller: 404 },
      sales: NONE,
      finance: { adjust: 403, list: 200, listOtherReseller: 404 },
      user: NONE,
    },
  };

  beforeAll(async () => {
    system = await connectAs('system');
    api = await startTestApi();
    platform = await platformWithUsers(system, { owner: ['owner'], operator: ['operator'], sales: ['sales'], finance: ['finance'], tech: ['tech'], user: ['user'] });
    resellerA = await resellerWithUsers(system, { owner: ['owner'], sales: ['sales'], finance: ['finance'], user: ['user'] });
    resellerB = await resellerWithUsers(system, { owner: ['owner'] });
    await system.query(`INSERT INTO tenant_sales_bindings (tenant_id, reseller_id, sales_user_id) VALUES ($1, $2, $3)`, [platform.id, resellerA.id, platform.users.sales.id]);
    const { insertStatement } = await import('../support/statements');
    for (const tenant of [resellerA, resellerB]) statementOf.set(tenant.id, await insertStatement(system, tenant, periodStart));
    for (const tenant of [platform, resellerA]) {
      for (const name of Object.keys(tenant.users)) tokens.set(`${tenant.type}:${name}`, (await signIn(api.baseUrl, tenant, name)).accessToken);
    }
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  const rows: Array<['platform' | 'reseller', RoleName, AdjustmentCapability, number]> = [];
  for (const type of ['platform', 'reseller'] as const) {
    for (const [role, caps] of Object.entries(EXPECTED[type])) for (const [cap, status] of Object.entries(caps!)) rows.push([type, role as RoleName, cap as AdjustmentCapability, status]);
  }

  it.each(rows)('%s %s: statement adjustments %s -> %d', async (type, role, capability, status) => {
    const tenant = type === 'platform' ? platform : resellerA;
    const as = { host: tenant.domain, token: tokens.get(`${type}:${role}`) };
    const a = statementOf.get(resellerA.id)!;
    const b = statementOf.get(resellerB.id)!;
    const res =
      capability === 'adjust'
        ? await call(api.baseUrl, 'POST', `/api/v1/statements/${a}/adjustments`, { ...as, json: { amount: '0.01', reason: `matrix ${type} ${role}` } })
        : await call(api.baseUrl, 'GET', `/api/v1/statements/${capability === 'list' ? a : b}/adjustments`, as);
    expect({ status: res.status, code: res.status >= 400 ? res.body?.code : undefined }).toEqual({
      status,
      code: status === 403 ? 'forbidden' : status === 404 ? 'not_found' : undefined,
    });
  });
});

/**
 * Top-ups and prepaid codes (issue 21), every role of both tenant types: orders are read like
 * bills (owner, finance; sales their bound customers'; a customer their own), started and redeemed
 * by customers only (no provider enabled here: 422 for them, 403 for staff); payment settings are
 * the owner's; codes are issued, listed and disabled by owner and finance. Another tenant's code
 * is 404.
 */
describe('permission matrix: top-ups and prepaid codes (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let platform: TestTenant;
  let reseller: TestTenant;
  let otherReseller: TestTenant;
  let otherCode: string;
  const tokens = new Map<string, string>();

  type TopupCapability = 'orders.list' | 'orders.mine' | 'orders.create' | 'settings.read' | 'settings.update' | 'codes.create' | 'codes.list' | 'codes.disable' | 'redeem';
  const NONE: Record<TopupCapability, number> = {
    'orders.list': 403,
    'orders.mine': 403,
    'orders.create': 403,
    'settings.read': 403,
    'settings.update': 403,
    'codes.create': 403,
    'codes.list': 403,
    'codes.disable': 403,
    redeem: 403,
  };
  const OWNER = { ...NONE, 'orders.list': 200, 'settings.read': 200, 'settings.update': 200, 'codes.create': 201, 'codes.list': 200, 'codes.disable': 200 };
  const FINANCE = { ...NONE, 'orders.list': 200, 'codes.create': 201, 'codes.list': 200, 'codes.disable': 200 };
  const SALES = { ...NONE, 'orders.list': 200 };
  const USER = { ...NONE, 'orders.list': 200, 'orders.mine': 200, 'orders.create': 422, redeem: 422 };
  const EXPECTED: Record<'platform' | 'reseller', Partial<Record<RoleName, Record<TopupCapability, number>>>> = {
    platform: { owner: OWNER, operator: NONE, sales: SALES, finance: FINANCE, tech: NONE, user: USER },
    reseller: { owner: OWNER, sales: SALES, finance: FINANCE, user: USER },
  };

  beforeAll(async () => {
    system = await connectAs('system');
    api = await startTestApi();
    platform = await platformWithUsers(system, { owner: ['owner'], operator: ['operator'], sales: ['sales'], finance: ['finance'], tech: ['tech'], user: ['user'] });
    reseller = await resellerWithUsers(system, { owner: ['owner'], sales: ['sales'], finance: ['finance'], user: ['user'] });
    otherReseller = await resellerWithUsers(system, { owner: ['owner'] });
    for (const tenant of [platform, reseller, otherReseller]) {
      for (const name of Object.keys(tenant.users)) tokens.set(`${tenant.slug}:${name}`, (await signIn(api.baseUrl, tenant, name)).accessToken);
    }
    otherCode = (await call(api.baseUrl, 'POST', '/api/v1/redemption-codes', { host: otherReseller.domain, token: tokens.get(`${otherReseller.slug}:owner`), json: { count: 1, amount: '1' } })).body.codes[0].id;
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  async function perform(capability: TopupCapability, tenant: TestTenant, role: string): Promise<HttpResult> {
    const as = { host: tenant.domain, token: tokens.get(`${tenant.slug}:${role}`) };
    switch (capability) {
      case 'orders.list':
        return call(api.baseUrl, 'GET', '/api/v1/topups', as);
      case 'orders.mine':
        return call(api.baseUrl, 'GET', '/api/v1/me/topups', as);
      case 'orders.create':
        return call(api.baseUrl, 'POST', '/api/v1/me/topups', { ...as, json: { amount: '5', provider: 'stripe' } });
      case 'settings.read':
        return call(api.baseUrl, 'GET', '/api/v1/payment-settings', as);
      case 'settings.update':
        return call(api.baseUrl, 'PUT', '/api/v1/payment-settings', { ...as, json: { minAmount: '1' } });
      case 'codes.create':
        return call(api.baseUrl, 'POST', '/api/v1/redemption-codes', { ...as, json: { count: 1, amount: '0.01' } });
      case 'codes.list':
        return call(api.baseUrl, 'GET', '/api/v1/redemption-codes', as);
      case 'codes.disable': {
        // A fresh code of the caller's tenant for each attempt.
        const owner = { host: tenant.domain, token: tokens.get(`${tenant.slug}:owner`) };
        const fresh = (await call(api.baseUrl, 'POST', '/api/v1/redemption-codes', { ...owner, json: { count: 1, amount: '0.01' } })).body.codes[0].id;
        return call(api.baseUrl, 'POST', `/api/v1/redemption-codes/${fresh}/disable`, as);
      }
      case 'redeem':
        return call(api.baseUrl, 'POST', '/api/v1/me/redeem', { ...as, json: { code: 'AAAAA-AAAAA-AAAAA-AAAAA-AAAAA' } });
    }
  }

  const rows: Array<['platform' | 'reseller', string, TopupCapability, number]> = [];
  for (const type of ['platform', 'reseller'] as const) {
    for (const [role, caps] of Object.entries(EXPECTED[type])) for (const [cap, status] of Object.entries(caps!)) rows.push([type, role, cap as TopupCapability, status]);
  }

  it.each(rows)('%s %s: %s -> %d', async (type, role, capability, status) => {
    const res = await perform(capability, type === 'platform' ? platform : reseller, role);
    expect({ status: res.status, code: res.status >= 400 ? res.body?.code : undefined }).toEqual({
      status,
      code: status === 403 ? 'forbidden' : status === 422 ? (capability === 'redeem' ? 'redemption_code_invalid' : 'payment_provider_not_enabled') : undefined,
    });
  });

  it.each(['owner', 'finance'])("reseller %s: another reseller's code is 404 and never listed", async (role) => {
    const as = { host: reseller.domain, token: tokens.get(`${reseller.slug}:${role}`) };
    expect((await call(api.baseUrl, 'POST', `/api/v1/redemption-codes/${otherCode}/disable`, as)).status).toBe(404);
    const list = await call(api.baseUrl, 'GET', '/api/v1/redemption-codes?pageSize=100', as);
    expect(list.body.items.map((c: { id: string }) => c.id)).not.toContain(otherCode);
  });
});
