import { importJWK, JWK, SignJWT } from 'jose';
import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { ACCESS_TOKEN_AUDIENCE } from '../../src/modules/auth/signing-keys';
import { RunningApp, startTestApi } from '../support/app';
import { login, me } from '../support/auth';
import { connectAs, uniqueSlug } from '../support/db';
import { call, HttpResult } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TEST_PASSWORD, TestTenant, Tokens } from '../support/identity';
import { expectInvalidFields, expectProblem } from '../support/problem';

/**
 * Privilege escalation attempts: granting roles one may not grant, granting oneself more, writing
 * fields the API does not expose (mass assignment), forged role claims, and other tenants' ids.
 * Every one is refused and changes nothing.
 */
describe('privilege escalation (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let platform: TestTenant;
  let reseller: TestTenant;
  let neighbour: TestTenant;
  const tokens: Record<string, Tokens> = {};

  beforeAll(async () => {
    system = await connectAs('system');
    api = await startTestApi();
    platform = await platformWithUsers(system, {
      pOwner: ['owner'],
      pOperator: ['operator'],
      pSales: ['sales'],
      pFinance: ['finance'],
      pTech: ['tech'],
      pTarget: ['user'],
    });
    reseller = await resellerWithUsers(system, { owner: ['owner'], sales: ['sales'], finance: ['finance'], target: ['user'] });
    neighbour = await resellerWithUsers(system, { owner: ['owner'], staff: ['sales'] });
    for (const name of ['pOwner', 'pOperator', 'pSales', 'pFinance', 'pTech']) tokens[name] = await signIn(api.baseUrl, platform, name);
    for (const name of ['owner', 'sales', 'finance']) tokens[name] = await signIn(api.baseUrl, reseller, name);
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  const at = (tenant: TestTenant, who: string) => ({
    invite: (json: unknown, target: TestTenant = tenant) =>
      call(api.baseUrl, 'POST', `/api/v1/tenants/${target.id}/members`, { host: tenant.domain, token: tokens[who].accessToken, json }),
    setRoles: (userId: string, json: unknown, target: TestTenant = tenant) =>
      call(api.baseUrl, 'PUT', `/api/v1/tenants/${target.id}/members/${userId}/roles`, { host: tenant.domain, token: tokens[who].accessToken, json }),
    patchTenant: (json: unknown, target: TestTenant = tenant) =>
      call(api.baseUrl, 'PATCH', `/api/v1/tenants/${target.id}`, { host: tenant.domain, token: tokens[who].accessToken, json }),
    createTenant: (json: unknown) => call(api.baseUrl, 'POST', '/api/v1/tenants', { host: tenant.domain, token: tokens[who].accessToken, json }),
  });

  const rolesOf = async (userId: string): Promise<string[]> =>
    (await system.query(`SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role`, [userId])).rows.map((r) => r.role);
  const usersWithEmail = async (email: string): Promise<number> =>
    (await system.query(`SELECT count(*)::int AS n FROM users WHERE lower(email) = lower($1)`, [email])).rows[0].n;

  describe('granting roles', () => {
    it('a reseller owner cannot grant tech or operator, by invitation or role change', async () => {
      const owner = at(reseller, 'owner');
      for (const role of ['tech', 'operator']) {
        const email = `${role}.${uniqueSlug('x')}@${reseller.domain}`;
        expectProblem(await owner.invite({ email, roles: [role] }), 403, 'role_not_grantable');
        expect(await usersWithEmail(email)).toBe(0);
        expectProblem(await owner.setRoles(reseller.users.target.id, { roles: ['user', role] }), 403, 'role_not_grantable');
        expectProblem(await owner.setRoles(reseller.users.owner.id, { roles: ['owner', role] }), 403, 'role_not_grantable');
      }
      expect(await rolesOf(reseller.users.target.id)).toEqual(['user']);
      expect(await rolesOf(reseller.users.owner.id)).toEqual(['owner']);
      // Nor can the platform's owner put them into a reseller.
      expectProblem(await at(platform, 'pOwner').setRoles(reseller.users.target.id, { roles: ['tech'] }, reseller), 403, 'role_not_grantable');
    });

    it('a sales user cannot make itself (or anyone) owner', async () => {
      const sales = at(reseller, 'sales');
      expectProblem(await sales.setRoles(reseller.users.sales.id, { roles: ['owner'] }), 403, 'forbidden');
      expectProblem(await sales.setRoles(reseller.users.sales.id, { roles: ['sales', 'owner'] }), 403, 'forbidden');
      expectProblem(await sales.setRoles(reseller.users.target.id, { roles: ['owner'] }), 403, 'forbidden');
      expectProblem(await sales.invite({ email: `accomplice.${uniqueSlug('x')}@${reseller.domain}`, roles: ['owner'] }), 403, 'forbidden');
      expectProblem(await at(reseller, 'finance').setRoles(reseller.users.finance.id, { roles: ['owner'] }), 403, 'forbidden');
      expect(await rolesOf(reseller.users.sales.id)).toEqual(['sales']);
      expect(await rolesOf(reseller.users.finance.id)).toEqual(['finance']);
      // And it still has only its own powers on the next request.
      const self = await me(api.baseUrl, tokens.sales.accessToken, reseller.domain);
      expect(self.body.roles).toEqual(['sales']);
    });

    it('a platform operator cannot grant owner, to itself or anyone, here or in a reseller', async () => {
      const operator = at(platform, 'pOperator');
      expectProblem(await operator.setRoles(platform.users.pOperator.id, { roles: ['owner'] }), 403, 'forbidden');
      expectProblem(await operator.setRoles(platform.users.pTarget.id, { roles: ['owner'] }), 403, 'forbidden');
      const email = `crown.${uniqueSlug('x')}@${platform.domain}`;
      expectProblem(await operator.invite({ email, roles: ['owner'] }), 403, 'role_not_grantable');
      expectProblem(await operator.invite({ email, roles: ['operator', 'owner'] }), 403, 'role_not_grantable');
      expectProblem(await operator.invite({ email: `crown@${reseller.domain}`, roles: ['owner'] }, reseller), 403, 'role_not_grantable');
      expect(await usersWithEmail(email)).toBe(0);
      expect(await rolesOf(platform.users.pOperator.id)).toEqual(['operator']);
      expect(await rolesOf(platform.users.pTarget.id)).toEqual(['user']);
      // What an operator may grant, it may.
      const allowed = await operator.invite({ email: `helper.${uniqueSlug('x')}@${platform.domain}`, roles: ['sales', 'tech'] });
      expect(allowed.status).toBe(201);
    });

    it('roles written into a forged token are not trusted: roles come from the database', async () => {
      // The api's own signing key stands in for a leaked one: even a validly signed token gets only the roles the database holds.
      const keys = api.config.JWT_SIGNING_KEYS as JWK[] | undefined;
      if (!keys) throw new Error('the test run has no shared signing key (global-setup sets JWT_SIGNING_KEYS)');
      const forged = await new SignJWT({ tid: reseller.id, tty: 'platform', roles: ['owner', 'operator', 'tech'], sid: uuidv7() })
        .setProtectedHeader({ alg: 'ES256', kid: keys[0].kid! })
        .setSubject(reseller.users.sales.id)
        .setJti(uuidv7())
        .setIssuer(api.config.PUBLIC_URL)
        .setAudience(ACCESS_TOKEN_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(await importJWK(keys[0], 'ES256'));
      const self = await me(api.baseUrl, forged, reseller.domain);
      expect(self.status).toBe(200);
      expect(self.body.roles).toEqual(['sales']);
      expect(self.body.tenant.type).toBe('reseller');
      expectProblem(
        await call(api.baseUrl, 'GET', `/api/v1/tenants/${reseller.id}/members`, { host: reseller.domain, token: forged }),
        403,
        'forbidden',
      );
      expectProblem(
        await call(api.baseUrl, 'POST', '/api/v1/tenants', { host: reseller.domain, token: forged, json: { slug: uniqueSlug('f'), name: 'Forged' } }),
        403,
        'forbidden',
      );
    });
  });

  describe('mass assignment', () => {
    it('refuses tenantId, tenant_id, status and other unexposed fields in an invitation, creating nothing', async () => {
      const owner = at(reseller, 'owner');
      const cases: Array<[string, Record<string, unknown>]> = [
        ['tenantId', { tenantId: neighbour.id }],
        ['tenant_id', { tenant_id: neighbour.id }],
        ['status', { status: 'active' }],
        ['passwordHash', { passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$AAAA$BBBB' }],
        ['id', { id: uuidv7() }],
      ];
      for (const [field, extra] of cases) {
        const email = `mass.${uniqueSlug('x')}@${reseller.domain}`;
        expectInvalidFields(await owner.invite({ email, roles: ['user'], ...extra }), [field], true);
        expect(await usersWithEmail(email)).toBe(0);
      }
      expectInvalidFields(await owner.setRoles(reseller.users.target.id, { roles: ['user'], tenantId: neighbour.id, userId: uuidv7() }), ['tenantId', 'userId'], true);
      expect(await rolesOf(reseller.users.target.id)).toEqual(['user']);
    });

    it('refuses status, slug, type, parent and ids in a tenant update, changing nothing', async () => {
      const before = (await system.query(`SELECT * FROM tenants WHERE id = $1`, [reseller.id])).rows[0];
      const owner = at(reseller, 'owner');
      const cases: Array<[string, Record<string, unknown>]> = [
        ['status', { status: 'disabled' }],
        ['tenantId', { tenantId: neighbour.id }],
        ['tenant_id', { tenant_id: neighbour.id }],
        ['slug', { slug: uniqueSlug('steal') }],
        ['type', { type: 'platform' }],
        ['parentId', { parentId: neighbour.id }],
        ['id', { id: neighbour.id }],
        ['domains', { domains: [`${uniqueSlug('d')}.example.test`] }],
      ];
      for (const [field, extra] of cases) {
        expectInvalidFields(await owner.patchTenant({ name: 'Changed', ...extra }), [field], true);
      }
      // The platform's owner cannot slip those in either.
      expectInvalidFields(await at(platform, 'pOwner').patchTenant({ status: 'disabled', type: 'platform' }, reseller), ['status', 'type'], true);
      const after = (await system.query(`SELECT * FROM tenants WHERE id = $1`, [reseller.id])).rows[0];
      expect(after).toEqual(before);
    });

    it('refuses status, type and id when creating a tenant', async () => {
      const operator = at(platform, 'pOperator');
      const slug = uniqueSlug('mass');
      for (const [field, extra] of [
        ['status', { status: 'disabled' }],
        ['type', { type: 'platform' }],
        ['id', { id: uuidv7() }],
        ['tenantId', { tenantId: platform.id }],
      ] as Array<[string, Record<string, unknown>]>) {
        expectInvalidFields(await operator.createTenant({ slug, name: 'Mass', ...extra }), [field], true);
      }
      expect((await system.query(`SELECT count(*)::int AS n FROM tenants WHERE slug = $1`, [slug])).rows[0].n).toBe(0);
    });

    it('refuses unknown fields at sign-in', async () => {
      const res = await call(api.baseUrl, 'POST', '/api/v1/auth/login', {
        host: reseller.domain,
        json: { email: reseller.users.sales.email, password: TEST_PASSWORD, tenantId: neighbour.id },
      });
      expectInvalidFields(res, ['tenantId'], true);
      // Naming another tenant than the domain's is a mismatch, not a way in.
      expectProblem(
        await login(api.baseUrl, { host: reseller.domain, email: reseller.users.sales.email, password: TEST_PASSWORD, tenant: neighbour.slug }),
        403,
        'tenant_mismatch',
      );
    });
  });

  describe('creating tenants', () => {
    it.each(['pSales', 'pFinance', 'pTech'])('is refused to platform %s', async (who) => {
      const slug = uniqueSlug('nope');
      expectProblem(await at(platform, who).createTenant({ slug, name: 'Not allowed' }), 403, 'forbidden');
      expect((await system.query(`SELECT count(*)::int AS n FROM tenants WHERE slug = $1`, [slug])).rows[0].n).toBe(0);
    });

    it('is refused to a reseller owner (no sub-resellers of its own making)', async () => {
      expectProblem(await at(reseller, 'owner').createTenant({ slug: uniqueSlug('sub'), name: 'Sub', parentId: reseller.id }), 403, 'forbidden');
    });

    it('is allowed to the platform owner and operator (the control)', async () => {
      expect((await at(platform, 'pOwner').createTenant({ slug: uniqueSlug('ok'), name: 'By owner' })).status).toBe(201);
      expect((await at(platform, 'pOperator').createTenant({ slug: uniqueSlug('ok'), name: 'By operator' })).status).toBe(201);
    });
  });

  describe("other tenants' ids in paths", () => {
    it("answers 404 for another tenant's members and tenants, under either tenant's path", async () => {
      const owner = at(reseller, 'owner');
      const foreign = [neighbour.users.staff.id, platform.users.pOwner.id, platform.users.pTarget.id];
      const results: HttpResult[] = [];
      for (const userId of foreign) {
        results.push(await owner.setRoles(userId, { roles: ['user'] }));
        results.push(await owner.setRoles(userId, { roles: ['user'] }, neighbour));
        results.push(await call(api.baseUrl, 'POST', `/api/v1/tenants/${reseller.id}/members/${userId}/disable`, { host: reseller.domain, token: tokens.owner.accessToken }));
        results.push(await call(api.baseUrl, 'DELETE', `/api/v1/tenants/${reseller.id}/members/${userId}`, { host: reseller.domain, token: tokens.owner.accessToken }));
        results.push(await call(api.baseUrl, 'GET', `/api/v1/tenants/${platform.id}/members/${userId}`, { host: reseller.domain, token: tokens.owner.accessToken }));
      }
      results.push(await owner.patchTenant({ name: 'Mine now' }, neighbour));
      results.push(await owner.patchTenant({ name: 'Mine now' }, platform));
      results.push(await owner.invite({ email: `spy@${neighbour.domain}`, roles: ['owner'] }, neighbour));
      for (const res of results) expectProblem(res, 404, 'not_found');
      // Filters naming another tenant find nothing rather than reveal it.
      const log = await call(api.baseUrl, 'GET', `/api/v1/audit-log?tenantId=${neighbour.id}`, { host: reseller.domain, token: tokens.owner.accessToken });
      expect(log.status).toBe(200);
      expect(log.body.items).toEqual([]);
      const list = await call(api.baseUrl, 'GET', '/api/v1/tenants?type=platform', { host: reseller.domain, token: tokens.owner.accessToken });
      expect(list.body).toMatchObject({ total: 0, items: [] });
      expect(await rolesOf(neighbour.users.staff.id)).toEqual(['sales']);
      expect(await rolesOf(platform.users.pOwner.id)).toEqual(['owner']);
      expect(await usersWithEmail(`spy@${neighbour.domain}`)).toBe(0);
    });
  });
});
