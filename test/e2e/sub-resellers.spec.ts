import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { BillingEngine, HoldRequest, UsageEvent } from '../../libs/billing/src';
import { compiledCostUnits, compilePrice, costUnits, fromUnits, TokenPrice, toUnits } from '@app/money';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { UsageWriter } from '../../src/modules/metering/usage-writer';
import { PricingRuntime } from '../../src/modules/pricing/pricing-runtime';
import { StatementCloser } from '../../src/modules/settlement/statement-closer.service';
import { StatementsRepository } from '../../src/modules/settlement/statements.repository';
import { SystemDb } from '@app/tenancy';
import { RunningApp } from '../support/app';
import { tokenInMail } from '../support/auth';
import { inTransaction } from '../support/db';
import { FakeUpstream } from '../support/fakes/openai';
import { call } from '../support/http';
import { resellerWithUsers, TestTenant } from '../support/identity';
import { eventually, fakeChannel, InferenceWorld } from '../support/inference';
import { gatewayClient, GatewayClient } from '../support/openai-client';
import { expectProblem } from '../support/problem';
import { startDnsServer, TestDnsServer } from '../support/dns-server';
import { MailSink, startMailSink } from '../support/mail';
import { expectOk, PricingStack, startPricingStack } from '../support/pricing-stack';
import { utcDay } from '../support/statements';
import { scaled } from '../support/timing';
import { ledgerInvariants } from '../support/usage';

/**
 * Sub-resellers and spot prices (issue 26, part B), end to end: platform -> reseller A -> sub-reseller
 * B -> B's customer. A sets what B pays (a discount off A's list, never below A's own cost); a
 * request of B's customer is charged at every level's price compiled in the api's price book, the
 * usage record and one resale row per ancestor keep those units (a later price change leaves them
 * alone), metering posts one balanced transaction with every level's legs (a replay posts
 * nothing), and each level's statement adds up and settles to zero. Spot: the platform's and the
 * resellers' spot factors, the floor, and the exact charge of a request served by the spot pool.
 */
const PLATFORM: TokenPrice = { inputPerMillion: '2', outputPerMillion: '4' };
const A_RETAIL: TokenPrice = { inputPerMillion: '3', outputPerMillion: '6' };
// A pays the platform its list less 20%; B pays A's list less 10%.
const A_COST: TokenPrice = { inputPerMillion: '1.6', outputPerMillion: '3.2' };
const B_COST: TokenPrice = { inputPerMillion: '2.7', outputPerMillion: '5.4' };

