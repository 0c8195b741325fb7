import { Client } from 'pg';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs } from '../support/db';
import { call, HttpResult } from '../support/http';
import { resellerWithUsers, signIn, TEST_PASSWORD, TestTenant, Tokens } from '../support/identity';
import { expectProblem } from '../support/problem';

/**
 * DESIGN.md, Tenancy: "A Host that is no tenant's domain is answered 404 on every route except
 * health; the token's tenant is never a fallback." A valid access token or API key does not make
 * 127.0.0.1 (or any other unbound name) a tenant's domain.
 */
describe('a Host that is no tenant\'s domain (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let shop: TestTenant;
  let owner: Tokens;
  let apiKey: string;
  const UNBOUND = ['127.0.0.1', 'nobody.unbound.localhost'];

  beforeAll(async () => {
    system = await connectAs('system');
    api = await startTestApi();
    shop = await resellerWithUsers(system, { owner: ['owner'], customer: ['user'] });
    owner = await signIn(api.baseUrl, shop, 'owner');
    const key = await call(api.baseUrl, 'POST', '/api/v1/keys', {
      host: shop.domain,
      token: owner.accessToken,
      json: { name: 'unknown-host', customerId: shop.users.customer.id },
    });
    expect(key.status).toBe(201);
    apiKey = key.body.secret;
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  const expectUnknownOpenAi = (res: HttpResult) => {
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { message: expect.any(String), type: 'not_found_error', param: null, code: 'unknown_tenant' } });
  };

  it('refuses a valid access token on the admin API, instead of falling back to its tenant', async () => {
    expect((await call(api.baseUrl, 'GET', '/api/v1/me', { host: shop.domain, token: owner.accessToken })).status).toBe(200);
    for (const host of UNBOUND) {
      expectProblem(await call(api.baseUrl, 'GET', '/api/v1/me', { host, token: owner.accessToken }), 404, 'unknown_tenant');
      expectProblem(await call(api.baseUrl, 'GET', `/api/v1/tenants/${shop.id}/members`, { host, token: owner.accessToken }), 404, 'unknown_tenant');
      expectProblem(await call(api.baseUrl, 'POST', '/api/v1/auth/refresh', { host, json: { refreshToken: owner.refreshToken } }), 404, 'unknown_tenant');
    }
  });

  it('refuses sign-in there, even when the body names the tenant by slug', async () => {
    for (const host of UNBOUND) {
      const res = await call(api.baseUrl, 'POST', '/api/v1/auth/login', { host, json: { email: shop.users.owner.email, password: TEST_PASSWORD, tenant: shop.slug } });
      expectProblem(res, 404, 'unknown_tenant');
    }
  });

  it('refuses a valid API key on the inference API (front door and framework routes), in OpenAI\'s shape', async () => {
    const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
    for (const host of UNBOUND) {
      expectUnknownOpenAi(await call(api.baseUrl, 'POST', '/v1/chat/completions', { host, token: apiKey, json: chat }));
      expectUnknownOpenAi(await call(api.baseUrl, 'POST', '/v1/embeddings', { host, token: apiKey, json: { model: 'x', input: 'hi' } }));
      expectUnknownOpenAi(await call(api.baseUrl, 'GET', '/v1/models', { host, token: apiKey }));
      // Before the body's content type is even looked at.
      expectUnknownOpenAi(await call(api.baseUrl, 'POST', '/v1/chat/completions', { host, token: apiKey, body: 'x', headers: { 'content-type': 'text/plain' } }));
    }
    // At the tenant's domain the same key is accepted.
    expect((await call(api.baseUrl, 'GET', '/v1/models', { host: shop.domain, token: apiKey })).status).toBe(200);
  });

  it('serves the docs, JWKS and the Stripe webhook only at tenant domains', async () => {
    for (const host of UNBOUND) {
      for (const [method, path] of [
        ['GET', '/api/docs'],
        ['GET', '/api/docs-json'],
        ['GET', '/api/v1/auth/jwks'],
        ['GET', '/.well-known/jwks.json'],
        ['POST', '/api/v1/payments/stripe/webhook'],
        ['GET', '/api/v1/no-such-route'],
      ]) {
        const res = await call(api.baseUrl, method, path, { host, ...(method === 'POST' ? { json: {} } : {}) });
        expect({ path, host, status: res.status, code: res.body?.code }).toEqual({ path, host, status: 404, code: 'unknown_tenant' });
      }
    }
    expect((await call(api.baseUrl, 'GET', '/api/docs-json', { host: shop.domain })).status).toBe(200);
    expect((await call(api.baseUrl, 'GET', '/.well-known/jwks.json', { host: shop.domain })).status).toBe(200);
    // The webhook itself answers at a tenant's domain: here 404 webhook_not_configured, since this
    // tenant has no Stripe settings (payments are per tenant), never unknown_tenant.
    const webhook = await call(api.baseUrl, 'POST', '/api/v1/payments/stripe/webhook', { host: shop.domain, json: {} });
    expect({ status: webhook.status, code: webhook.body?.code }).toEqual({ status: 404, code: 'webhook_not_configured' });
  });

  it('answers health at any Host', async () => {
    for (const host of UNBOUND) {
      expect((await call(api.baseUrl, 'GET', '/health/live', { host })).status).toBe(200);
      expect((await call(api.baseUrl, 'GET', '/health/ready', { host })).status).toBe(200);
    }
  });
});
