import Redis from 'ioredis';
import { Client } from 'pg';
import { billingKeys, decodeUsageEvent, UsageEvent } from '../../libs/billing/src';
import { TokenPrice } from '@app/money';
import { ChannelsRuntime } from '../../src/modules/channels/runtime/channels-runtime';
import { PricingRuntime } from '../../src/modules/pricing/pricing-runtime';
import { RunningApp } from './app';
import { call } from './http';
import { platformWithUsers, resellerWithUsers, signIn, TestTenant, Tokens } from './identity';
import { quietPeriod, waitUntil } from './timing';

/**
 * A priced, routed, funded world for inference tests, built through the real admin API: the
 * platform's price list, channels to fake upstreams, resellers with customers, ledger credits and
 * API keys. Balances and usage events are read from Redis, where the proxy keeps them.
 */
export class InferenceWorld {
  platform!: TestTenant;
  private readonly tokens = new Map<string, Tokens>();

  constructor(
    readonly api: RunningApp,
    readonly system: Client,
    readonly redis: Redis,
  ) {}

  async init(): Promise<this> {
    this.platform = await platformWithUsers(this.system, { owner: ['owner'], finance: ['finance'] });
    for (const who of ['owner', 'finance']) this.tokens.set(`${this.platform.slug}:${who}`, await signIn(this.api.baseUrl, this.platform, who));
    return this;
  }

  /** A new reseller with owner, finance and the given customers (role `user`), all signed in. */
  async reseller(customers: string[]): Promise<TestTenant> {
    const users: Record<string, ['owner'] | ['finance'] | ['user']> = { owner: ['owner'], finance: ['finance'] };
    for (const c of customers) users[c] = ['user'];
    const tenant = await resellerWithUsers(this.system, users);
    for (const who of Object.keys(users)) this.tokens.set(`${tenant.slug}:${who}`, await signIn(this.api.baseUrl, tenant, who));
    return tenant;
  }

  /** Host and access token of one of the tenant's signed-in people. */
  as(tenant: TestTenant, who: string) {
    return { host: tenant.domain, token: this.tokens.get(`${tenant.slug}:${who}`)!.accessToken };
  }

  private async ok(what: string, res: { status: number; text: string }, ...expected: number[]) {
    if (!expected.includes(res.status)) throw new Error(`${what}: ${res.status} ${res.text}`);
  }

  /** Sets a price (the platform's list, or a reseller's own retail price) and waits for the runtime to see it. */
  async price(tenant: TestTenant, model: string, price: TokenPrice): Promise<void> {
    const who = tenant.type === 'platform' ? 'finance' : 'owner';
    await this.ok('price', await call(this.api.baseUrl, 'PUT', `/api/v1/pricing/${encodeURIComponent(model)}`, { ...this.as(tenant, who), json: price }), 200);
    const runtime = this.api.app.get(PricingRuntime);
    await eventually(async () => (await runtime.effectivePrice(tenant.id, model))?.retail.inputPerMillion === price.inputPerMillion, `price of ${model}`);
  }

  /** Creates a channel as the platform owner; waits until the routing table holds it. */
  async channel(input: Record<string, unknown>): Promise<string> {
    const res = await call(this.api.baseUrl, 'POST', '/api/v1/channels', { ...this.as(this.platform, 'owner'), json: input });
    await this.ok('channel', res, 201);
    const id = res.body.id as string;
    const runtime = this.api.app.get(ChannelsRuntime);
    await eventually(async () => Boolean(runtime.router.channel(id)), `channel ${id} routed`);
    return id;
  }

  async disableChannel(id: string): Promise<void> {
    await this.ok('disable', await call(this.api.baseUrl, 'POST', `/api/v1/channels/${id}/disable`, this.as(this.platform, 'owner')), 200);
  }

  /** Credits a customer's wallet through the ledger API (as the reseller's finance). */
  async credit(tenant: TestTenant, customer: string, amount: string): Promise<void> {
    const res = await call(this.api.baseUrl, 'POST', `/api/v1/customers/${tenant.users[customer].id}/credits`, {
      ...this.as(tenant, 'finance'),
      json: { amount, note: `test credit ${amount}` },
    });
    await this.ok('credit', res, 200, 201);
  }

  /** An API key of the customer, created by the customer; returns the secret (shown once). */
  async key(tenant: TestTenant, customer: string, extra: Record<string, unknown> = {}): Promise<string> {
    const res = await call(this.api.baseUrl, 'POST', '/api/v1/keys', { ...this.as(tenant, customer), json: { name: `key-${Date.now()}`, ...extra } });
    await this.ok('key', res, 201);
    return res.body.secret as string;
  }

  /** Disables the key with this secret (as its customer). */
  async disableKey(tenant: TestTenant, customer: string, secret: string): Promise<void> {
    const list = await call(this.api.baseUrl, 'GET', '/api/v1/keys', this.as(tenant, customer));
    await this.ok('list keys', list, 200);
    const key = (list.body.items as Array<{ id: string; prefix: string }>).find((k) => secret.startsWith(k.prefix));
    if (!key) throw new Error('key not found');
    await this.ok('disable key', await call(this.api.baseUrl, 'POST', `/api/v1/keys/${key.id}/disable`, this.as(tenant, customer)), 200);
  }

  /** The customer's spendable balance in Redis (nano-units), or null when not loaded. */
  async balance(tenant: TestTenant, customer: string): Promise<bigint | null> {
    const raw = await this.redis.get(billingKeys.balance(tenant.id, tenant.users[customer].id));
    return raw === null ? null : BigInt(raw);
  }

  /** Every usage event in the tenant's stream, oldest first. */
  async events(tenant: TestTenant): Promise<UsageEvent[]> {
    const entries = await this.redis.xrange(billingKeys.usageStream(tenant.id), '-', '+');
    return entries.map(([, fields]) => decodeUsageEvent(fields[fields.indexOf('e') + 1]));
  }

  /** Open holds of the tenant (the sorted set of request ids). */
  async openHolds(tenant: TestTenant): Promise<number> {
    return this.redis.zcard(billingKeys.holds(tenant.id));
  }
}

/** Polls until `check` returns true; `timeoutMs` is a quiet machine's deadline (scaled, see ./timing). */
export async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  await waitUntil(check, { what, timeoutMs, intervalMs: 25, onError: 'throw' });
}

/** A fixed wait, scaled to the machine: only for "nothing more happens meanwhile" (see quietPeriod). */
export const sleep = (ms: number) => quietPeriod(ms);

/** A channel to an OpenAI-compatible fake serving `model` (as `fake-model` upstream). */
export function fakeChannel(fakeUrl: string, model: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: `ch-${model}-${Math.random().toString(36).slice(2, 8)}`,
    provider: 'openai',
    baseUrl: `${fakeUrl}/v1`,
    keys: ['sk-upstream-test-key-0000000000000000'],
    models: [{ public: model, upstream: 'fake-model' }],
    priority: 1,
    weight: 10,
    firstByteTimeoutMs: 3000,
    totalTimeoutMs: 20000,
    costs: [{ model: 'fake-model', inputPerMillion: '0.05', outputPerMillion: '0.2', cachedInputPerMillion: '0.01' }],
    ...overrides,
  };
}
