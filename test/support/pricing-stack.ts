import Redis from 'ioredis';
import { Client } from 'pg';
import { RunningApp, startTestApi, startTestWorker } from './app';
import { connectAs } from './db';
import { FakeUpstream, startFakeOpenAI } from './fakes/openai';
import { call } from './http';
import { signIn, TestTenant } from './identity';
import { InferenceWorld } from './inference';
import { GatewayClient } from './openai-client';
import { isolatedRedisUrl } from './redis';

/**
 * What the pricing specs (price rules, sub-resellers) share: both database roles, a Redis database
 * of the file's own, a fake OpenAI upstream, an api (and a worker when asked) with private-network
 * channels allowed, an {@link InferenceWorld} on them, and the access tokens of tenants signed in
 * outside the world. `close` ends everything it started, gateway clients first.
 */
export interface PricingStack {
  system: Client;
  app: Client;
  redis: Redis;
  api: RunningApp;
  worker: RunningApp | null;
  fake: FakeUpstream;
  world: InferenceWorld;
  tokens: Map<string, string>;
  clients: GatewayClient[];
  /** Host and token of one of a tenant's people (signed in by `signInAll`, else by the world). */
  as(t: TestTenant, who: string): { host: string; token: string };
  /** A console API call as one of a tenant's people. */
  req(t: TestTenant, who: string, method: string, path: string, json?: unknown): ReturnType<typeof call>;
  /** Signs every person of `tenants` in (for `as` and `req`). */
  signInAll(...tenants: TestTenant[]): Promise<void>;
  close(): Promise<void>;
}

export async function startPricingStack(overrides: Record<string, string> = {}, options: { worker?: boolean } = {}): Promise<PricingStack> {
  const system = await connectAs('system');
  const app = await connectAs('app');
  const redisUrl = await isolatedRedisUrl();
  const redis = new Redis(redisUrl);
  const fake = await startFakeOpenAI();
  const env = { REDIS_URL: redisUrl, CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true', CHANNEL_REFRESH_SECONDS: '3600', ...overrides };
  const [api, worker] = await Promise.all([startTestApi(env), options.worker ? startTestWorker(env) : Promise.resolve(null)]);
  const world = await new InferenceWorld(api, system, redis).init();
  const tokens = new Map<string, string>();
  const clients: GatewayClient[] = [];
  const as = (t: TestTenant, who: string) => ({ host: t.domain, token: tokens.get(`${t.slug}:${who}`) ?? world.as(t, who).token });
  return {
    system,
    app,
    redis,
    api,
    worker,
    fake,
    world,
    tokens,
    clients,
    as,
    req: (t, who, method, path, json) => call(api.baseUrl, method, path, { ...as(t, who), json }),
    async signInAll(...tenants) {
      for (const t of tenants) for (const who of Object.keys(t.users)) tokens.set(`${t.slug}:${who}`, (await signIn(api.baseUrl, t, who)).accessToken);
    },
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      await api.close();
      await worker?.close();
      await fake.close();
      redis.disconnect();
      await app.end();
      await system.end();
    },
  };
}

/** The response when its status is `status`, else an error with the body (a set-up step that must succeed). */
export function expectOk<R extends { status: number; text: string }>(res: R, status = 200): R {
  if (res.status !== status) throw new Error(`${res.status} ${res.text}`);
  return res;
}
