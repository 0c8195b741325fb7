import { Client } from 'pg';
import { TenantResolver } from '@app/tenancy';
import { RunningApp, startTestApi } from '../support/app';
import { auditLog, login, me } from '../support/auth';
import { connectAs, uniqueSlug } from '../support/db';
import { call } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TEST_PASSWORD, TestTenant, Tokens } from '../support/identity';
import { expectInvalidFields, expectProblem } from '../support/problem';

/**
 * Tenants: the platform creates, edits, disables and re-enables resellers; a reseller edits its own
 * settings and domains; slugs and domains are unique and validated; the Host follows at once.
 */
describe('tenants (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let platform: TestTenant;
  let operator: Tokens;

  beforeAll(async () => {
    system = await connectAs('system');
    api = await startTestApi();
    platform = await platformWithUsers(system, { operator: ['operator'] });
    operator = await signIn(api.baseUrl, platform, 'operator');
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  const asOperator = (method: string, path: string, json?: unknown) =>
    call(api.baseUrl, method, path, { host: platform.domain, token: operator.accessToken, json });
  const createTenant = (json: unknown) => asOperator('POST', '/api/v1/tenants', json);
  const newDomain = (prefix = 'd') => `${uniqueSlug(prefix)}.example.test`;

  describe('creation', () => {
    it('creates a reseller with its domains, the first one primary', async () => {
      const slug = uniqueSlug('new');
      const [primary, secondary] = [newDomain(), newDomain()];
      const res = await createTenant({
        slug: slug.toUpperCase(),
        name: '  Northwind AI  ',
        domains: [primary.toUpperCase(), secondary, primary],
        branding: { themeColor: '#0a0B0c', logoUrl: 'https://cdn.example.test/logo.png', displayName: 'Northwind' },
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        type: 'reseller',
        slug,
        name: 'Northwind AI',
        status: 'active',
        parentId: null,
        branding: { themeColor: '#0a0B0c', logoUrl: 'https://cdn.example.test/logo.png', displayName: 'Northwind' },
        domains: [
          { domain: primary, isPrimary: true },
          { domain: secondary, isPrimary: false },
        ],
      });
      // The new domain resolves at once (no stale "unknown host" answer).
      const signInThere = await login(api.baseUrl, { host: secondary, email: `nobody@${secondary}`, password: TEST_PASSWORD });
      expectProblem(signInThere, 401, 'invalid_credentials');
    });

    it('refuses a slug that is taken', async () => {
      const slug = uniqueSlug('dup');
      expect((await createTenant({ slug, name: 'First' })).status).toBe(201);
      expectProblem(await createTenant({ slug, name: 'Second' }), 409, 'tenant_slug_taken');
      expectProblem(await createTenant({ slug: platform.slug, name: 'Platform again' }), 409, 'tenant_slug_taken');
    });

    it('refuses a domain that is taken, by anyone, creating nothing', async () => {
      const domain = newDomain();
      expect((await createTenant({ slug: uniqueSlug('a'), name: 'A', domains: [domain] })).status).toBe(201);
      const slug = uniqueSlug('b');
      for (const taken of [domain, platform.domain, domain.toUpperCase()]) {
        const res = await createTenant({ slug, name: 'B', domains: [newDomain(), taken] });
        expectProblem(res, 409, 'domain_taken');
      }
      const list = await asOperator('GET', `/api/v1/tenants?q=${slug}`);
      expect(list.body.total).toBe(0);
    });

    it('refuses invalid slugs, names, domains, branding and parents, naming the fields', async () => {
      const ok = { slug: uniqueSlug('v'), name: 'Valid' };
      expectInvalidFields(await createTenant({ ...ok, slug: 'Not A Slug!' }), ['slug'], true);
      expectInvalidFields(await createTenant({ ...ok, slug: '-dash-first' }), ['slug'], true);
      expectInvalidFields(await createTenant({ ...ok, slug: 'x'.repeat(64) }), ['slug'], true);
      expectInvalidFields(await createTenant({ slug: ok.slug }), ['name'], true);
      expectInvalidFields(await createTenant({ ...ok, name: '' }), ['name'], true);
      expectInvalidFields(await createTenant({ ...ok, name: '   ' }), ['name'], true);
      expectInvalidFields(await createTenant({ ...ok, name: 'x'.repeat(201) }), ['name'], true);
      for (const domain of ['https://api.example.test', 'api.example.test:8443', 'api.example.test/path', 'localhost', 'bad_domain.example.test', '-x.example.test', '']) {
        expectInvalidFields(await createTenant({ ...ok, domains: [domain] }), ['domains'], true);
      }
      expectInvalidFields(await createTenant({ ...ok, domains: 'api.example.test' }), ['domains']);
      expectInvalidFields(await createTenant({ ...ok, branding: { themeColor: 'red' } }), ['branding.themeColor'], true);
      expectInvalidFields(await createTenant({ ...ok, branding: { logoUrl: 'http://cdn.example.test/logo.png' } }), ['branding.logoUrl'], true);
      expectInvalidFields(await createTenant({ ...ok, branding: { logoUrl: 'javascript:alert(1)' } }), ['branding.logoUrl'], true);
      expectInvalidFields(await createTenant({ ...ok, branding: { script: '<script>' } }), ['branding.script'], true);
      expectInvalidFields(await createTenant({ ...ok, branding: 'blue' }), ['branding']);
      expectInvalidFields(await createTenant({ ...ok, branding: [{ themeColor: '#112233' }] }), ['branding'], true);
      expectInvalidFields(await createTenant({ ...ok, parentId: 'nope' }), ['parentId'], true);
      const several = await createTenant({ slug: 'BAD SLUG', name: '', domains: ['x'], branding: { themeColor: 'red' } });
      expectInvalidFields(several, ['slug', 'name', 'domains', 'branding.themeColor'], true);
      // Nothing was created by any of them.
      expect((await asOperator('GET', `/api/v1/tenants?q=${ok.slug}`)).body.total).toBe(0);
    });

    it('lets one of two concurrent creations with one slug or domain win, the other gets a clear 409', async () => {
      const slug = uniqueSlug('race');
      const bySlug = await Promise.all([createTenant({ slug, name: 'One' }), createTenant({ slug, name: 'Two' })]);
      expect(bySlug.map((r) => r.status).sort()).toEqual([201, 409]);
      expectProblem(bySlug.find((r) => r.status === 409)!, 409, 'tenant_slug_taken');

      const domain = newDomain('race');
      const byDomain = await Promise.all([
        createTenant({ slug: uniqueSlug('r1'), name: 'One', domains: [domain] }),
        createTenant({ slug: uniqueSlug('r2'), name: 'Two', domains: [domain] }),
      ]);
      expect(byDomain.map((r) => r.status).sort()).toEqual([201, 409]);
      expectProblem(byDomain.find((r) => r.status === 409)!, 409, 'domain_taken');
    });

    it('accepts a reseller parent, refuses the platform or an unknown tenant as parent', async () => {
      const parent = await createTenant({ slug: uniqueSlug('parent'), name: 'Parent' });
      const child = await createTenant({ slug: uniqueSlug('child'), name: 'Child', parentId: parent.body.id });
      expect(child.status).toBe(201);
      expect(child.body.parentId).toBe(parent.body.id);
      expectProblem(await createTenant({ slug: uniqueSlug('c'), name: 'C', parentId: platform.id }), 400, 'invalid_parent_tenant');
      expectProblem(await createTenant({ slug: uniqueSlug('c'), name: 'C', parentId: '0195f000-0000-7000-8000-000000000000' }), 400, 'invalid_parent_tenant');
    });
  });

  describe('settings', () => {
    it("lets a reseller owner edit its own tenant's name and branding, not another's", async () => {
      const mine = await resellerWithUsers(system, { owner: ['owner'] });
      const theirs = await resellerWithUsers(system, { owner: ['owner'] });
      const owner = await signIn(api.baseUrl, mine, 'owner');
      const patch = (tenant: TestTenant, json: unknown) =>
        call(api.baseUrl, 'PATCH', `/api/v1/tenants/${tenant.id}`, { host: mine.domain, token: owner.accessToken, json });

      const first = await patch(mine, { name: 'Mine, renamed', branding: { themeColor: '#123456' } });
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ id: mine.id, name: 'Mine, renamed', branding: { themeColor: '#123456' } });
      // Branding is merged, not replaced.
      const second = await patch(mine, { branding: { displayName: 'Mine' } });
      expect(second.body.branding).toEqual({ themeColor: '#123456', displayName: 'Mine' });
      expectInvalidFields(await patch(mine, { name: '   ' }), ['name'], true);
      expectInvalidFields(await patch(mine, { branding: { themeColor: '#12345' } }), ['branding.themeColor'], true);
      expectInvalidFields(await patch(mine, { name: null }), ['name'], true);
      expectInvalidFields(await patch(mine, { branding: [{ themeColor: '#654321' }] }), ['branding'], true);
      expect((await patch(mine, {})).body).toMatchObject({ name: 'Mine, renamed', branding: { themeColor: '#123456', displayName: 'Mine' } });

      expectProblem(await patch(theirs, { name: 'Hijacked' }), 404, 'not_found');
      expectProblem(await patch(platform, { name: 'Hijacked' }), 404, 'not_found');
      const [row] = (await system.query(`SELECT name FROM tenants WHERE id = $1`, [theirs.id])).rows;
      expect(row.name).toBe(`Reseller ${theirs.slug}`);

      const list = await call(api.baseUrl, 'GET', '/api/v1/tenants', { host: mine.domain, token: owner.accessToken });
      expect(list.status).toBe(200);
      expect(list.body.items.map((t: { id: string }) => t.id)).toEqual([mine.id]);

      const entries = await auditLog(api.baseUrl, mine, owner, { action: 'tenant.updated' });
      expect(entries[entries.length - 1]).toMatchObject({
        subjectId: mine.id,
        actorUserId: mine.users.owner.id,
        changes: { name: { from: `Reseller ${mine.slug}`, to: 'Mine, renamed' }, branding: { from: {}, to: { themeColor: '#123456' } } },
      });
    });
  });

  describe('disabling', () => {
    it("stops a disabled reseller's sign-ins and tokens at once, and enabling restores them", async () => {
      const shop = await resellerWithUsers(system, { owner: ['owner'], staff: ['sales'] });
      const owner = await signIn(api.baseUrl, shop, 'owner');
      const signInOwner = (host: string, slug?: string) =>
        login(api.baseUrl, { host, email: shop.users.owner.email, password: TEST_PASSWORD, tenant: slug });
      expect((await me(api.baseUrl, owner.accessToken, shop.domain)).status).toBe(200);

      const disabled = await asOperator('POST', `/api/v1/tenants/${shop.id}/disable`);
      expect(disabled.status).toBe(200);
      expect(disabled.body.status).toBe('disabled');

      expectProblem(await signInOwner(shop.domain), 403, 'tenant_disabled');
      expectProblem(await signInOwner(shop.domain, shop.slug), 403, 'tenant_disabled');
      expectProblem(await me(api.baseUrl, owner.accessToken, shop.domain), 403, 'tenant_disabled');
      expectProblem(await call(api.baseUrl, 'POST', '/api/v1/auth/refresh', { host: shop.domain, json: { refreshToken: owner.refreshToken } }), 403, 'tenant_disabled');
      // A reset request answers as always, and mails nothing (tested in auth-password-reset).
      const reset = await call(api.baseUrl, 'POST', '/api/v1/auth/password-reset', { host: shop.domain, json: { email: shop.users.owner.email } });
      expect(reset.status).toBe(202);

      const enabled = await asOperator('POST', `/api/v1/tenants/${shop.id}/enable`);
      expect(enabled.status).toBe(200);
      expect(enabled.body.status).toBe('active');
      const again = await signInOwner(shop.domain);
      expect(again.status).toBe(200);
      expect((await me(api.baseUrl, again.body.accessToken, shop.domain)).status).toBe(200);
      expect((await signInOwner(shop.domain, shop.slug)).status).toBe(200);

      const log = await auditLog(api.baseUrl, shop, again.body, {});
      const actions = log.map((e) => e.action);
      expect(actions).toEqual(expect.arrayContaining(['tenant.disabled', 'tenant.enabled']));
      // The reseller sees the platform's operator as platform staff, without their id (issue 7).
      expect(log.find((e) => e.action === 'tenant.disabled')).toMatchObject({
        actorKind: 'platform_staff',
        actorUserId: null,
        actorTenantId: null,
        changes: { status: { from: 'active', to: 'disabled' } },
      });
    });

    it('refuses to disable the platform tenant, and resellers cannot disable themselves', async () => {
      expectProblem(await asOperator('POST', `/api/v1/tenants/${platform.id}/disable`), 403, 'platform_tenant_immutable');
      const shop = await resellerWithUsers(system, { owner: ['owner'] });
      const owner = await signIn(api.baseUrl, shop, 'owner');
      expectProblem(
        await call(api.baseUrl, 'POST', `/api/v1/tenants/${shop.id}/disable`, { host: shop.domain, token: owner.accessToken }),
        403,
        'forbidden',
      );
      expectProblem(await asOperator('POST', '/api/v1/tenants/not-a-uuid/disable'), 404, 'not_found');
    });
  });

  describe('domains', () => {
    it('adds and removes domains, and the Host follows at once', async () => {
      const shop = await resellerWithUsers(system, { owner: ['owner'] });
      const owner = await signIn(api.baseUrl, shop, 'owner');
      const asOwner = (method: string, path: string, json?: unknown) =>
        call(api.baseUrl, method, path, { host: shop.domain, token: owner.accessToken, json });
      const signInAt = (host: string) => login(api.baseUrl, { host, email: shop.users.owner.email, password: TEST_PASSWORD });

      const extra = newDomain('extra');
      // Not a tenant domain yet (and that answer may be cached).
      expectProblem(await signInAt(extra), 404, 'unknown_tenant');

      const added = await asOwner('POST', `/api/v1/tenants/${shop.id}/domains`, { domain: extra.toUpperCase() });
      expect(added.status).toBe(201);
      // A reseller's own domain is pending until verified (domain-verification.spec checks the real DNS/HTTP proofs).
      expect(added.body).toMatchObject({ domain: extra, isPrimary: false, status: 'pending' });
      expectProblem(await signInAt(extra), 404, 'unknown_tenant');
      await system.query(`UPDATE tenant_domains SET status = 'verified', verified_at = now(), verification_token = NULL WHERE id = $1`, [added.body.id]);
      await api.app.get(TenantResolver).invalidateTenant(shop.id);
      const atExtra = await signInAt(extra);
      expect(atExtra.status).toBe(200);
      expect((await me(api.baseUrl, atExtra.body.accessToken, extra)).body.tenant.id).toBe(shop.id);

      const listed = await asOwner('GET', `/api/v1/tenants/${shop.id}/domains`);
      expect(listed.body.map((d: { domain: string }) => d.domain)).toEqual([shop.domain, extra]);

      expectProblem(await asOwner('POST', `/api/v1/tenants/${shop.id}/domains`, { domain: extra }), 409, 'domain_taken');
      expectProblem(await asOwner('POST', `/api/v1/tenants/${shop.id}/domains`, { domain: platform.domain }), 409, 'domain_taken');
      expectInvalidFields(await asOwner('POST', `/api/v1/tenants/${shop.id}/domains`, { domain: 'https://x.example.test' }), ['domain'], true);
      expectInvalidFields(await asOwner('POST', `/api/v1/tenants/${shop.id}/domains`, { domain: extra, tenantId: platform.id }), ['tenantId'], true);

      expect((await asOwner('DELETE', `/api/v1/tenants/${shop.id}/domains/${added.body.id}`)).status).toBe(204);
      expectProblem(await signInAt(extra), 404, 'unknown_tenant');
      // A token used at the removed domain is refused there (no fallback to its tenant); it still works at home.
      expectProblem(await me(api.baseUrl, atExtra.body.accessToken, extra), 404, 'unknown_tenant');
      expect((await me(api.baseUrl, atExtra.body.accessToken, shop.domain)).status).toBe(200);
      expectProblem(await asOwner('DELETE', `/api/v1/tenants/${shop.id}/domains/${added.body.id}`), 404, 'not_found');

      const entries = await auditLog(api.baseUrl, shop, owner, {});
      expect(entries.map((e) => e.action)).toEqual(expect.arrayContaining(['tenant.domain_added', 'tenant.domain_removed']));
    });

    it("lets a new primary domain take over, and keeps other tenants' domains out of reach", async () => {
      const shop = await resellerWithUsers(system, { owner: ['owner'] });
      const theirs = await resellerWithUsers(system, { owner: ['owner'] });
      const owner = await signIn(api.baseUrl, shop, 'owner');
      const asOwner = (method: string, path: string, json?: unknown) =>
        call(api.baseUrl, method, path, { host: shop.domain, token: owner.accessToken, json });

      // Added by the platform's staff, a domain serves (and takes over as primary) at once.
      const primary = newDomain('primary');
      const added = await asOperator('POST', `/api/v1/tenants/${shop.id}/domains`, { domain: primary, isPrimary: true });
      expect(added.body).toMatchObject({ isPrimary: true, status: 'verified', verification: null });
      const domains = (await asOwner('GET', `/api/v1/tenants/${shop.id}/domains`)).body;
      expect(domains.filter((d: { isPrimary: boolean }) => d.isPrimary).map((d: { domain: string }) => d.domain)).toEqual([primary]);

      const theirDomains = (await system.query(`SELECT id FROM tenant_domains WHERE tenant_id = $1`, [theirs.id])).rows;
      expectProblem(await asOwner('DELETE', `/api/v1/tenants/${shop.id}/domains/${theirDomains[0].id}`), 404, 'not_found');
      expectProblem(await asOwner('DELETE', `/api/v1/tenants/${theirs.id}/domains/${theirDomains[0].id}`), 404, 'not_found');
      expectProblem(await asOwner('GET', `/api/v1/tenants/${theirs.id}/domains`), 404, 'not_found');
      expectProblem(await asOwner('POST', `/api/v1/tenants/${theirs.id}/domains`, { domain: newDomain() }), 404, 'not_found');
      expect((await system.query(`SELECT count(*)::int AS n FROM tenant_domains WHERE tenant_id = $1`, [theirs.id])).rows[0].n).toBe(1);
    });
  });
});