describe('sub-resellers and spot prices (e2e)', () => {
  let stack: PricingStack;
  let system: Client;
  let app: Client;
  let api: RunningApp;
  let worker: RunningApp;
  let fake: FakeUpstream;
  let sink: MailSink;
  let dns: TestDnsServer;
  let world: InferenceWorld;
  let a: TestTenant;
  let b: TestTenant;
  let other: TestTenant;
  const model = `m-sub-${uuidv7().slice(-8)}`;

  const req = (t: TestTenant, who: string, method: string, path: string, json?: unknown) => stack.req(t, who, method, path, json);
  const ok = expectOk;
  const cost = (e: Pick<UsageEvent, 'inputTokens' | 'outputTokens' | 'cacheReadTokens'>, price: TokenPrice) =>
    costUnits({ input: e.inputTokens, output: e.outputTokens, cacheRead: e.cacheReadTokens }, price).toString();
  const balance = async (tenantId: string, kind: string) =>
    toUnits((await system.query(`SELECT balance::text FROM ledger_accounts WHERE tenant_id = $1 AND kind = $2 AND customer_id IS NULL`, [tenantId, kind])).rows[0]?.balance ?? '0');
  const runtime = () => api.app.get(PricingRuntime);

  beforeAll(async () => {
    sink = await startMailSink();
    dns = await startDnsServer();
    stack = await startPricingStack(
      {
        SMTP_URL: sink.url,
        METERING_ENABLED: 'false',
        SETTLEMENT_ENABLED: 'false',
        // Child domains are checked against this DNS server, only when asked (no sweep).
        DOMAIN_VERIFY_DNS_SERVERS: dns.server,
        DOMAIN_VERIFY_ALLOW_PRIVATE_NETWORKS: 'true',
        DOMAIN_VERIFY_TIMEOUT_MS: String(scaled(3000)),
        DOMAIN_VERIFY_INTERVAL_SECONDS: '0',
      },
      { worker: true },
    );
    ({ system, app, api, fake, world } = stack);
    worker = stack.worker!;
    await world.price(world.platform, model, PLATFORM);
    await world.channel(fakeChannel(fake.url, model, { retryBudget: 0 }));
    await world.channel(fakeChannel(fake.url, model, { retryBudget: 0, pool: 'spot' }));
    a = await world.reseller(['alice']);
    ok(await call(api.baseUrl, 'PUT', `/api/v1/tenants/${a.id}/wholesale-discount`, { ...world.as(world.platform, 'finance'), json: { percent: '20' } }));
    await world.price(a, model, A_RETAIL);
    // B: a reseller the platform placed under A (parent_id set by the platform, as POST /tenants does).
    b = await world.reseller(['bob']);
    await system.query(`UPDATE tenants SET parent_id = $1 WHERE id = $2`, [a.id, b.id]);
    await runtime().invalidate(b.id);
    other = await resellerWithUsers(system, { owner: ['owner'], sales: ['sales'] });
    await stack.signInAll(other);
  });

  afterAll(async () => {
    await stack?.close();
    await sink?.close();
    await dns?.close();
  });

  it("lets a parent set its child's price, never below its own cost, and keeps each side's data to itself", async () => {
    // The floor: 50% off A's 3 / 6 is 1.5 / 3, below A's own cost 1.6 / 3.2.
    const refused = await req(a, 'owner', 'PUT', `/api/v1/tenants/${b.id}/wholesale-discount`, { percent: '50' });
    expectProblem(refused, 422, 'price_below_wholesale');
    expect(refused.text).toContain(model);
    expect(ok(await req(a, 'finance', 'PUT', `/api/v1/tenants/${b.id}/wholesale-discount`, { percent: '10' })).body).toEqual({ tenantId: b.id, percent: '10' });
    expect(ok(await req(a, 'owner', 'GET', `/api/v1/tenants/${b.id}/wholesale-discount`)).body.percent).toBe('10');
    await eventually(async () => (await runtime().effectivePrice(b.id, model))?.wholesale.inputPerMillion === '2.7', "B's new wholesale in the runtime");

    // B sees what it pays (2.7 / 5.4) and its inherited list (A's 3 / 6), never A's cost.
    const list = ok(await req(b, 'owner', 'GET', '/api/v1/pricing')).body;
    const item = list.items.find((i: { model: string }) => i.model === model);
    expect(item).toMatchObject({ price: { inputPerMillion: '3', outputPerMillion: '6' }, wholesale: { inputPerMillion: '2.7', outputPerMillion: '5.4' }, source: 'inherited' });
    expect(list.wholesaleDiscountPercent).toBe('10');
    expect(JSON.stringify(list)).not.toContain('"1.6"');
    // B cannot price below what it pays A (the platform's 1.6 would have been the old floor).
    expectProblem(await req(b, 'owner', 'PUT', `/api/v1/pricing/${model}`, { inputPerMillion: '2', outputPerMillion: '6' }), 422, 'price_below_wholesale');
    // Nor can a customer price (an override) go below it.
    expectProblem(await req(b, 'owner', 'PUT', `/api/v1/price-rules/customers/${b.users.bob.id}/prices/${model}`, { inputPerMillion: '2', outputPerMillion: '6' }), 422, 'price_below_wholesale');
    // A child never reaches its parent's discount, and sets no discount, its own or its parent's.
    expectProblem(await req(b, 'owner', 'GET', `/api/v1/tenants/${a.id}/wholesale-discount`), 404, 'not_found');
    expectProblem(await req(b, 'owner', 'PUT', `/api/v1/tenants/${a.id}/wholesale-discount`, { percent: '90' }), 404, 'not_found');
    expectProblem(await req(b, 'owner', 'PUT', `/api/v1/tenants/${b.id}/wholesale-discount`, { percent: '90' }), 403, 'forbidden');
    // Another reseller reaches neither.
    expectProblem(await req(other, 'owner', 'GET', `/api/v1/tenants/${b.id}/wholesale-discount`), 404, 'not_found');
    expectProblem(await req(other, 'owner', 'PUT', `/api/v1/tenants/${b.id}/wholesale-discount`, { percent: '10' }), 404, 'not_found');
    expect(ok(await req(other, 'owner', 'GET', '/api/v1/sub-resellers')).body.items).toEqual([]);
    expectProblem(await req(other, 'sales', 'GET', '/api/v1/sub-resellers'), 403, 'forbidden');
    // The platform's staff create sub-resellers through POST /tenants { parentId }, not this route.
    expectProblem(await call(api.baseUrl, 'POST', '/api/v1/sub-resellers', { ...world.as(world.platform, 'owner'), json: { slug: `x-${uuidv7().slice(-8)}`, name: 'X' } }), 403, 'forbidden');
    expectProblem(await req(b, 'bob', 'GET', '/api/v1/sub-resellers'), 403, 'forbidden');

    // A's owner and finance list B; only the owner creates a sub-reseller.
    const children = ok(await req(a, 'finance', 'GET', '/api/v1/sub-resellers')).body.items;
    expect(children).toEqual([expect.objectContaining({ id: b.id, slug: b.slug, wholesaleDiscountPercent: '10' })]);
    const slug = `sub-${uuidv7().slice(-10)}`;
    expectProblem(await req(a, 'finance', 'POST', '/api/v1/sub-resellers', { slug, name: 'Sub' }), 403, 'forbidden');
    expectProblem(await req(a, 'owner', 'POST', '/api/v1/sub-resellers', { slug, name: 'Sub', wholesaleDiscountPercent: '60' }), 422, 'price_below_wholesale');
    const created = ok(await req(a, 'owner', 'POST', '/api/v1/sub-resellers', { slug, name: 'Sub', domains: [`${slug}.reseller.localhost`], wholesaleDiscountPercent: '5' }), 201).body;
    const row = (await system.query(`SELECT type, parent_id FROM tenants WHERE id = $1`, [created.id])).rows[0];
    expect(row).toEqual({ type: 'reseller', parent_id: a.id });
    // A reseller vouches for no domain: the child's waits for its ownership to be verified before it serves.
    expect((await system.query(`SELECT status FROM tenant_domains WHERE tenant_id = $1`, [created.id])).rows).toEqual([{ status: 'pending' }]);
    expect((await system.query(`SELECT percent::text FROM reseller_wholesale_discounts WHERE tenant_id = $1`, [created.id])).rows[0].percent).toBe('5.00');
    // Slugs stay unique across the platform.
    expectProblem(await req(other, 'owner', 'POST', '/api/v1/sub-resellers', { slug, name: 'Again' }), 409, 'tenant_slug_taken');
    // The database refuses a platform parent and a tenant as its own parent.
    await expect(system.query(`UPDATE tenants SET parent_id = $1 WHERE id = $2`, [world.platform.id, created.id])).rejects.toThrow(/must be a reseller/);

    // RLS below the application: A's scope sees none of B's customers or usage records; B's none of A's resale rows.
    await inTransaction(app, { tenantId: a.id }, async () => {
      expect((await app.query(`SELECT count(*)::int AS n FROM users WHERE tenant_id = $1`, [b.id])).rows[0].n).toBe(0);
      expect((await app.query(`SELECT count(*)::int AS n FROM tenants WHERE id = $1`, [b.id])).rows[0].n).toBe(0);
      expect((await app.query(`SELECT tenancy.child_tenant_ids($1) AS ids`, [a.id])).rows[0].ids).toEqual(expect.arrayContaining([b.id, created.id]));
    });
    await inTransaction(app, { tenantId: b.id }, async () => {
      // B cannot list its parent's children (siblings), nor read A's resale rows.
      expect((await app.query(`SELECT tenancy.child_tenant_ids($1) AS ids`, [a.id])).rows[0].ids).toEqual([]);
      expect((await app.query(`SELECT count(*)::int AS n FROM usage_resale WHERE tenant_id = $1`, [a.id])).rows[0].n).toBe(0);
    });
  });

  /** A chat completion of B's customer bob (optionally spot); returns its usage event. */
  async function request(c: GatewayClient, spot = false): Promise<UsageEvent> {
    const before = (await world.events(b)).length;
    await c.client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 50 }, spot ? { headers: { 'X-Priority': 'spot' } } : undefined);
    await eventually(async () => (await world.events(b)).length > before, 'the usage event');
    return (await world.events(b)).at(-1)!;
  }

  it('charges every level its price, meters it once with balanced legs, and each statement adds up', async () => {
    await eventually(async () => (await runtime().effectivePrice(b.id, model))?.levels.length === 1, "B's book on A's");
    await world.credit(b, 'bob', '50');
    const secret = await world.key(b, 'bob');
    await api.app.get(BalanceService).ensureLoaded(b.id, b.users.bob.id);
    const c = gatewayClient(api.baseUrl, b.domain, secret, { maxRetries: 0 });
    stack.clients.push(c);
    const event = await request(c);
    // Every level's price, compiled with the book: bob pays A's list, B pays A 2.7 / 5.4, A pays the platform 1.6 / 3.2.
    expect(event.retailUnits).toBe(cost(event, A_RETAIL));
    expect(event.wholesaleUnits).toBe(cost(event, B_COST));
    expect(event.levels).toEqual([{ tenantId: a.id, costUnits: cost(event, A_COST) }]);
    expect(BigInt(event.retailUnits)).toBeGreaterThan(BigInt(event.wholesaleUnits));

    // Metering (the worker's writer), twice: the replay writes and posts nothing.
    const writer = worker.app.get(UsageWriter, { strict: false });
    const platformBefore = await balance(world.platform.id, 'platform_revenue');
    expect(await writer.write(b.id, [event])).toEqual({ written: 1, duplicates: 0 });
    const txCount = async () => Number((await system.query(`SELECT count(*) FROM ledger_transactions WHERE tenant_id = $1 AND kind = 'usage'`, [b.id])).rows[0].count);
    const afterFirst = await txCount();
    expect(await writer.write(b.id, [event])).toEqual({ written: 0, duplicates: 1 });
    expect(await txCount()).toBe(afterFirst);
    const resale = (await system.query(`SELECT tenant_id, buyer_tenant_id, revenue::text, cost::text FROM usage_resale WHERE request_id = $1`, [event.requestId])).rows;
    expect(resale).toEqual([{ tenant_id: a.id, buyer_tenant_id: b.id, revenue: fromUnits(event.wholesaleUnits), cost: fromUnits(event.levels![0].costUnits) }]);
    // The legs: bob -> B's revenue; B owes A (A's revenue); A owes the platform (platform revenue).
    const legs = (
      await system.query(
        `SELECT a.tenant_id, a.kind, sum(e.amount)::text AS amount FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
           JOIN ledger_accounts a ON a.id = e.account_id WHERE t.tenant_id = $1 AND t.kind = 'usage' AND a.kind <> 'customer_wallet'
            AND a.kind NOT LIKE 'upstream%' GROUP BY a.tenant_id, a.kind`,
        [b.id],
      )
    ).rows;
    const leg = (tenantId: string, kind: string) => toUnits(legs.find((l) => l.tenant_id === tenantId && l.kind === kind)?.amount ?? '0');
    expect(leg(b.id, 'reseller_revenue')).toBe(BigInt(event.retailUnits));
    expect(leg(b.id, 'wholesale_payable')).toBe(-BigInt(event.wholesaleUnits));
    expect(leg(a.id, 'reseller_revenue')).toBe(BigInt(event.wholesaleUnits));
    expect(leg(a.id, 'wholesale_payable')).toBe(-BigInt(event.levels![0].costUnits));
    expect(leg(world.platform.id, 'platform_revenue')).toBe(BigInt(event.levels![0].costUnits));
    expect((await balance(world.platform.id, 'platform_revenue')) - platformBefore).toBe(BigInt(event.levels![0].costUnits));
    expect(await ledgerInvariants(system)).toEqual({ unbalanced: 0, mismatched: 0 });

    // The open period's rollup (platform finance): A's row is what B paid it and what A pays for it.
    const open = ok(await call(api.baseUrl, 'GET', '/api/v1/statements/rollup/open?periodKind=day', world.as(world.platform, 'finance'))).body;
    expect(open.byTenant.find((t: { tenantId: string }) => t.tenantId === a.id)).toMatchObject({ requests: 0, retail: fromUnits(event.wholesaleUnits), wholesale: fromUnits(event.levels![0].costUnits) });
    expect(open.byTenant.find((t: { tenantId: string }) => t.tenantId === b.id)).toMatchObject({ requests: 1, retail: fromUnits(event.retailUnits), wholesale: fromUnits(event.wholesaleUnits) });
    // A's own open period (its finance) holds what B paid it; B's never shows A's cost.
    const aOpen = ok(await req(a, 'finance', 'GET', '/api/v1/statements/open')).body;
    expect(JSON.stringify(aOpen)).toContain(fromUnits(event.levels![0].costUnits));

    // A batch that cannot post every level (an ancestor that does not exist) leaves nothing behind:
    // record, resale rows and legs are one transaction, redelivered later as a whole.
    const broken = { ...event, requestId: uuidv7(), levels: [{ tenantId: uuidv7(), costUnits: event.levels![0].costUnits }] };
    await expect(writer.write(b.id, [broken])).rejects.toThrow();
    expect((await system.query(`SELECT count(*)::int AS n FROM usage_records WHERE request_id = $1`, [broken.requestId])).rows[0].n).toBe(0);
    expect(await txCount()).toBe(afterFirst);

    // A price change after the request: the stored units stay what was charged.
    ok(await req(a, 'owner', 'PUT', `/api/v1/tenants/${b.id}/wholesale-discount`, { percent: '0' }));
    await world.price(a, model, { inputPerMillion: '4', outputPerMillion: '8' });
    await eventually(async () => (await runtime().effectivePrice(b.id, model))?.wholesale.inputPerMillion === '4', 'the new chain price');
    const record = (await system.query(`SELECT retail_charge::text, wholesale_cost::text FROM usage_records WHERE request_id = $1`, [event.requestId])).rows[0];
    expect(record).toEqual({ retail_charge: fromUnits(event.retailUnits), wholesale_cost: fromUnits(event.wholesaleUnits) });
    expect((await system.query(`SELECT revenue::text, cost::text FROM usage_resale WHERE request_id = $1`, [event.requestId])).rows[0]).toEqual({
      revenue: fromUnits(event.wholesaleUnits),
      cost: fromUnits(event.levels![0].costUnits),
    });
    // The next request pays the new prices at every level.
    const next = await request(c);
    expect(next.retailUnits).toBe(cost(next, { inputPerMillion: '4', outputPerMillion: '8' }));
    expect(next.wholesaleUnits).toBe(cost(next, { inputPerMillion: '4', outputPerMillion: '8' }));
    expect(next.levels).toEqual([{ tenantId: a.id, costUnits: cost(next, A_COST) }]);
  });

  it("closes every level's statement from the stored units: figures add up and the settlement ledger balances", async () => {
    // A fresh pair (their first statements close a past day): B's customer's requests carry the
    // chain units the proxy computed; A also has a direct customer.
    const parent = await world.reseller(['direct']);
    const child = await world.reseller(['end']);
    await system.query(`UPDATE tenants SET parent_id = $1 WHERE id = $2`, [parent.id, child.id]);
    const day = utcDay(3);
    const at = (h: number) => day.getTime() + h * 3600_000;
    const base = { v: 1 as const, apiKeyId: uuidv7(), channelId: null, model, upstreamModel: 'fake-model', pool: 'standard' as const, cacheReadTokens: 0, cacheWriteTokens: 0, status: 'ok', errorCode: null, latencyMs: 10, ttftMs: 5, stream: false, clientIp: null };
    const chain = (h: number, input: number, output: number): UsageEvent => {
      const tokens = { inputTokens: input, outputTokens: output, cacheReadTokens: 0 };
      return { ...base, ...tokens, requestId: uuidv7(), tenantId: child.id, customerId: child.users.end.id, retailUnits: cost(tokens, A_RETAIL), wholesaleUnits: cost(tokens, B_COST), upstreamUnits: cost(tokens, { inputPerMillion: '0.05', outputPerMillion: '0.2' }), levels: [{ tenantId: parent.id, costUnits: cost(tokens, A_COST) }], createdAt: at(h) };
    };
    const direct = (h: number, input: number, output: number): UsageEvent => {
      const tokens = { inputTokens: input, outputTokens: output, cacheReadTokens: 0 };
      return { ...base, ...tokens, requestId: uuidv7(), tenantId: parent.id, customerId: parent.users.direct.id, retailUnits: cost(tokens, A_RETAIL), wholesaleUnits: cost(tokens, A_COST), upstreamUnits: cost(tokens, { inputPerMillion: '0.05', outputPerMillion: '0.2' }), createdAt: at(h) };
    };
    const childEvents = [chain(1, 1234, 567), chain(2, 777, 3), chain(5, 99_999, 12_345)];
    const parentEvents = [direct(3, 5000, 1000)];
    const writer = worker.app.get(UsageWriter, { strict: false });
    expect((await writer.write(child.id, childEvents)).written).toBe(3);
    expect((await writer.write(parent.id, parentEvents)).written).toBe(1);
    expect((await writer.write(child.id, childEvents)).written).toBe(0);

    const closer = worker.app.get(StatementCloser, { strict: false });
    const sum = (events: UsageEvent[], pick: (e: UsageEvent) => string) => events.reduce((s, e) => s + BigInt(pick(e)), 0n);
    const childStatement = await closer.closePeriod(child.id, day, 'day');
    const parentStatement = await closer.closePeriod(parent.id, day, 'day');
    const row = async (id: string) => (await system.query(`SELECT requests::int, retail_revenue::text, wholesale_cost::text, upstream_cost::text, margin::text, settlement_transaction_id FROM statements WHERE id = $1`, [id])).rows[0];
    const cs = await row(childStatement.id);
    const ps = await row(parentStatement.id);
    // B: its customers' retail, what it paid A.
    const childRetail = sum(childEvents, (e) => e.retailUnits);
    const childCost = sum(childEvents, (e) => e.wholesaleUnits);
    expect(cs).toMatchObject({ requests: 3, retail_revenue: fromUnits(childRetail), wholesale_cost: fromUnits(childCost), margin: fromUnits(childRetail - childCost) });
    // A: its own customer's retail plus what B paid it; its cost to the platform for both.
    const parentRetail = sum(parentEvents, (e) => e.retailUnits) + childCost;
    const parentCost = sum(parentEvents, (e) => e.wholesaleUnits) + sum(childEvents, (e) => e.levels![0].costUnits);
    expect(ps).toMatchObject({ requests: 1, retail_revenue: fromUnits(parentRetail), wholesale_cost: fromUnits(parentCost), margin: fromUnits(parentRetail - parentCost) });
    expect(ps.upstream_cost).toBe(fromUnits(sum(parentEvents, (e) => e.upstreamUnits)));
    // The model lines of A hold B's tokens, with the same money.
    const lines = (await system.query(`SELECT retail_revenue::text, wholesale_cost::text, input_tokens::int FROM statement_lines WHERE statement_id = $1 AND kind = 'model'`, [parentStatement.id])).rows;
    expect(lines).toEqual([{ retail_revenue: fromUnits(parentRetail), wholesale_cost: fromUnits(parentCost), input_tokens: 1234 + 777 + 99_999 + 5000 }]);

    // Settled: every level's revenue and payable accounts are back to zero, the margin withdrawable.
    for (const [tenant, margin] of [[child, childRetail - childCost], [parent, parentRetail - parentCost]] as const) {
      expect(await balance(tenant.id, 'reseller_revenue')).toBe(0n);
      expect(await balance(tenant.id, 'wholesale_payable')).toBe(0n);
      expect(await balance(tenant.id, 'reseller_settled')).toBe(margin);
    }
    expect(await ledgerInvariants(system)).toEqual({ unbalanced: 0, mismatched: 0 });

    // The rollup across the two (the real query, filtered to them): the platform earns A's cost;
    // end customers paid B's and A's customers' retail (not A's revenue from B on top).
    const rollup = await worker.app.get(SystemDb, { strict: false }).run((m) =>
      worker.app.get(StatementsRepository, { strict: false }).rollup(m, { sql: 's.tenant_id IN (:...ids)', params: { ids: [child.id, parent.id] } }, day),
    );
    expect(rollup).toMatchObject({ reseller_retail: fromUnits(childRetail + sum(parentEvents, (e) => e.retailUnits)), reseller_wholesale: fromUnits(parentCost), requests: '4' });
  });

  it('prices spot requests by the spot factors, with the floor, and charges a spot request exactly', async () => {
    // The platform's factor: its list x 0.5; A inherits it (spot 1.5 / 3) and pays 20% off 1 / 2.
    ok(await call(api.baseUrl, 'PUT', `/api/v1/pricing/${model}/spot`, { ...world.as(world.platform, 'finance'), json: { factor: '0.5' } }));
    expectProblem(await req(b, 'owner', 'PUT', `/api/v1/pricing/${model}/spot`, { factor: '1.5' }), 400, 'validation_failed');
    expectProblem(await req(b, 'owner', 'PUT', `/api/v1/pricing/${model}/spot`, { factor: '0' }), 400, 'validation_failed');
    expectProblem(await req(b, 'bob', 'PUT', `/api/v1/pricing/${model}/spot`, { factor: '0.5' }), 403, 'forbidden');
    // Back to A's list of 3 / 6 with B at 10% off.
    await world.price(a, model, { ...A_RETAIL });
    ok(await req(a, 'owner', 'PUT', `/api/v1/tenants/${b.id}/wholesale-discount`, { percent: '10' }));
    await eventually(async () => (await runtime().effectivePrice(b.id, model, Date.now(), null, 'spot'))?.spotFactor === '0.5', 'the spot factor in the runtime');
    const aSpot = (await runtime().effectivePrice(a.id, model, Date.now(), null, 'spot'))!;
    expect(aSpot.retail).toMatchObject({ inputPerMillion: '1.5', outputPerMillion: '3' });
    expect(aSpot.wholesale).toMatchObject({ inputPerMillion: '0.8', outputPerMillion: '1.6' });
    // B's own factor 0.4 would sell at 1.2 / 2.4, below its spot cost (A's spot 1.5 / 3 less 10%): the floor raises it.
    ok(await req(b, 'finance', 'PUT', `/api/v1/pricing/${model}/spot`, { factor: '0.4' }));
    await eventually(async () => (await runtime().effectivePrice(b.id, model, Date.now(), null, 'spot'))?.spotFactor === '0.4', "B's factor");
    const item = ok(await req(b, 'owner', 'GET', '/api/v1/pricing')).body.items.find((i: { model: string }) => i.model === model);
    expect(item.price).toMatchObject({ inputPerMillion: '3', outputPerMillion: '6' });
    expect(item.spot).toMatchObject({ factor: '0.4', price: { inputPerMillion: '1.35', outputPerMillion: '2.7' }, wholesale: { inputPerMillion: '1.35', outputPerMillion: '2.7' } });
    expect(item.spot.floorApplied).toEqual(expect.arrayContaining(['inputPerMillion', 'outputPerMillion']));
    // A customer of B sees the spot price, not what B pays.
    const seen = ok(await req(b, 'bob', 'GET', '/api/v1/pricing')).body.items.find((i: { model: string }) => i.model === model);
    expect(seen.spot).toEqual({ factor: '0.4', price: expect.objectContaining({ inputPerMillion: '1.35' }) });

    // B raises its factor to 0.6: spot retail 1.8 / 3.6 wins over the floor.
    ok(await req(b, 'owner', 'PUT', `/api/v1/pricing/${model}/spot`, { factor: '0.6', effectiveFrom: new Date(Date.now() + 1000).toISOString() }));
    await eventually(async () => (await runtime().effectivePrice(b.id, model, Date.now(), null, 'spot'))?.spotFactor === '0.6', "B's later factor");
    const secret = await world.key(b, 'bob');
    const c = gatewayClient(api.baseUrl, b.domain, secret, { maxRetries: 0 });
    stack.clients.push(c);
    const engine = api.app.get(BillingEngine);
    const holds: HoldRequest[] = [];
    const original = engine.hold.bind(engine);
    const spy = jest.spyOn(engine, 'hold').mockImplementation((r: HoldRequest) => {
      holds.push(r);
      return original(r);
    });
    let spot: UsageEvent;
    try {
      spot = await request(c, true);
    } finally {
      spy.mockRestore();
    }
    // Held at the spot price it is then charged at (the worst case: the prompt estimate and 50 output tokens).
    expect(holds).toHaveLength(1);
    expect(holds[0].holdUnits).toBe(compiledCostUnits({ input: holds[0].tokenEstimate - 50, output: 50 }, compilePrice({ inputPerMillion: '1.8', outputPerMillion: '3.6' })));
    expect(spot.pool).toBe('spot');
    expect(spot.retailUnits).toBe(cost(spot, { inputPerMillion: '1.8', outputPerMillion: '3.6' }));
    expect(spot.wholesaleUnits).toBe(cost(spot, { inputPerMillion: '1.35', outputPerMillion: '2.7' }));
    expect(spot.levels).toEqual([{ tenantId: a.id, costUnits: cost(spot, { inputPerMillion: '0.8', outputPerMillion: '1.6' }) }]);
    // The same customer without the header: the standard prices.
    const standard = await request(c);
    expect(standard.pool).toBe('standard');
    expect(standard.retailUnits).toBe(cost(standard, A_RETAIL));
    expect(standard.wholesaleUnits).toBe(cost(standard, B_COST));
    // Metered like any request: the spot units are what the ledger takes.
    const writer = worker.app.get(UsageWriter, { strict: false });
    expect(await writer.write(b.id, [spot, standard])).toEqual({ written: 2, duplicates: 0 });
    const stored = (await system.query(`SELECT pool, retail_charge::text FROM usage_records WHERE request_id = $1`, [spot.requestId])).rows[0];
    expect(stored).toEqual({ pool: 'spot', retail_charge: fromUnits(spot.retailUnits) });
    expect(await ledgerInvariants(system)).toEqual({ unbalanced: 0, mismatched: 0 });
  });

  it("lets the parent's owner invite its child's first owner, to the child's domain once verified, until the child has one", async () => {
    const slug = `inv-${uuidv7().slice(-10)}`;
    const domain = `${slug}.reseller.localhost`;
    const first = `first@${domain}`;
    // A pending domain cannot serve the console the link opens: the invitation waits, nothing is mailed.
    const created = ok(await req(a, 'owner', 'POST', '/api/v1/sub-resellers', { slug, name: 'Invited Co', domains: [domain], owner: { email: first } }), 201).body;
    expect(created.owner).toEqual({ email: first, status: 'waiting_for_domain' });
    expect((await system.query(`SELECT count(*)::int AS n FROM one_time_tokens WHERE tenant_id = $1`, [created.id])).rows[0].n).toBe(0);
    const listed = () => req(a, 'finance', 'GET', '/api/v1/sub-resellers').then((r) => ok(r));
    expect((await listed()).body.items.find((i: { id: string }) => i.id === created.id).owner).toEqual({ email: first, status: 'waiting_for_domain' });

    // Only the parent's owner, only for its own child.
    const path = `/api/v1/sub-resellers/${created.id}/owner-invitation`;
    expectProblem(await req(a, 'finance', 'POST', path, { email: first }), 403, 'forbidden');
    expectProblem(await req(other, 'owner', 'POST', path, { email: first }), 404, 'not_found');
    expectProblem(await req(a, 'owner', 'POST', `/api/v1/sub-resellers/${other.id}/owner-invitation`, { email: first }), 404, 'not_found');
    expectProblem(await req(b, 'owner', 'POST', `/api/v1/sub-resellers/${created.id}/owner-invitation`, { email: first }), 404, 'not_found');
    expectProblem(await req(a, 'owner', 'POST', path, { email: 'not an address' }), 400, 'validation_failed');

    // The parent sees the record that proves the child's domain and checks it (its owner, its own child only).
    const pending = (await listed()).body.items.find((i: { id: string }) => i.id === created.id).domains[0];
    expect(pending).toMatchObject({ domain, status: 'pending', verification: { txtName: `_aigateway-challenge.${domain}` } });
    const verify = `/api/v1/sub-resellers/${created.id}/domains/${pending.id}/verify`;
    expectProblem(await req(a, 'finance', 'POST', verify), 403, 'forbidden');
    expectProblem(await req(other, 'owner', 'POST', verify), 404, 'not_found');
    expectProblem(await req(b, 'owner', 'POST', verify), 404, 'not_found');
    expectProblem(await req(a, 'owner', 'POST', `/api/v1/sub-resellers/${created.id}/domains/${uuidv7()}/verify`), 404, 'not_found');
    // Not in DNS yet: still pending with the reason, nothing mailed.
    const early = ok(await req(a, 'owner', 'POST', verify)).body;
    expect(early.domain.status).toBe('pending');
    expect(early.domain.verification.lastCheckError).toBeTruthy();
    expect(early.owner).toEqual({ email: first, status: 'waiting_for_domain' });
    // The record exists: verified, it serves, and the invitation that waited goes out, to the child's domain.
    dns.txt.set(pending.verification.txtName.toLowerCase(), [pending.verification.txtValue]);
    const checked = ok(await req(a, 'owner', 'POST', verify)).body;
    expect(checked.domain.status).toBe('verified');
    expect(checked.owner).toEqual({ email: first, status: 'invited' });
    expect((await sink.waitFor((m) => m.to.includes(first), scaled(15000))).text).toContain(`http://${domain}`);
    expect((await call(api.baseUrl, 'GET', '/api/v1/site', { host: domain })).status).toBe(200);

    // The parent sends it again, to another address (the first is withdrawn).
    const second = `second@${domain}`;
    expect(ok(await req(a, 'owner', 'POST', path, { email: second, displayName: 'Second' }), 201).body).toEqual({ email: second, status: 'invited' });
    const mail = await sink.waitFor((m) => m.to.includes(second), scaled(15000));
    expect(mail.subject).toContain('Invited Co');
    expect(mail.text).toContain(`http://${domain}`);
    expect((await system.query(`SELECT email FROM users WHERE tenant_id = $1`, [created.id])).rows).toEqual([{ email: second }]);
    expect((await listed()).body.items.find((i: { id: string }) => i.id === created.id).owner).toEqual({ email: second, status: 'invited' });

    // Accepting it on the child's domain makes that person the child's owner.
    const accepted = await call(api.baseUrl, 'POST', '/api/v1/auth/invitations/accept', { host: domain, json: { token: tokenInMail(mail.text), password: 'Correct-Horse-Battery-9' } });
    expect(accepted.status).toBe(200);
    const roles = (await system.query(`SELECT u.status, r.role FROM users u JOIN user_roles r ON r.user_id = u.id WHERE u.tenant_id = $1`, [created.id])).rows;
    expect(roles).toEqual([{ status: 'active', role: 'owner' }]);
    expect((await listed()).body.items.find((i: { id: string }) => i.id === created.id).owner).toEqual({ email: second, status: 'active' });
    // From then on the child's owner invites its members: the parent is refused.
    expectProblem(await req(a, 'owner', 'POST', path, { email: `third@${domain}` }), 409, 'owner_exists');

    // Audited on both tenants.
    const parentAudit = (await system.query(`SELECT action FROM audit_log WHERE tenant_id = $1 AND subject_id = $2`, [a.id, created.id])).rows.map((r) => r.action);
    expect(parentAudit).toEqual(expect.arrayContaining(['tenant.sub_reseller_created', 'tenant.sub_reseller_owner_invited', 'tenant.sub_reseller_domain_verified']));
    const childAudit = (await system.query(`SELECT action FROM audit_log WHERE tenant_id = $1`, [created.id])).rows.map((r) => r.action);
    expect(childAudit).toEqual(expect.arrayContaining(['tenant.sub_reseller_created', 'tenant.domain_verified', 'member.invited', 'member.reinvited', 'member.invitation_withdrawn', 'member.invitation_accepted']));
  });

  describe('the discount floor over scheduled prices', () => {
    const model2 = `m-sub2-${uuidv7().slice(-8)}`;
    const day = 24 * 3600 * 1000;
    const at = (days: number) => new Date(Math.ceil(Date.now() / 60000) * 60000 + days * day).toISOString();
    let raise: string;

    beforeAll(async () => {
      // Platform 2 / 4 now (A pays 1.6 / 3.2), 3 / 6 from tomorrow (A pays 2.4 / 4.8); A sells at 3 / 6.
      await world.price(world.platform, model2, { inputPerMillion: '2', outputPerMillion: '4' });
      raise = at(1);
      ok(await call(api.baseUrl, 'PUT', `/api/v1/pricing/${model2}`, { ...world.as(world.platform, 'finance'), json: { inputPerMillion: '3', outputPerMillion: '6', effectiveFrom: raise } }));
      await world.price(a, model2, { inputPerMillion: '3', outputPerMillion: '6' });
    });

    it("refuses a child's discount that a scheduled price change would take below the parent's cost, naming the model and the date", async () => {
      // 25% off 3 / 6 is 2.25 / 4.5: above A's cost today, below it from tomorrow.
      const refused = await req(a, 'owner', 'PUT', `/api/v1/tenants/${b.id}/wholesale-discount`, { percent: '25' });
      expectProblem(refused, 422, 'price_below_wholesale');
      expect(refused.text).toContain(model2);
      expect(refused.text).toContain(raise.slice(0, 16));
      expect(ok(await req(a, 'owner', 'GET', `/api/v1/tenants/${b.id}/wholesale-discount`)).body.percent).toBe('10');
      expectProblem(await req(a, 'owner', 'POST', '/api/v1/sub-resellers', { slug: `fl-${uuidv7().slice(-10)}`, name: 'Too cheap', wholesaleDiscountPercent: '25' }), 422, 'price_below_wholesale');
      // 15% (2.55 / 5.1) stays above both.
      ok(await req(a, 'owner', 'PUT', `/api/v1/tenants/${b.id}/wholesale-discount`, { percent: '15' }));
      ok(await req(a, 'owner', 'PUT', `/api/v1/tenants/${b.id}/wholesale-discount`, { percent: '10' }));
    });

    it("refuses a parent's lower list price that would take a child under its cost, and shows the floor lifting after the platform's raise", async () => {
      // A's list 2.5 / 5 from the day after tomorrow: B (10% off) would pay 2.25 / 4.5, below A's 2.4 / 4.8 then.
      const lower = at(2);
      const refused = await req(a, 'owner', 'PUT', `/api/v1/pricing/${model2}`, { inputPerMillion: '2.5', outputPerMillion: '5', effectiveFrom: lower });
      expectProblem(refused, 422, 'price_below_wholesale');
      expect(refused.text).toContain(b.slug);
      expect(refused.text).toContain(lower.slice(0, 16));

      // The platform raising A's cost is never refused because of A's children: B's price is lifted to A's cost, visibly.
      const second = at(3);
      ok(await call(api.baseUrl, 'PUT', `/api/v1/pricing/${model2}`, { ...world.as(world.platform, 'finance'), json: { inputPerMillion: '4', outputPerMillion: '8', effectiveFrom: second } }));
      await eventually(async () => (await runtime().freshBook(b.id))!.effective(model2, Date.parse(second) + 1000)?.wholesale.inputPerMillion === '3.2', "B's lifted price");
      const later = (await runtime().freshBook(b.id))!.effective(model2, Date.parse(second) + 1000)!;
      expect(later.rule.wholesaleFloorApplied).toEqual(expect.arrayContaining(['inputPerMillion', 'outputPerMillion']));
      expect((await runtime().freshBook(b.id))!.effective(model2, Date.now())!.rule.wholesaleFloorApplied).toEqual([]);
      const item = ok(await req(a, 'owner', 'GET', '/api/v1/sub-resellers')).body.items.find((i: { id: string }) => i.id === b.id);
      expect(item.floorLifts).toEqual(expect.arrayContaining([{ model: model2, from: new Date(second).toISOString() }]));
    });
  });
});
