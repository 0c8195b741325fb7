import { Client } from 'pg';
import { fromUnits, toUnits } from '../../libs/money/src';
import { UsageWriter } from '../../src/modules/metering/usage-writer';
import { StatementCloser } from '../../src/modules/settlement/statement-closer.service';
import { RunningApp, startTestApi, startTestWorker } from '../support/app';
import { expectSqlError, isolatedDatabase } from '../support/db';
import { call } from '../support/http';
import { platformWithUsers, resellerWithUsers, RoleName, signIn, TestTenant } from '../support/identity';
import { isolatedRedisUrl } from '../support/redis';
import { utcDay } from '../support/statements';
import { ledgerInvariants, usageEvent } from '../support/usage';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/**
 * Manual adjustments of closed statements, on a database of their own (closes touch the platform
 * tenant): platform owner and finance correct a closed reseller statement; the money moves at once
 * in one balanced `correction` transaction (reseller_settled +x, platform_revenue -x), the closed
 * statement stays as it was, and the reseller's next statement reports the adjustment (total and a
 * line referencing the corrected statement) without settling it a second time.
 */
describe('statement adjustments (e2e)', () => {
  let urls: Awaited<ReturnType<typeof isolatedDatabase>>;
  let system: Client;
  let app: Client;
  let worker: RunningApp;
  let api: RunningApp;
  let closer: StatementCloser;
  let platform: TestTenant;
  let shop: TestTenant;
  let other: TestTenant;
  let first: string;
  let platformStatement: string;
  const tokens = new Map<string, string>();
  const day = utcDay(5);

  const connect = async (url: string) => {
    const client = new Client({ connectionString: url });
    await client.connect();
    return client;
  };
  const balance = async (tenantId: string, kind: string) =>
    (await system.query(`SELECT balance::text FROM ledger_accounts WHERE tenant_id = $1 AND kind = $2 AND customer_id IS NULL`, [tenantId, kind])).rows[0]?.balance ??
    '0.000000000';
  const statementRow = async (id: string) => (await system.query(`SELECT * FROM statements WHERE id = $1`, [id])).rows[0];
  const linesOf = async (id: string) => (await system.query(`SELECT * FROM statement_lines WHERE statement_id = $1 ORDER BY id`, [id])).rows;
  const as = (who: string) => ({
    host: who.startsWith('platform') ? platform.domain : who.startsWith('other') ? other.domain : shop.domain,
    token: tokens.get(who),
  });
  const adjust = (who: string, statementId: string, json: unknown) => call(api.baseUrl, 'POST', `/api/v1/statements/${statementId}/adjustments`, { ...as(who), json });

  beforeAll(async () => {
    urls = await isolatedDatabase();
    const overrides = { ...urls, REDIS_URL: await isolatedRedisUrl(), SETTLEMENT_ENABLED: 'false', METERING_ENABLED: 'false' };
    [system, app] = await Promise.all([connect(urls.DATABASE_SYSTEM_URL), connect(urls.DATABASE_URL)]);
    platform = await platformWithUsers(system, { owner: ['owner'], operator: ['operator'], sales: ['sales'], finance: ['finance'], tech: ['tech'], user: ['user'] });
    shop = await resellerWithUsers(system, { owner: ['owner'], finance: ['finance'], sales: ['sales'], user: ['user'], c: ['user'] });
    other = await resellerWithUsers(system, { owner: ['owner'], finance: ['finance'] });
    await system.query(`INSERT INTO tenant_sales_bindings (tenant_id, reseller_id, sales_user_id) VALUES ($1, $2, $3)`, [platform.id, shop.id, platform.users.sales.id]);
    [worker, api] = await Promise.all([startTestWorker(overrides), startTestApi(overrides)]);
    closer = worker.app.get(StatementCloser, { strict: false });

    // Three requests in the day, each retail 20, wholesale 12: the first statement settles margin 24.
    const events = [1, 2, 3].map((h) =>
      usageEvent({ tenantId: shop.id, customerId: shop.users.c.id, retailUnits: '20000000000', wholesaleUnits: '12000000000', createdAt: day.getTime() + h * HOUR }),
    );
    await worker.app.get(UsageWriter, { strict: false }).write(shop.id, events);
    first = (await closer.closePeriod(shop.id, day, 'day')).id;
    platformStatement = (await closer.closePeriod(platform.id, day, 'day')).id;
    for (const [tenant, prefix] of [[platform, 'platform'], [shop, 'shop'], [other, 'other']] as const) {
      for (const name of Object.keys(tenant.users).filter((n) => n !== 'c')) tokens.set(`${prefix}:${name}`, (await signIn(api.baseUrl, tenant, name)).accessToken);
    }
  });

  afterAll(async () => {
    await api?.close();
    await worker?.close();
    await Promise.all([system?.end(), app?.end()]);
  });

  describe('making an adjustment', () => {
    let closedBefore: Record<string, unknown>;
    let linesBefore: unknown[];

    beforeAll(async () => {
      closedBefore = await statementRow(first);
      linesBefore = await linesOf(first);
      expect(await balance(shop.id, 'reseller_settled')).toBe('24.000000000');
    });

    it('credits the reseller’s settled margin from platform revenue in one balanced correction transaction', async () => {
      const revenueBefore = toUnits(await balance(platform.id, 'platform_revenue'));
      const res = await adjust('platform:finance', first, { amount: '5.5', reason: '  Upstream outage of the day: refunds  ' });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        tenantId: shop.id,
        correctsStatementId: first,
        amount: '5.500000000',
        reason: 'Upstream outage of the day: refunds',
        createdBy: platform.users.finance.id,
      });
      expect(await balance(shop.id, 'reseller_settled')).toBe('29.500000000');
      expect(toUnits(await balance(platform.id, 'platform_revenue')) - revenueBefore).toBe(-5_500_000_000n);

      const [tx] = (await system.query(`SELECT id, tenant_id, kind, amount::text, created_by FROM ledger_transactions WHERE idempotency_key = $1`, [`adjustment:${res.body.id}`])).rows;
      expect(tx).toEqual({ id: res.body.ledgerTransactionId, tenant_id: shop.id, kind: 'correction', amount: '5.500000000', created_by: platform.users.finance.id });
      const entries = (
        await system.query(
          `SELECT e.tenant_id, a.kind, e.amount::text FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id WHERE e.transaction_id = $1 ORDER BY a.kind`,
          [tx.id],
        )
      ).rows;
      expect(entries).toEqual([
        { tenant_id: platform.id, kind: 'platform_revenue', amount: '-5.500000000' },
        { tenant_id: shop.id, kind: 'reseller_settled', amount: '5.500000000' },
      ]);
      expect(await ledgerInvariants(system)).toEqual({ unbalanced: 0, mismatched: 0 });

      const audit = (await system.query(`SELECT action, actor_user_id, actor_tenant_id, changes FROM audit_log WHERE tenant_id = $1 AND subject_id = $2`, [shop.id, res.body.id])).rows;
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ action: 'statement.adjusted', actor_user_id: platform.users.finance.id, actor_tenant_id: platform.id });
      expect(JSON.stringify(audit[0].changes)).toContain('5.500000000');
    });

    it('debits within the available settled margin (platform owner)', async () => {
      const res = await adjust('platform:owner', first, { amount: '-2.25', reason: 'Double-counted promotion' });
      expect(res.status).toBe(201);
      expect(res.body.amount).toBe('-2.250000000');
      expect(await balance(shop.id, 'reseller_settled')).toBe('27.250000000');
    });

    it('refuses a debit above the available settled margin with 422 naming the available amount', async () => {
      const revenueBefore = await balance(platform.id, 'platform_revenue');
      const res = await adjust('platform:finance', first, { amount: '-27.250000001', reason: 'Too much' });
      expect(res.status).toBe(422);
      expect(res.body.code).toBe('statement_adjustment_exceeds_available');
      expect(res.body.detail).toContain('27.250000000');
      expect(await balance(shop.id, 'reseller_settled')).toBe('27.250000000');
      expect(await balance(platform.id, 'platform_revenue')).toBe(revenueBefore);
      // Exactly the available amount is allowed, and then put back.
      expect((await adjust('platform:finance', first, { amount: '-27.25', reason: 'All of it' })).status).toBe(201);
      expect(await balance(shop.id, 'reseller_settled')).toBe('0.000000000');
      expect((await adjust('platform:finance', first, { amount: '27.25', reason: 'Back again' })).status).toBe(201);
    });

    it("refuses the platform's own statement with 422", async () => {
      const res = await adjust('platform:finance', platformStatement, { amount: '1', reason: 'Not a reseller' });
      expect(res.status).toBe(422);
      expect(res.body.code).toBe('statement_adjustment_not_a_reseller');
      expect(Number((await system.query(`SELECT count(*) FROM statement_adjustments WHERE corrects_statement_id = $1`, [platformStatement])).rows[0].count)).toBe(0);
    });

    it.each([
      ['zero', { amount: '0', reason: 'x' }],
      ['zero with decimals', { amount: '-0.000', reason: 'x' }],
      ['ten decimals', { amount: '1.1234567890', reason: 'x' }],
      ['exponent', { amount: '1e3', reason: 'x' }],
      ['a plus sign', { amount: '+1', reason: 'x' }],
      ['a number, not a string', { amount: 12.5, reason: 'x' }],
      ['empty', { amount: '', reason: 'x' }],
      ['above WITHDRAWAL_MAX_AMOUNT', { amount: '1000000.000000001', reason: 'x' }],
      ['below -WITHDRAWAL_MAX_AMOUNT', { amount: '-1000001', reason: 'x' }],
      ['no reason', { amount: '1' }],
      ['a blank reason', { amount: '1', reason: '   ' }],
      ['a reason of 501 characters', { amount: '1', reason: 'r'.repeat(501) }],
      ['an unknown field', { amount: '1', reason: 'x', statementId: '00000000-0000-0000-0000-000000000000' }],
    ])('refuses %s with 400', async (_name, body) => {
      const count = async () => Number((await system.query(`SELECT count(*) FROM statement_adjustments`)).rows[0].count);
      const before = await count();
      const res = await adjust('platform:finance', first, body);
      expect({ status: res.status, code: res.body?.code }).toEqual({ status: 400, code: 'validation_failed' });
      expect(await count()).toBe(before);
    });

    it('is 404 for an unknown statement', async () => {
      expect((await adjust('platform:finance', '0190aaaa-0000-7000-8000-000000000000', { amount: '1', reason: 'x' })).status).toBe(404);
    });

    it('leaves the corrected statement and its lines exactly as they were', async () => {
      expect(await statementRow(first)).toEqual(closedBefore);
      expect(await linesOf(first)).toEqual(linesBefore);
    });

    it('lists the adjustments of a statement, oldest first', async () => {
      const res = await call(api.baseUrl, 'GET', `/api/v1/statements/${first}/adjustments`, as('shop:finance'));
      expect(res.status).toBe(200);
      expect(res.body.items.map((a: { amount: string }) => a.amount)).toEqual(['5.500000000', '-2.250000000', '-27.250000000', '27.250000000']);
    });
  });

  describe('who may adjust and read adjustments', () => {
    const POST: Array<[string, number]> = [
      ['platform:owner', 201],
      ['platform:finance', 201],
      ['platform:operator', 403],
      ['platform:sales', 403],
      ['platform:tech', 403],
      ['platform:user', 403],
      ['shop:owner', 403],
      ['shop:finance', 403],
      ['shop:sales', 403],
      ['shop:user', 403],
      ['other:owner', 403],
      ['other:finance', 403],
    ];
    it.each(POST)('%s: POST adjustments -> %d', async (who, status) => {
      const res = await adjust(who, first, { amount: '0.01', reason: `by ${who}` });
      expect({ status: res.status, code: res.status >= 400 ? res.body.code : undefined }).toEqual({ status, code: status === 403 ? 'forbidden' : undefined });
    });

    const GET: Array<[string, number]> = [
      ['platform:owner', 200],
      ['platform:finance', 200],
      // Bound to the shop: reads its statements, and so their adjustments.
      ['platform:sales', 200],
      ['platform:operator', 403],
      ['platform:tech', 403],
      ['platform:user', 403],
      ['shop:owner', 200],
      ['shop:finance', 200],
      ['shop:sales', 403],
      ['shop:user', 403],
      ['other:owner', 404],
      ['other:finance', 404],
    ];
    it.each(GET)('%s: GET adjustments -> %d', async (who, status) => {
      const res = await call(api.baseUrl, 'GET', `/api/v1/statements/${first}/adjustments`, as(who));
      expect({ status: res.status, code: res.status >= 400 ? res.body.code : undefined }).toEqual({
        status,
        code: status === 403 ? 'forbidden' : status === 404 ? 'not_found' : undefined,
      });
    });

    it("is 404 for platform sales on a statement out of their reach (the platform's own)", async () => {
      expect((await call(api.baseUrl, 'GET', `/api/v1/statements/${platformStatement}/adjustments`, as('platform:sales'))).status).toBe(404);
    });
  });

  describe('the next close', () => {
    let second: string;
    const sumOf = async (where: string, params: unknown[]) =>
      (await system.query(`SELECT coalesce(sum(amount), 0)::numeric(30, 9)::text AS s FROM statement_adjustments WHERE ${where}`, params)).rows[0].s;

    it('reports the adjustments made since the previous close: total, a line referencing the corrected statement, no second settlement', async () => {
      const expected = await sumOf('corrects_statement_id = $1', [first]);
      expect(expected).toBe('3.270000000'); // 5.5 - 2.25 - 27.25 + 27.25 + 0.01 + 0.01
      // Usage of the second day: margin 8.
      await worker.app.get(UsageWriter, { strict: false }).write(shop.id, [
        usageEvent({ tenantId: shop.id, customerId: shop.users.c.id, retailUnits: '20000000000', wholesaleUnits: '12000000000', createdAt: day.getTime() + DAY + HOUR }),
      ]);
      const settledBefore = toUnits(await balance(shop.id, 'reseller_settled'));
      second = (await closer.closePeriod(shop.id, new Date(day.getTime() + DAY), 'day')).id;
      const row = await statementRow(second);
      expect(row.adjustments).toBe(expected);
      expect(row.corrected_statement_ids).toEqual([first]);
      expect(row.margin).toBe('8.000000000');
      const lines = (await linesOf(second)).filter((l) => l.kind === 'adjustment');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        corrects_statement_id: first, margin: expected, requests: '0', retail_revenue: '0.000000000', wholesale_cost: '0.000000000', upstream_cost: '0.000000000',
      });
      // The settlement moved the period's margin only: the adjustments moved their money already.
      expect(toUnits(await balance(shop.id, 'reseller_settled')) - settledBefore).toBe(8_000_000_000n);
      const [event] = (await system.query(`SELECT data FROM webhook_events WHERE tenant_id = $1 AND type = 'statement.closed' AND data->>'statementId' = $2`, [shop.id, second])).rows;
      expect(event.data).toMatchObject({ adjustments: expected, settledMargin: '8.000000000' });
      expect(await ledgerInvariants(system)).toEqual({ unbalanced: 0, mismatched: 0 });
    });

    it('shows the total and the line in the statement’s JSON and CSV', async () => {
      const detail = await call(api.baseUrl, 'GET', `/api/v1/statements/${second}`, as('shop:owner'));
      expect(detail.status).toBe(200);
      expect(detail.body).toMatchObject({ adjustments: '3.270000000', settledMargin: '8.000000000' });
      expect(detail.body.lines.filter((l: { kind: string }) => l.kind === 'adjustment')).toEqual([
        expect.objectContaining({ kind: 'adjustment', correctsStatementId: first, margin: '3.270000000', requests: 0 }),
      ]);
      const csv = await call(api.baseUrl, 'GET', `/api/v1/statements/${second}.csv`, as('shop:finance'));
      const rows = csv.text.trim().split('\r\n').map((r) => r.split(','));
      expect(rows.find((r) => r[0] === 'adjustments')?.at(-1)).toBe('3.270000000');
      expect(rows.find((r) => r[0] === 'adjustment')).toEqual(['adjustment', first, '0', '0', '0', '0', '0', '0.000000000', '0.000000000', '3.270000000']);
      // The first statement has no adjustments of its own.
      expect((await call(api.baseUrl, 'GET', `/api/v1/statements/${first}`, as('shop:owner'))).body.adjustments).toBe('0.000000000');
    });

    it('puts an adjustment made after a close into the following statement only (every adjustment in exactly one)', async () => {
      const res = await adjust('platform:finance', second, { amount: '-1', reason: 'Correcting the second day' });
      expect(res.status).toBe(201);
      const also = await adjust('platform:finance', first, { amount: '0.5', reason: 'Another look at the first day' });
      expect(also.status).toBe(201);
      const third = (await closer.closePeriod(shop.id, new Date(day.getTime() + 2 * DAY), 'day')).id;
      const row = await statementRow(third);
      expect(row.adjustments).toBe('-0.500000000');
      expect([...row.corrected_statement_ids].sort()).toEqual([first, second].sort());
      const lines = (await linesOf(third)).filter((l) => l.kind === 'adjustment').map((l) => [l.corrects_statement_id, l.margin]);
      expect(lines.sort()).toEqual([[first, '0.500000000'], [second, '-1.000000000']].sort());
      expect((await statementRow(second)).adjustments).toBe('3.270000000');
      // Across statements, every adjustment of the shop is reported exactly once.
      const reported = (await system.query(`SELECT coalesce(sum(adjustments), 0)::numeric(30, 9)::text AS s FROM statements WHERE tenant_id = $1`, [shop.id])).rows[0].s;
      expect(reported).toBe(await sumOf('tenant_id = $1', [shop.id]));
      expect(fromUnits(toUnits(reported))).toBe('2.770000000');
    });
  });

  describe('racing a withdrawal for the same settled margin', () => {
    it('never lets both through: one of a debit adjustment and a withdrawal, each over half the margin, is refused, and the margin never goes below zero', async () => {
      for (let round = 0; round < 4; round++) {
        const available = toUnits(await balance(shop.id, 'reseller_settled'));
        expect(available > 2n).toBe(true);
        const part = fromUnits(available / 2n + 1n);
        const [adjusted, withdrawn] = await Promise.all([
          adjust('platform:finance', first, { amount: `-${part}`, reason: `race ${round}` }),
          call(api.baseUrl, 'POST', '/api/v1/withdrawals', { ...as('shop:finance'), json: { amount: part } }),
        ]);
        expect([adjusted.status, withdrawn.status].sort()).toEqual([201, 422]);
        expect(toUnits(await balance(shop.id, 'reseller_settled'))).toBe(available - toUnits(part));
        expect(await ledgerInvariants(system)).toEqual({ unbalanced: 0, mismatched: 0 });
        // Refill for the next round (a credit adjustment).
        expect((await adjust('platform:finance', first, { amount: '10', reason: `refill ${round}` })).status).toBe(201);
      }
    });
  });

  describe('append-only at the database', () => {
    it('refuses UPDATE, DELETE and TRUNCATE to the system role', async () => {
      await expectSqlError(system.query(`UPDATE statement_adjustments SET amount = 1000`), /permission denied/);
      await expectSqlError(system.query(`DELETE FROM statement_adjustments`), /permission denied/);
      await expectSqlError(system.query(`TRUNCATE statement_adjustments`), /permission denied/);
    });

    it('refuses them to the application role, even in a platform-wide scope', async () => {
      for (const sql of [`UPDATE statement_adjustments SET amount = 1000`, `DELETE FROM statement_adjustments`]) {
        await app.query('BEGIN');
        try {
          await app.query(`SELECT tenancy.enter_scope($1::uuid, '{}'::uuid[], true)`, [platform.id]);
          await expectSqlError(app.query(sql), /permission denied/);
        } finally {
          await app.query('ROLLBACK');
        }
      }
    });
  });
});
