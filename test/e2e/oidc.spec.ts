import { Client } from 'pg';
import { generate } from 'otplib';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs } from '../support/db';
import { call, HttpResult } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TestTenant } from '../support/identity';
import { authorizeAtProvider, OidcBrowser, OidcTestProvider, startOidcProvider } from '../support/oidc';
import { captureLogs } from '../support/log-capture';
import { expectProblem } from '../support/problem';

const SECRET_A = 'shop-a-client-secret-0123456789abcdef';
const SECRET_B = 'shop-b-client-secret-fedcba9876543210';
const SECRET_P = 'platform-client-secret-5555555555';
const FLOW_COOKIE = '__Host-aigw_oidc';
const SESSION_COOKIE = '__Host-aigw_refresh';

/**
 * OpenID Connect sign-in per tenant (issue 25) against a real provider (`oidc-provider`, run in a
 * child process): code + PKCE, state and nonce once, issuer and audience checked, accounts matched
 * by verified e-mail within the tenant only, or created when the tenant allows; the client secret
 * is never returned.
 */
describe('OIDC sign-in (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let shopA: TestTenant;
  let shopB: TestTenant;
  let platform: TestTenant;
  let provider: OidcTestProvider;
  /** Another provider that knows the same clients: a mix-up attacker's, or just the wrong one. */
  let other: OidcTestProvider;
  const owners: Record<string, string> = {};
  let newcomer: string;

  const callbackOf = (t: TestTenant) => `http://${t.domain}/api/v1/auth/oidc/callback`;

  beforeAll(async () => {
    system = await connectAs('system');
    // Each visitor (OidcBrowser) has an address of its own, as a trusted proxy states it.
    api = await startTestApi({ OIDC_ALLOW_PRIVATE_NETWORKS: 'true', OIDC_START_MAX_PER_IP_MINUTE: '3', TRUST_PROXY: 'true', LOG_LEVEL: 'warn' });
    shopA = await resellerWithUsers(system, { owner: ['owner'], alice: ['user'], carol: ['user'], tina: ['user'], dave: ['user'], sam: ['sales'] });
    shopB = await resellerWithUsers(system, { owner: ['owner'], bob: ['user'] });
    platform = await platformWithUsers(system, { powner: ['owner'], pat: ['operator'] });
    newcomer = `newcomer.${shopA.slug}@example.com`;
    const clients = [
      { client_id: 'shop-a', client_secret: SECRET_A, redirect_uris: [callbackOf(shopA)] },
      { client_id: 'shop-b', client_secret: SECRET_B, redirect_uris: [callbackOf(shopB)] },
      { client_id: 'platform', client_secret: SECRET_P, redirect_uris: [callbackOf(platform)] },
    ];
    const accounts = {
      alice: { email: shopA.users.alice.email.toUpperCase(), email_verified: true, name: 'Alice' },
      carol: { email: shopA.users.carol.email, email_verified: false },
      tina: { email: shopA.users.tina.email, email_verified: true },
      dave: { email: shopA.users.dave.email, email_verified: true },
      bob: { email: shopB.users.bob.email, email_verified: true },
      newcomer: { email: newcomer, email_verified: true, name: 'New Comer' },
      stranger: { email: `stranger.${shopA.slug}@elsewhere.example`, email_verified: true },
      pat: { email: platform.users.pat.email, email_verified: true },
    };
    [provider, other] = await Promise.all([startOidcProvider(clients, accounts), startOidcProvider(clients, accounts)]);
    for (const [tenant, name] of [[shopA, 'owner'], [shopB, 'owner'], [platform, 'powner']] as const) {
      owners[tenant.id] = (await signIn(api.baseUrl, tenant, name)).accessToken;
    }
  });

  afterAll(async () => {
    await Promise.all([provider?.close(), other?.close()]);
    await api?.close();
    await system?.end();
  });

  const configure = (tenant: TestTenant, json: Record<string, unknown>, token = owners[tenant.id]) =>
    call(api.baseUrl, 'PUT', '/api/v1/identity-settings/oidc', { host: tenant.domain, token, json });
  const settingsFor = (tenant: TestTenant, clientId: string, clientSecret: string) => ({
    enabled: true,
    displayName: 'Acme SSO',
    issuerUrl: provider.issuer,
    clientId,
    clientSecret,
    createAccounts: false,
  });
  const sessionsOf = async (userId: string) => Number((await system.query(`SELECT count(DISTINCT family_id) FROM refresh_tokens WHERE user_id = $1`, [userId])).rows[0].count);

  /**
   * The visitor is sent back to the sign-in page with `code` and no session; the log (captured
   * while it runs: the api logs at warn here) says why, matching `reason`.
   */
  async function refused(run: () => Promise<HttpResult>, code: string, reason?: RegExp): Promise<void> {
    const logs = captureLogs();
    let res: HttpResult;
    try {
      res = await run();
    } finally {
      logs.stop();
    }
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`/console/sign-in?oidc_error=${code}`);
    expect(String(res.headers['set-cookie'] ?? '')).not.toContain(`${SESSION_COOKIE}=`);
    if (reason) expect(logs.text).toMatch(reason);
  }

  /** Starts at the tenant's domain, signs in at the provider as `account`, and returns the browser and the provider's answer. */
  async function authorize(tenant: TestTenant, account: string, tamper: (url: URL) => URL = (u) => u, next?: string) {
    const browser = new OidcBrowser(api.baseUrl);
    const started = await browser.start(tenant.domain, next);
    expect(started.status).toBe(302);
    const authorization = new URL(started.headers.location as string);
    const redirect = await authorizeAtProvider(tamper(authorization).toString(), account);
    return { browser, authorization, redirect };
  }

  /** With the session cookie the callback set, the console's refresh gives an access token: whose? */
  async function signedInAs(browser: OidcBrowser, tenant: TestTenant): Promise<string> {
    const refresh = await call(api.baseUrl, 'POST', '/api/v1/auth/refresh', {
      host: tenant.domain,
      headers: { cookie: `${SESSION_COOKIE}=${browser.jar.get(SESSION_COOKIE)}`, 'x-aigw-csrf': '1' },
      json: {},
    });
    expect(refresh.status).toBe(200);
    const me = await call(api.baseUrl, 'GET', '/api/v1/me', { host: tenant.domain, token: refresh.body.accessToken });
    return me.body.user.id;
  }

  it('an owner configures it; the client secret is sealed and never returned by any API', async () => {
    expectProblem(await configure(shopA, settingsFor(shopA, 'shop-a', SECRET_A), (await signIn(api.baseUrl, shopA, 'sam')).accessToken), 403, 'forbidden');
    const { clientSecret: _none, ...withoutSecret } = settingsFor(shopA, 'shop-a', SECRET_A);
    expectProblem(await configure(shopA, withoutSecret), 400, 'validation_failed');

    const put = await configure(shopA, settingsFor(shopA, 'shop-a', SECRET_A));
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ configured: true, enabled: true, clientId: 'shop-a', clientSecretSet: true, redirectUri: callbackOf(shopA) });
    // Changing other fields keeps the stored secret.
    const again = await configure(shopA, { ...withoutSecret, allowedDomains: [] });
    expect(again.status).toBe(200);
    const got = await call(api.baseUrl, 'GET', '/api/v1/identity-settings/oidc', { host: shopA.domain, token: owners[shopA.id] });
    expect(got.status).toBe(200);
    const site = await call(api.baseUrl, 'GET', '/api/v1/site', { host: shopA.domain });
    expect(site.body.oidc).toEqual({ enabled: true, name: 'Acme SSO' });
    const audit = await call(api.baseUrl, 'GET', '/api/v1/audit-log?limit=200', { host: shopA.domain, token: owners[shopA.id] });
    expect(audit.status).toBe(200);
    expect(JSON.stringify(audit.body)).toContain('tenant.oidc_settings_updated');
    for (const res of [put, again, got, site, audit]) expect(res.text).not.toContain(SECRET_A);
    expect(site.text).not.toContain(provider.issuer);
    const stored = (await system.query(`SELECT client_secret_sealed FROM tenant_oidc_settings WHERE tenant_id = $1`, [shopA.id])).rows[0];
    expect(stored.client_secret_sealed).not.toContain(SECRET_A);
    expect(String((await system.query(`SELECT changes FROM audit_log WHERE tenant_id = $1 AND action LIKE 'tenant.oidc%'`, [shopA.id])).rows.map((r) => JSON.stringify(r)))).not.toContain(SECRET_A);

    expect((await configure(shopB, settingsFor(shopB, 'shop-b', SECRET_B))).status).toBe(200);
    // The platform tenant configures its own.
    const platformPut = await configure(platform, settingsFor(platform, 'platform', SECRET_P));
    expect(platformPut.status).toBe(200);
    expect(platformPut.text).not.toContain(SECRET_P);
  });

  it('refuses a provider whose discovery document names another issuer', async () => {
    const wrong = provider.issuer.replace('127.0.0.1', 'localhost');
    const res = await configure(shopB, { ...settingsFor(shopB, 'shop-b', SECRET_B), issuerUrl: wrong });
    expectProblem(res, 400, 'oidc_provider_unusable');
    expect(res.body.detail).toContain('names the issuer');
  });

  it('signs in an account matched by verified e-mail, with the password sign-in session', async () => {
    const { browser, authorization, redirect } = await authorize(shopA, 'alice');
    expect(authorization.origin).toBe(provider.issuer);
    expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization.searchParams.get('nonce')).toEqual(expect.any(String));
    expect(redirect.searchParams.get('iss')).toBe(provider.issuer);
    const before = await sessionsOf(shopA.users.alice.id);
    const done = await browser.callback(redirect);
    expect(done.status).toBe(302);
    expect(done.headers.location).toBe('/console/');
    expect(String(done.headers['set-cookie'])).toMatch(new RegExp(`${SESSION_COOKIE}=[^;]+;.*HttpOnly`));
    expect(await signedInAs(browser, shopA)).toBe(shopA.users.alice.id);
    expect(await sessionsOf(shopA.users.alice.id)).toBe(before + 1);
    const audit = await system.query(`SELECT changes FROM audit_log WHERE tenant_id = $1 AND action = 'auth.login' AND actor_user_id = $2`, [shopA.id, shopA.users.alice.id]);
    expect(JSON.stringify(audit.rows)).toContain('oidc');
  });

  it('a replayed answer (same state and code) and a replayed code under a new state are refused', async () => {
    const { browser, redirect } = await authorize(shopA, 'alice');
    const flowCookie = browser.jar.get(FLOW_COOKIE)!;
    expect((await browser.callback(redirect)).status).toBe(302);
    const after = await sessionsOf(shopA.users.alice.id);

    browser.jar.set(FLOW_COOKIE, flowCookie);
    await refused(() => browser.callback(redirect), 'oidc_sign_in_failed', /unknown, expired or used state/);

    // A new flow in the same browser, answered with the spent code.
    const fresh = await browser.start(shopA.domain);
    const state = new URL(fresh.headers.location as string).searchParams.get('state')!;
    const replay = new URL(redirect);
    replay.searchParams.set('state', state);
    await refused(() => browser.callback(replay), 'oidc_sign_in_failed', /invalid_grant/);
    expect(await sessionsOf(shopA.users.alice.id)).toBe(after);
  });

  it('the same answer delivered twice at once signs in once', async () => {
    const { browser, redirect } = await authorize(shopA, 'alice');
    const before = await sessionsOf(shopA.users.alice.id);
    const logs = captureLogs();
    const results = await Promise.all([browser.callback(redirect), browser.callback(redirect)]).finally(() => logs.stop());
    expect(logs.text).toMatch(/unknown, expired or used state/);
    expect(results.map((r) => r.headers.location).sort()).toEqual(['/console/', '/console/sign-in?oidc_error=oidc_sign_in_failed']);
    expect(await sessionsOf(shopA.users.alice.id)).toBe(before + 1);
  });

  it('refuses an ID token with another nonce', async () => {
    const before = await sessionsOf(shopA.users.alice.id);
    const { browser, redirect } = await authorize(shopA, 'alice', (url) => {
      url.searchParams.set('nonce', 'not-the-nonce-of-this-flow');
      return url;
    });
    expect(redirect.searchParams.get('code')).toEqual(expect.any(String));
    await refused(() => browser.callback(redirect), 'oidc_sign_in_failed', /nonce mismatch/);
    expect(await sessionsOf(shopA.users.alice.id)).toBe(before);
  });

  it('refuses an answer from another issuer (mix-up), with or without its iss', async () => {
    const before = await sessionsOf(shopA.users.alice.id);
    const toOther = (url: URL) => new URL(`${url.pathname}${url.search}`, other.issuer);
    const { browser, redirect } = await authorize(shopA, 'alice', toOther);
    expect(redirect.searchParams.get('iss')).toBe(other.issuer);
    await refused(() => browser.callback(redirect), 'oidc_sign_in_failed', /iss mismatch/);

    const second = await authorize(shopA, 'alice', toOther);
    second.redirect.searchParams.delete('iss');
    await refused(() => second.browser.callback(second.redirect), 'oidc_sign_in_failed', /iss missing/);
    expect(await sessionsOf(shopA.users.alice.id)).toBe(before);
  });

  it('does not match an address the provider does not call verified', async () => {
    const { browser, redirect } = await authorize(shopA, 'carol');
    await refused(() => browser.callback(redirect), 'oidc_email_not_verified', /not say the address is verified/);
    expect(await sessionsOf(shopA.users.carol.id)).toBe(0);
  });

  it('lands on the console page asked for, never elsewhere; a disabled account is refused', async () => {
    const to = await authorize(shopA, 'alice', undefined, '/console/keys?tab=mine');
    expect((await to.browser.callback(to.redirect)).headers.location).toBe('/console/keys?tab=mine');
    for (const next of ['https://evil.example/', '//evil.example/console', '/console//evil.example', '/api/v1/me']) {
      const away = await authorize(shopA, 'alice', undefined, next);
      expect({ next, location: (await away.browser.callback(away.redirect)).headers.location }).toEqual({ next, location: '/console/' });
    }
    await system.query(`UPDATE users SET status = 'disabled' WHERE id = $1`, [shopA.users.dave.id]);
    const dave = await authorize(shopA, 'dave');
    await refused(() => dave.browser.callback(dave.redirect), 'account_disabled');
    expect(await sessionsOf(shopA.users.dave.id)).toBe(0);
  });

  it('a state is bound to the browser that started it', async () => {
    const { redirect } = await authorize(shopA, 'alice');
    const before = await sessionsOf(shopA.users.alice.id);
    await refused(() => new OidcBrowser(api.baseUrl).callback(redirect), 'oidc_sign_in_failed', /another browser/);
    expect(await sessionsOf(shopA.users.alice.id)).toBe(before);
  });

  it("keeps tenants apart: an account of A signs in at B neither through B's provider nor through A's", async () => {
    // Through B's configuration: B has no account with A's customer's address.
    const atB = await authorize(shopB, 'alice');
    await refused(() => atB.browser.callback(atB.redirect), 'oidc_no_account');
    // A's flow, answered at B's domain: refused, and A's flow is spent.
    const atA = await authorize(shopA, 'alice');
    const before = await sessionsOf(shopA.users.alice.id);
    await refused(() => atA.browser.callback(atA.redirect, shopB.domain), 'tenant_mismatch', /started at another tenant/);
    expect(await sessionsOf(shopA.users.alice.id)).toBe(before);
    // B's own customer is fine at B, and unknown at A.
    const bob = await authorize(shopB, 'bob');
    expect((await bob.browser.callback(bob.redirect)).headers.location).toBe('/console/');
    expect(await signedInAs(bob.browser, shopB)).toBe(shopB.users.bob.id);
    const bobAtA = await authorize(shopA, 'bob');
    await refused(() => bobAtA.browser.callback(bobAtA.redirect), 'oidc_no_account');
    expect((await system.query(`SELECT count(*) FROM users WHERE lower(email) = lower($1)`, [shopB.users.bob.email])).rows[0].count).toBe('1');
  });

  it('creates a customer on first sign-in when the tenant allows it, only at allowed domains', async () => {
    const { browser, redirect } = await authorize(shopA, 'newcomer');
    await refused(() => browser.callback(redirect), 'oidc_no_account');
    expect((await configure(shopA, { ...settingsFor(shopA, 'shop-a', SECRET_A), createAccounts: true, allowedDomains: ['example.com'] })).status).toBe(200);

    const first = await authorize(shopA, 'newcomer');
    expect((await first.browser.callback(first.redirect)).headers.location).toBe('/console/');
    const created = (await system.query(`SELECT id, tenant_id, status, email_verified_at, password_hash, display_name FROM users WHERE email = $1`, [newcomer])).rows;
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ tenant_id: shopA.id, status: 'active', password_hash: null, display_name: 'New Comer' });
    expect(created[0].email_verified_at).not.toBeNull();
    expect((await system.query(`SELECT role FROM user_roles WHERE user_id = $1`, [created[0].id])).rows).toEqual([{ role: 'user' }]);
    expect(await signedInAs(first.browser, shopA)).toBe(created[0].id);
    // The second time it is the same account.
    const second = await authorize(shopA, 'newcomer');
    expect((await second.browser.callback(second.redirect)).headers.location).toBe('/console/');
    expect((await system.query(`SELECT count(*) FROM users WHERE email = $1`, [newcomer])).rows[0].count).toBe('1');

    const stranger = await authorize(shopA, 'stranger');
    await refused(() => stranger.browser.callback(stranger.redirect), 'oidc_domain_not_allowed');
    // Unverified addresses are not created either.
    const carol = await authorize(shopA, 'carol');
    await refused(() => carol.browser.callback(carol.redirect), 'oidc_email_not_verified');
    expect((await configure(shopA, settingsFor(shopA, 'shop-a', SECRET_A))).status).toBe(200);
  });

  it('with two-factor on, the callback hands over a second-factor challenge instead of a session', async () => {
    const tokens = await signIn(api.baseUrl, shopA, 'tina');
    const as = { host: shopA.domain, token: tokens.accessToken };
    const started = await call(api.baseUrl, 'POST', '/api/v1/me/two-factor/enrolment', { ...as, json: {} });
    const code = (offset: number) => generate({ secret: started.body.secret, epoch: Math.floor(Date.now() / 1000) + offset * 30 });
    expect((await call(api.baseUrl, 'POST', '/api/v1/me/two-factor/confirm', { ...as, json: { code: await code(0) } })).status).toBe(200);

    const before = await sessionsOf(shopA.users.tina.id);
    const { browser, redirect } = await authorize(shopA, 'tina');
    const res = await browser.callback(redirect);
    expect(res.status).toBe(302);
    const location = String(res.headers.location);
    expect(location).toMatch(/^\/console\/sign-in#oidc_challenge=/);
    expect(String(res.headers['set-cookie'] ?? '')).not.toContain(`${SESSION_COOKIE}=`);
    expect(await sessionsOf(shopA.users.tina.id)).toBe(before);
    const challenge = decodeURIComponent(location.split('#oidc_challenge=')[1]);
    const step = await call(api.baseUrl, 'POST', '/api/v1/auth/login/second-factor', { host: shopA.domain, json: { challenge, code: await code(1) } });
    expect(step.status).toBe(200);
    expect(step.body.accessToken).toEqual(expect.any(String));
  });

  it('the platform tenant signs in its staff through its own provider', async () => {
    const { browser, redirect } = await authorize(platform, 'pat');
    expect((await browser.callback(redirect)).headers.location).toBe('/console/');
    expect(await signedInAs(browser, platform)).toBe(platform.users.pat.id);
  });

  it('limits starts per client IP (each keeps a flow in Redis)', async () => {
    const ip = '10.250.0.1';
    for (let i = 0; i < 3; i++) expect(new URL((await new OidcBrowser(api.baseUrl, ip).start(shopA.domain)).headers.location as string).origin).toBe(provider.issuer);
    await refused(() => new OidcBrowser(api.baseUrl, ip).start(shopA.domain), 'oidc_rate_limited', /more than 3 starts a minute/);
    // Another visitor is not held up.
    expect(new URL((await new OidcBrowser(api.baseUrl).start(shopA.domain)).headers.location as string).origin).toBe(provider.issuer);
  });

  it('turned off or removed, start sends people back to the sign-in page', async () => {
    expect((await configure(shopB, { ...settingsFor(shopB, 'shop-b', SECRET_B), enabled: false })).status).toBe(200);
    expect((await call(api.baseUrl, 'GET', '/api/v1/site', { host: shopB.domain })).body.oidc).toEqual({ enabled: false, name: null });
    await refused(() => new OidcBrowser(api.baseUrl).start(shopB.domain), 'oidc_not_enabled');
    expect((await call(api.baseUrl, 'DELETE', '/api/v1/identity-settings/oidc', { host: shopB.domain, token: owners[shopB.id] })).status).toBe(204);
    const gone = await call(api.baseUrl, 'GET', '/api/v1/identity-settings/oidc', { host: shopB.domain, token: owners[shopB.id] });
    expect(gone.body).toMatchObject({ configured: false, clientSecretSet: false, clientId: '' });
  });
});
