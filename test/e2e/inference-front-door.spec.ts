import Redis from 'ioredis';
import { request as httpRequest } from 'node:http';
import { Client } from 'pg';
import { TokenPrice } from '@app/money';
import { FRONT_DOOR, FrontDoor } from '../../src/modules/inference/inference-front-door';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { FakeUpstream, startFakeOpenAI } from '../support/fakes/openai';
import { call, HttpResult } from '../support/http';
import { TestTenant } from '../support/identity';
import { fakeChannel, InferenceWorld } from '../support/inference';

/**
 * The inference front door (InferenceFrontDoor): POST /v1 routes answered before Fastify must
 * still do every edge check the framework did for them, in OpenAI's error shape, charging nothing
 * for a refused request: the Host's tenant (X-Forwarded-Host and X-Forwarded-For only with
 * TRUST_PROXY, which this api has), JSON only, the body limit (declared and streamed), the text
 * rule on query strings, the request id, and 503 with `Connection: close` once closing. Requests
 * it does not take (another method) still reach Fastify.
 */
const PRICE: TokenPrice = { inputPerMillion: '1', outputPerMillion: '2' };
const MODEL = uniqueSlug('front-door');
const LIMIT = 2048;

describe('inference front door (e2e)', () => {
  let system: Client;
  let redis: Redis;
  let api: RunningApp;
  let fake: FakeUpstream;
  let world: InferenceWorld;
  let shop: TestTenant;
  let key: string;
  let pinnedKey: string;

  const chat = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
  const post = (headers: Record<string, string>, body = chat, path = '/v1/chat/completions'): Promise<HttpResult> =>
    call(api.baseUrl, 'POST', path, { headers: { 'content-type': 'application/json', ...headers }, body });
  const expectOpenAiError = (res: HttpResult, status: number, code: string) => {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body).toEqual({ error: { message: expect.any(String), type: expect.any(String), param: res.body?.error?.param ?? null, code } });
  };

  beforeAll(async () => {
    system = await connectAs('system');
    redis = new Redis(process.env.REDIS_URL!);
    fake = await startFakeOpenAI();
    api = await startTestApi({ TRUST_PROXY: 'true', INFERENCE_BODY_LIMIT_BYTES: String(LIMIT), CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true', CHANNEL_REFRESH_SECONDS: '3600' });
    world = await new InferenceWorld(api, system, redis).init();
    shop = await world.reseller(['alice']);
    await world.price(world.platform, MODEL, PRICE);
    await world.channel(fakeChannel(fake.url, MODEL));
    await world.credit(shop, 'alice', '5');
    key = await world.key(shop, 'alice');
    pinnedKey = await world.key(shop, 'alice', { ipAllowlist: ['203.0.113.7'] });
  });

  afterAll(async () => {
    await api?.close();
    await fake?.close();
    redis?.disconnect();
    await system?.end();
  });

  it('answers at the Host\'s tenant and echoes a sane X-Request-Id', async () => {
    const res = await post({ host: shop.domain, authorization: `Bearer ${key}`, 'x-request-id': 'front-door-req-1' });
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toBe('front-door-req-1');
    expect(res.body.choices[0].message.content).toEqual(expect.any(String));
  });

  it('with TRUST_PROXY, the tenant comes from X-Forwarded-Host and the client address from X-Forwarded-For', async () => {
    const viaProxy = await post({ host: 'ingress.internal', 'x-forwarded-host': shop.domain, 'x-forwarded-for': '203.0.113.7, 10.0.0.1', authorization: `Bearer ${pinnedKey}` });
    expect(viaProxy.status).toBe(200);
    // The key is pinned to 203.0.113.7: another forwarded client address is refused.
    expectOpenAiError(await post({ host: shop.domain, 'x-forwarded-for': '198.51.100.9', authorization: `Bearer ${pinnedKey}` }), 403, 'ip_not_allowed');
    // An unknown host is no tenant: 404 before the key is even looked at.
    expectOpenAiError(await post({ host: 'nobody.invalid', authorization: `Bearer ${key}` }), 404, 'unknown_tenant');
  });

  it('refuses what is not JSON (415), a body over the limit, declared or streamed (413), and unstorable text in the query (400), charging nothing', async () => {
    const before = await world.balance(shop, 'alice');
    const auth = { host: shop.domain, authorization: `Bearer ${key}` };
    expectOpenAiError(await post({ ...auth, 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
    const untyped = await call(api.baseUrl, 'POST', '/v1/chat/completions', { headers: auth, body: chat });
    expectOpenAiError(untyped, 415, 'unsupported_media_type');

    const big = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(LIMIT) }] });
    const declared = await post(auth, big);
    expectOpenAiError(declared, 413, 'payload_too_large');
    expect(declared.headers.connection).toBe('close');
    const streamed = await chunked('/v1/chat/completions', { ...auth, 'content-type': 'application/json' }, [big.slice(0, 1000), big.slice(1000)]);
    expectOpenAiError(streamed, 413, 'payload_too_large');

    const query = await post(auth, chat, '/v1/chat/completions?x=a%00b');
    expect(query.status).toBe(400);
    expect(query.body.error.type).toBe('invalid_request_error');
    expectOpenAiError(await post(auth, '{"model":'), 400, 'malformed_request');
    expect(await world.balance(shop, 'alice')).toBe(before);
  });

  it('leaves other methods to Fastify, which answers them in the same shape', async () => {
    const res = await call(api.baseUrl, 'GET', '/v1/chat/completions', { host: shop.domain });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.body.error).toMatchObject({ type: expect.any(String), code: expect.any(String) });
  });

  it('once the server is closing, answers 503 with Connection: close and spends nothing', async () => {
    const before = await world.balance(shop, 'alice');
    api.app.get<FrontDoor>(FRONT_DOOR, { strict: false }).closing();
    const res = await post({ host: shop.domain, authorization: `Bearer ${key}` });
    expectOpenAiError(res, 503, 'service_unavailable');
    expect(res.headers.connection).toBe('close');
    expect(res.headers['retry-after']).toBe('1');
    expect(await world.balance(shop, 'alice')).toBe(before);
  });

  /** A request whose body is sent in chunks, without a Content-Length. */
  function chunked(path: string, headers: Record<string, string>, parts: string[]): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(`${api.baseUrl}${path}`, { method: 'POST', headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: text ? JSON.parse(text) : undefined });
        });
      });
      req.on('error', reject);
      for (const part of parts) req.write(part);
      req.end();
    });
  }
});
