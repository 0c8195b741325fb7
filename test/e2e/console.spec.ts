import { Client } from 'pg';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { call } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TestTenant } from '../support/identity';
import { eventually } from '../support/inference';
import { expectInvalidFields, expectProblem } from '../support/problem';

/**
 * The browser console's server side (issue 20): the public site description, the built SPA at
 * /console/ with its security headers and fallback, and the mail links that land in it.
 */
describe('web console: site and static files (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let consoleDir: string;
  let platform: TestTenant;
  let shop: TestTenant;
  const model = `${uniqueSlug('cm')}-chat`;
  const hiddenModel = `${uniqueSlug('cm')}-hidden`;
  /** Priced, but no channel serves it: not offered. */
  const unservedModel = `${uniqueSlug('cm')}-unserved`;

  beforeAll(async () => {
    consoleDir = await mkdtemp(join(tmpdir(), 'aigw-console-'));
    system = await connectAs('system');
    api = await startTestApi({ CONSOLE_DIR: consoleDir });
    platform = await platformWithUsers(system, { owner: ['owner'] });
    shop = await resellerWithUsers(system, { owner: ['owner'], customer: ['user'] });
    const platformOwner = await signIn(api.baseUrl, platform, 'owner');
    for (const m of [model, hiddenModel, unservedModel]) {
      const set = await call(api.baseUrl, 'PUT', `/api/v1/pricing/${m}`, {
        host: platform.domain,
        token: platformOwner.accessToken,
        json: { inputPerMillion: '0.1', outputPerMillion: '0.4', cacheReadPerMillion: '0.05' },
      });
      expect(set.status).toBe(200);
    }
    const channel = await call(api.baseUrl, 'POST', '/api/v1/channels', {
      host: platform.domain,
      token: platformOwner.accessToken,
      json: {
        name: uniqueSlug('console-ch'),
        provider: 'openai',
        // A refused port: nothing calls it here.
        baseUrl: 'http://127.0.0.1:9/v1',
        keys: ['sk-console-test-key-0000000000'],
        models: [model, hiddenModel].map((m) => ({ public: m, upstream: 'fake-model' })),
      },
    });
    expect(channel.status).toBe(201);
    const shopOwner = await signIn(api.baseUrl, shop, 'owner');
    const retail = await call(api.baseUrl, 'PUT', `/api/v1/pricing/${model}`, {
      host: shop.domain,
      token: shopOwner.accessToken,
      json: { inputPerMillion: '0.25', outputPerMillion: '1.000000001', perRequest: '0.002' },
    });
    expect(retail.status).toBe(200);
    const hide = await call(api.baseUrl, 'PUT', `/api/v1/pricing/${hiddenModel}/visibility`, { host: shop.domain, token: shopOwner.accessToken, json: { hidden: true } });
    expect(hide.status).toBe(200);
  });

  /** A GET whose path goes out byte for byte (fetch and URL would resolve the dot segments first). */
  function rawGet(path: string, host: string): Promise<{ status: number; text: string }> {
    const { port } = new URL(api.baseUrl);
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET', headers: { host } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  afterAll(async () => {
    await api?.close();
    await system?.end();
    if (consoleDir) await rm(consoleDir, { recursive: true, force: true });
  });

  describe('GET /api/v1/site', () => {
    beforeAll(async () => {
      // The routing table follows a channel change through Redis; wait until this api serves the model.
      await eventually(async () => {
        const site = await call(api.baseUrl, 'GET', '/api/v1/site', { host: platform.domain });
        return site.body.models.some((m: { model: string }) => m.model === model);
      }, 'the new channel reaches the routing table');
    });

    it("describes the Host's tenant without sign-in: brand, languages, currency, sign-up and retail prices", async () => {
      const res = await call(api.baseUrl, 'GET', '/api/v1/site', { host: shop.domain });
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('public, max-age=60');
      expect(res.body).toMatchObject({
        slug: shop.slug,
        logoUrl: null,
        themeColor: null,
        defaultLanguage: 'en',
        languages: ['en', 'zh-CN'],
        support: { email: null, url: null },
        currency: 'USD',
        signUp: { open: false },
      });
      // The reseller's own retail price, every bucket as a decimal string (an unpriced cache bucket costs as input).
      expect(res.body.models.find((m: { model: string }) => m.model === model)).toEqual({
        model,
        inputPerMillion: '0.25',
        outputPerMillion: '1.000000001',
        cacheReadPerMillion: '0.25',
        cacheWritePerMillion: '0.25',
        perRequest: '0.002',
        unit: 'token',
        imagePrices: null,
      });
      // A model the reseller hides is not offered, nor one that no channel serves.
      expect(res.body.models.map((m: { model: string }) => m.model)).not.toContain(hiddenModel);
      expect(res.body.models.map((m: { model: string }) => m.model)).not.toContain(unservedModel);

      // The platform's own domain shows the platform list, where the cache-read price is its own.
      const atPlatform = await call(api.baseUrl, 'GET', '/api/v1/site', { host: platform.domain });
      expect(atPlatform.status).toBe(200);
      expect(atPlatform.body.models.find((m: { model: string }) => m.model === model)).toEqual({
        model,
        inputPerMillion: '0.1',
        outputPerMillion: '0.4',
        cacheReadPerMillion: '0.05',
        cacheWritePerMillion: '0.1',
        perRequest: '0',
        unit: 'token',
        imagePrices: null,
      });
    });

    it('shows the branding the owner sets through the tenant settings route', async () => {
      const owner = await signIn(api.baseUrl, shop, 'owner');
      const branding = {
        displayName: 'Shop AI',
        logoUrl: 'https://cdn.example.com/shop.png',
        themeColor: '#112233',
        defaultLanguage: 'zh-CN',
        languages: ['zh-CN'],
        supportEmail: 'help@shop.example',
        supportUrl: 'https://shop.example/help',
      };
      const update = await call(api.baseUrl, 'PATCH', `/api/v1/tenants/${shop.id}`, { host: shop.domain, token: owner.accessToken, json: { branding } });
      expect(update.status).toBe(200);
      const res = await call(api.baseUrl, 'GET', '/api/v1/site', { host: shop.domain });
      expect(res.body).toMatchObject({
        name: 'Shop AI',
        logoUrl: branding.logoUrl,
        themeColor: '#112233',
        defaultLanguage: 'zh-CN',
        languages: ['zh-CN'],
        support: { email: 'help@shop.example', url: 'https://shop.example/help' },
      });

      // Languages must include the default one; unknown languages and non-https links are refused.
      const path = `/api/v1/tenants/${shop.id}`;
      const patch = (b: Record<string, unknown>) => call(api.baseUrl, 'PATCH', path, { host: shop.domain, token: owner.accessToken, json: { branding: b } });
      expectInvalidFields(await patch({ languages: ['en'] }), ['branding.languages']);
      expectInvalidFields(await patch({ defaultLanguage: 'fr' }), ['branding.defaultLanguage']);
      expectInvalidFields(await patch({ languages: ['en', 'de'] }), ['branding.languages']);
      expectInvalidFields(await patch({ supportUrl: 'http://shop.example/help' }), ['branding.supportUrl']);
      expectInvalidFields(await patch({ supportEmail: 'nope' }), ['branding.supportEmail']);
      // A customer may not change them.
      const customer = await signIn(api.baseUrl, shop, 'customer');
      expectProblem(await call(api.baseUrl, 'PATCH', path, { host: shop.domain, token: customer.accessToken, json: { branding: { themeColor: '#000000' } } }), 403, 'forbidden');
    });

    it('answers 404 at a Host that is no tenant domain', async () => {
      expectProblem(await call(api.baseUrl, 'GET', '/api/v1/site', { host: `${uniqueSlug('nobody')}.example.com` }), 404, 'unknown_tenant');
    });
  });

  describe('/console/', () => {
    it('answers 503 console_not_built until the console is built, then serves it', async () => {
      const before = await call(api.baseUrl, 'GET', '/console/', { host: shop.domain });
      expectProblem(before, 503, 'console_not_built');
      expect(before.body.detail).toBe('console not built: run npm run build');

      await mkdir(join(consoleDir, 'assets'), { recursive: true });
      await writeFile(join(consoleDir, 'index.html'), '<!doctype html><title>console</title><script type="module" src="/console/assets/index-abc123.js"></script>');
      await writeFile(join(consoleDir, 'assets', 'index-abc123.js'), 'console.log("hi")');
      await writeFile(join(consoleDir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');

      const index = await call(api.baseUrl, 'GET', '/console/', { host: shop.domain });
      expect(index.status).toBe(200);
      expect(index.headers['content-type']).toContain('text/html');
      expect(index.text).toContain('<title>console</title>');
      expect(index.headers['cache-control']).toBe('no-cache');
    });

    it('sends hashed assets with a long cache and other files to revalidate', async () => {
      const asset = await call(api.baseUrl, 'GET', '/console/assets/index-abc123.js', { host: shop.domain });
      expect(asset.status).toBe(200);
      expect(asset.headers['content-type']).toContain('javascript');
      expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(asset.text).toBe('console.log("hi")');
      const icon = await call(api.baseUrl, 'GET', '/console/favicon.svg', { host: shop.domain });
      expect(icon.status).toBe(200);
      expect(icon.headers['cache-control']).toBe('no-cache');
      // A missing hashed asset is a 404, not index.html in its place.
      expectProblem(await call(api.baseUrl, 'GET', '/console/assets/gone-000000.js', { host: shop.domain }), 404, 'not_found');
    });

    it('answers any other /console/* path with index.html (the SPA routes it)', async () => {
      for (const path of ['/console/usage', '/console/keys/0190a2b4-aaaa-7bbb-8ccc-123456789abc', '/console/accept-invitation?token=x.y', '/console/a/b/c.d']) {
        const res = await call(api.baseUrl, 'GET', path, { host: shop.domain });
        expect({ path, status: res.status, html: res.text.includes('<title>console</title>') }).toEqual({ path, status: 200, html: true });
        expect(res.headers['cache-control']).toBe('no-cache');
      }
      const bare = await call(api.baseUrl, 'GET', '/console?x=1', { host: shop.domain });
      expect(bare.status).toBe(302);
      expect(bare.headers.location).toBe('/console/?x=1');
    });

    it('never serves files outside the console directory', async () => {
      const secret = `${uniqueSlug('secret')}.txt`;
      await writeFile(join(consoleDir, '..', secret), 'top secret');
      await writeFile(join(consoleDir, '.env'), 'top secret');
      const name = consoleDir.split('/').pop();
      const attempts = [
        `/console/../${secret}`,
        `/console/%2e%2e/${secret}`,
        `/console/assets/..%2f..%2f${secret}`,
        `/console/..%2f${secret}`,
        `/console/..%5c${secret}`,
        `/console/.env`,
        `/console/../${name}/.env`,
      ];
      for (const path of attempts) {
        const res = await rawGet(path, shop.domain);
        expect({ path, leaked: res.text.includes('top secret') }).toEqual({ path, leaked: false });
      }
    });

    it('carries a strict CSP, frame denial and the other security headers on every console response', async () => {
      for (const path of ['/console/', '/console/usage', '/console/assets/index-abc123.js']) {
        const res = await call(api.baseUrl, 'GET', path, { host: shop.domain });
        const csp = String(res.headers['content-security-policy']);
        expect(csp).toContain("default-src 'self'");
        expect(csp).toContain("script-src 'self'");
        expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
        expect(csp).toContain("img-src 'self' data: https:");
        expect(csp).toContain("frame-ancestors 'none'");
        expect(res.headers['x-frame-options']).toBe('DENY');
        expect(res.headers['referrer-policy']).toBe('same-origin');
        expect(res.headers['x-content-type-options']).toBe('nosniff');
      }
    });

    it('is served at tenant domains only', async () => {
      expectProblem(await call(api.baseUrl, 'GET', '/console/', { host: `${uniqueSlug('nobody')}.example.com` }), 404, 'unknown_tenant');
      expectProblem(await call(api.baseUrl, 'GET', '/accept-invitation?token=a', { host: `${uniqueSlug('nobody')}.example.com` }), 404, 'unknown_tenant');
    });
  });

  describe('mail links and the root', () => {
    it('redirects the mail links into the console, keeping the token', async () => {
      const token = `${shop.id}.AbC-_123`;
      for (const page of ['accept-invitation', 'reset-password']) {
        const res = await call(api.baseUrl, 'GET', `/${page}?token=${encodeURIComponent(token)}&x=1`, { host: shop.domain });
        expect(res.status).toBe(302);
        expect(res.headers.location).toBe(`/console/${page}?token=${encodeURIComponent(token)}&x=1`);
      }
    });

    it('redirects / to the console', async () => {
      const res = await call(api.baseUrl, 'GET', '/', { host: shop.domain });
      expect(res.status).toBe(302);
      expect(res.headers.location).toBe('/console/');
    });
  });
});
