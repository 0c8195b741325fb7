import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { DomainVerificationSweep } from '../../src/modules/tenants/domain-verification.sweep';
import { DomainVerifier } from '../../src/modules/tenants/domain-verifier';
import { RunningApp, startTestApi, startTestWorker, testConfig } from '../support/app';
import { auditLog, login } from '../support/auth';
import { connectAs, uniqueSlug } from '../support/db';
import { startDnsServer, TestDnsServer } from '../support/dns-server';
import { call } from '../support/http';
import { resellerWithUsers, signIn, TEST_PASSWORD, TestTenant, Tokens } from '../support/identity';
import { expectProblem } from '../support/problem';
import { scaled } from '../support/timing';

/**
 * Domain ownership verification against a real DNS server and a real HTTP server on loopback: a
 * domain a reseller adds is pending and does not serve until its TXT record or token file shows the
 * token; other tenants cannot see or verify it, nor take it once verified; the worker re-checks
 * pending domains and removes stale ones; the HTTP check refuses private addresses by default.
 */
describe('domain verification (e2e)', () => {
  let system: Client;
  let dns: TestDnsServer;
  let web: Server;
  let api: RunningApp;
  let worker: RunningApp;
  /** path -> body the token-file server answers (anything else: 404). */
  const files = new Map<string, string>();
  let env: Record<string, string>;

  beforeAll(async () => {
    system = await connectAs('system');
    dns = await startDnsServer();
    web = createServer((req, res) => {
      const body = files.get(req.url ?? '');
      res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'text/plain' }).end(body ?? 'not here');
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    env = {
      DOMAIN_VERIFY_DNS_SERVERS: dns.server,
      DOMAIN_VERIFY_ALLOW_PRIVATE_NETWORKS: 'true',
      DOMAIN_VERIFY_HTTP_PORT: String((web.address() as AddressInfo).port),
      DOMAIN_VERIFY_TIMEOUT_MS: String(scaled(3000)),
      DOMAIN_VERIFY_INTERVAL_SECONDS: '0',
    };
    api = await startTestApi(env);
    worker = await startTestWorker(env);
  });

  afterAll(async () => {
    await worker?.close();
    await api?.close();
    await new Promise((resolve) => web?.close(resolve));
    await dns?.close();
    await system?.end();
  });

  const newDomain = (prefix = 'own') => `${uniqueSlug(prefix)}.example.test`;
  const as = (tenant: TestTenant, tokens: Tokens) => (method: string, path: string, json?: unknown) =>
    call(api.baseUrl, method, path, { host: tenant.domain, token: tokens.accessToken, json });
  const signInAt = (tenant: TestTenant, host: string) => login(api.baseUrl, { host, email: tenant.users.owner.email, password: TEST_PASSWORD });

  it('serves a domain only once its TXT record holds the token (not before, not with another token)', async () => {
    const shop = await resellerWithUsers(system, { owner: ['owner'] });
    const asOwner = as(shop, await signIn(api.baseUrl, shop, 'owner'));
    const domain = newDomain();

    const added = await asOwner('POST', `/api/v1/tenants/${shop.id}/domains`, { domain, isPrimary: true });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ domain, status: 'pending', isPrimary: false, verifiedAt: null });
    const { token, txtName, txtValue, httpUrl } = added.body.verification;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(txtName).toBe(`_aigateway-challenge.${domain}`);
    expect(txtValue).toBe(token);
    expect(httpUrl).toBe(`http://${domain}/.well-known/aigateway-verification/${token}`);
    // Pending: the Host is still nobody's.
    expectProblem(await signInAt(shop, domain), 404, 'unknown_tenant');
    const models = await call(api.baseUrl, 'GET', '/v1/models', { host: domain });
    expect([models.status, models.body?.error?.code]).toEqual([404, 'unknown_tenant']);

    const verifyPath = `/api/v1/tenants/${shop.id}/domains/${added.body.id}/verify`;
    const none = await asOwner('POST', verifyPath);
    expect(none.status).toBe(200);
    expect(none.body.status).toBe('pending');
    expect(none.body.verification.lastCheckError).toContain(`no TXT record _aigateway-challenge.${domain}`);
    expect(none.body.verification.lastCheckedAt).not.toBeNull();

    dns.txt.set(txtName, ['someone-elses-token-0123456789abcdef0123456']);
    const wrong = await asOwner('POST', verifyPath);
    expect(wrong.body.status).toBe('pending');
    expect(wrong.body.verification.lastCheckError).toContain('does not hold the token');
    expectProblem(await signInAt(shop, domain), 404, 'unknown_tenant');

    dns.txt.set(txtName, ['v=other', token]);
    const ok = await asOwner('POST', verifyPath);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ domain, status: 'verified', verification: null, isPrimary: true });
    expect(ok.body.verifiedAt).not.toBeNull();
    const at = await signInAt(shop, domain);
    expect(at.status).toBe(200);

    const listed = (await asOwner('GET', `/api/v1/tenants/${shop.id}/domains`)).body;
    expect(listed.find((d: { domain: string }) => d.domain === domain)).toMatchObject({ status: 'verified', isPrimary: true });
    const entries = await auditLog(api.baseUrl, shop, await signIn(api.baseUrl, shop, 'owner'), {});
    const verified = entries.find((e) => e.action === 'tenant.domain_verified');
    expect(verified).toBeDefined();
    expect(verified!.subjectId).toBe(added.body.id);
    expect(entries.map((e) => e.action)).toContain('tenant.domain_added');
  });

  it('verifies through the HTTP token file on the domain\'s current web server (a wrong body does not)', async () => {
    const shop = await resellerWithUsers(system, { owner: ['owner'], tech: ['tech'], sales: ['sales'] });
    const asOwner = as(shop, await signIn(api.baseUrl, shop, 'owner'));
    const asTech = as(shop, await signIn(api.baseUrl, shop, 'tech'));
    const asSales = as(shop, await signIn(api.baseUrl, shop, 'sales'));
    const domain = newDomain('http');
    dns.a.set(domain, '127.0.0.1');
    const added = (await asOwner('POST', `/api/v1/tenants/${shop.id}/domains`, { domain })).body;
    const path = `/.well-known/aigateway-verification/${added.verification.token}`;
    const verifyPath = `/api/v1/tenants/${shop.id}/domains/${added.id}/verify`;

    files.set(path, 'not-the-token');
    const wrong = await asTech('POST', verifyPath);
    expect(wrong.status).toBe(200);
    expect(wrong.body.status).toBe('pending');
    expect(wrong.body.verification.lastCheckError).toContain('the token file does not hold the token');

    // Sales may not run verification; tech may.
    expectProblem(await asSales('POST', verifyPath), 403, 'forbidden');
    files.set(path, `${added.verification.token}\n`);
    const ok = await asTech('POST', verifyPath);
    expect(ok.body.status).toBe('verified');
    expect(ok.body.isPrimary).toBe(false);
    expect((await signInAt(shop, domain)).status).toBe(200);
    const entries = await auditLog(api.baseUrl, shop, await signIn(api.baseUrl, shop, 'owner'), { action: 'tenant.domain_verified' });
    expect(entries.find((e) => e.subjectId === added.id)?.changes).toEqual(expect.objectContaining({ method: expect.objectContaining({ to: 'http' }) }));
  });

  it("keeps a tenant's pending domain from other tenants, refuses a verified one, and lets it go to a second tenant once removed", async () => {
    const first = await resellerWithUsers(system, { owner: ['owner'] });
    const second = await resellerWithUsers(system, { owner: ['owner'] });
    const asFirst = as(first, await signIn(api.baseUrl, first, 'owner'));
    const asSecond = as(second, await signIn(api.baseUrl, second, 'owner'));
    const domain = newDomain('contested');

    const mine = (await asFirst('POST', `/api/v1/tenants/${first.id}/domains`, { domain })).body;
    // Another tenant cannot see, verify or remove it, through either tenant's path.
    for (const tenantId of [first.id, second.id]) {
      expectProblem(await asSecond('POST', `/api/v1/tenants/${tenantId}/domains/${mine.id}/verify`), 404, 'not_found');
      expectProblem(await asSecond('DELETE', `/api/v1/tenants/${tenantId}/domains/${mine.id}`), 404, 'not_found');
    }
    expectProblem(await asSecond('GET', `/api/v1/tenants/${first.id}/domains`), 404, 'not_found');
    // A pending claim does not block another (no squatting on a name one does not control)...
    const theirs = (await asSecond('POST', `/api/v1/tenants/${second.id}/domains`, { domain })).body;
    expect(theirs.status).toBe('pending');
    expect(theirs.verification.token).not.toBe(mine.verification.token);
    // ...and the second tenant's token does not verify the first's claim.
    dns.txt.set(`_aigateway-challenge.${domain}`, [theirs.verification.token]);
    expect((await asFirst('POST', `/api/v1/tenants/${first.id}/domains/${mine.id}/verify`)).body.status).toBe('pending');

    dns.txt.set(`_aigateway-challenge.${domain}`, [mine.verification.token]);
    expect((await asFirst('POST', `/api/v1/tenants/${first.id}/domains/${mine.id}/verify`)).body.status).toBe('verified');
    // Verified by the first: the second may neither add it again nor verify its old claim.
    expectProblem(await asSecond('POST', `/api/v1/tenants/${second.id}/domains`, { domain }), 409, 'domain_taken');
    dns.txt.set(`_aigateway-challenge.${domain}`, [mine.verification.token, theirs.verification.token]);
    expectProblem(await asSecond('POST', `/api/v1/tenants/${second.id}/domains/${theirs.id}/verify`), 409, 'domain_taken');
    expect((await signInAt(first, domain)).status).toBe(200);

    // The first lets go: the second's claim verifies, and the Host follows at once.
    expect((await asFirst('DELETE', `/api/v1/tenants/${first.id}/domains/${mine.id}`)).status).toBe(204);
    expectProblem(await signInAt(first, domain), 404, 'unknown_tenant');
    expect((await asSecond('POST', `/api/v1/tenants/${second.id}/domains/${theirs.id}/verify`)).body.status).toBe('verified');
    expect((await signInAt(second, domain)).status).toBe(200);
    expectProblem(await signInAt(first, domain), 401, 'invalid_credentials');
  });

  it('the worker verifies pending domains whose record appeared, and removes those pending too long', async () => {
    const shop = await resellerWithUsers(system, { owner: ['owner'] });
    const owner = await signIn(api.baseUrl, shop, 'owner');
    const asOwner = as(shop, owner);
    const ready = (await asOwner('POST', `/api/v1/tenants/${shop.id}/domains`, { domain: newDomain('ready') })).body;
    const stale = (await asOwner('POST', `/api/v1/tenants/${shop.id}/domains`, { domain: newDomain('stale') })).body;
    const waiting = (await asOwner('POST', `/api/v1/tenants/${shop.id}/domains`, { domain: newDomain('waiting') })).body;
    dns.txt.set(ready.verification.txtName, [ready.verification.token]);
    await system.query(`UPDATE tenant_domains SET created_at = now() - interval '8 days' WHERE id = $1`, [stale.id]);

    await worker.app.get(DomainVerificationSweep).run();

    const rows = (await system.query(`SELECT id, status, last_check_error FROM tenant_domains WHERE tenant_id = $1`, [shop.id])).rows;
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(ready.id)?.status).toBe('verified');
    expect(byId.has(stale.id)).toBe(false);
    expect(byId.get(waiting.id)).toMatchObject({ status: 'pending', last_check_error: expect.stringContaining('no TXT record') });
    expect((await signInAt(shop, ready.domain)).status).toBe(200);
    const entries = await auditLog(api.baseUrl, shop, owner, {});
    expect(entries.find((e) => e.action === 'tenant.domain_expired')?.subjectId).toBe(stale.id);
    expect(entries.find((e) => e.action === 'tenant.domain_verified')?.subjectId).toBe(ready.id);
  });

  it('refuses to fetch the token file from a private address unless allowed, and bounds a silent DNS server', async () => {
    const domain = newDomain('private');
    dns.a.set(domain, '127.0.0.1');
    files.set('/.well-known/aigateway-verification/tok-0123456789abcdef', 'tok-0123456789abcdef');
    const guarded = new DomainVerifier(testConfig({ ...env, DOMAIN_VERIFY_ALLOW_PRIVATE_NETWORKS: 'false' }));
    const open = new DomainVerifier(testConfig(env));
    try {
      expect(await guarded.checkHttp(domain, 'tok-0123456789abcdef')).toBe('the domain resolves to an address that is not allowed');
      expect(await open.checkHttp(domain, 'tok-0123456789abcdef')).toBe(true);
    } finally {
      await guarded.onModuleDestroy();
      await open.onModuleDestroy();
    }
    // A DNS server that never answers: the check ends with a reason, not a hang.
    const silent = require('node:dgram').createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    const mute = new DomainVerifier(testConfig({ ...env, DOMAIN_VERIFY_DNS_SERVERS: `127.0.0.1:${silent.address().port}`, DOMAIN_VERIFY_TIMEOUT_MS: '300' }));
    try {
      expect(await mute.checkTxt(domain, 'tok-0123456789abcdef')).toMatch(/TXT lookup of .* failed/);
    } finally {
      await mute.onModuleDestroy();
      silent.close();
    }
  });
});
