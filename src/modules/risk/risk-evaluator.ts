import { Inject, Injectable, Logger } from '@nestjs/common';
import { UsageEvent } from '@app/billing';
import { fromUnits, trimDecimal } from '@app/money';
import { REDIS } from '@app/redis';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import Redis from 'ioredis';
import type { Counter } from 'prom-client';
import { EntityManager } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { auditDiff } from '../audit/audit-diff';
import { KEYS_CACHE_CHANNEL } from '../keys/keys-runtime';
import { WebhookOutbox } from '../webhooks/webhook-outbox';
import { RISK_FLAGS_METRIC } from './risk.metrics';
import { RISK_RULE_DEFINITIONS, RiskAction, RiskRule } from './risk-rules';

/** A flag this transaction raised (acted on after the commit: metric, key cache). */
export interface RaisedFlag {
  id: string;
  tenantId: string;
  rule: RiskRule;
  action: RiskAction;
  suspendedKeyIds: string[];
}

interface Crossing {
  subject_id: string;
  customer_id: string;
  window_start: Date;
  window_end: Date;
  observed: string;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * Evaluates a tenant's enabled risk rules (risk-rules.ts) on the usage a metering batch has just
 * recorded, inside that batch's transaction: a flag, the keys it suspends, its `risk.flagged`
 * webhook event and its audit entry commit together with the usage records, or not at all (a
 * worker that dies anywhere before the commit leaves nothing, and the redelivered batch does it
 * all again). Each window's total is a running total (see crossings()): counted from usage_records
 * when a batch first touches the window, then moved by each batch's own new records, so a batch's
 * cost does not grow with how full its windows are. A tenant with no enabled rule costs one
 * primary-key read per batch; the /v1 hot path nothing.
 *
 * A flag is unique per rule, subject and window: a window over the threshold is flagged once.
 * Concurrent batches of one tenant take each rule's lock in turn, so each window is counted
 * exactly once and a window they push over together is flagged by the second.
 */
@Injectable()
export class RiskEvaluator {
  private readonly logger = new Logger(RiskEvaluator.name);

  constructor(
    private readonly outbox: WebhookOutbox,
    @Inject(REDIS) private readonly redis: Redis,
    @InjectMetric(RISK_FLAGS_METRIC) private readonly flagsTotal: Counter<'rule' | 'action'>,
  ) {
    for (const rule of Object.keys(RISK_RULE_DEFINITIONS) as RiskRule[]) {
      for (const action of RISK_RULE_DEFINITIONS[rule].actions) flagsTotal.inc({ rule, action }, 0);
    }
  }

  /** In the caller's (metering) transaction: `events` are the tenant's newly recorded usage. */
  async evaluate(m: EntityManager, tenantId: string, events: readonly UsageEvent[]): Promise<RaisedFlag[]> {
    if (events.length === 0) return [];
    const rules: Array<{ rule: RiskRule; threshold: string; action: RiskAction }> = await m.query(
      `SELECT rule, threshold::text AS threshold, action FROM risk_rules WHERE tenant_id = $1 AND enabled`,
      [tenantId],
    );
    const raised: RaisedFlag[] = [];
    for (const { rule, threshold, action } of rules) {
      for (const crossing of await this.crossings(m, tenantId, rule, threshold, events)) {
        const flag = await this.raise(m, tenantId, rule, threshold, action, crossing);
        if (flag) raised.push(flag);
      }
    }
    return raised;
  }

  /** After the commit: the metric, and every instance's key cache forgets the suspended keys. */
  async afterCommit(flags: readonly RaisedFlag[]): Promise<void> {
    for (const flag of flags) {
      this.flagsTotal.inc({ rule: flag.rule, action: flag.action });
      this.logger.warn({ tenantId: flag.tenantId, flagId: flag.id, rule: flag.rule, suspended: flag.suspendedKeyIds.length }, 'risk rule triggered');
      for (const keyId of flag.suspendedKeyIds) {
        // A lost broadcast (Redis down, the worker dies here) is bounded by KEY_CACHE_TTL_SECONDS:
        // the api instances re-read the key, suspended, from PostgreSQL.
        await this.redis.publish(KEYS_CACHE_CHANNEL, `key:${keyId}`).catch((error: Error) => this.logger.warn(`key cache broadcast failed (the cache TTL bounds it): ${error.message}`));
      }
    }
  }

  /**
   * The windows of `rule` this batch touched that are over `threshold`, from running totals
   * (risk_window_totals): a window's total is counted from usage_records once, by the first batch
   * that touches it (its own new records included, they are already inserted), and then moved by
   * each later batch's own new records only, so a batch costs the same however full its windows
   * are. The rule's lock (per tenant, until the commit) makes concurrent batches of one tenant take
   * turns here, so a window is counted once and every batch's records are added once.
   */
  private async crossings(m: EntityManager, tenantId: string, rule: RiskRule, threshold: string, events: readonly UsageEvent[]): Promise<Crossing[]> {
    await m.query(`SELECT pg_advisory_xact_lock(hashtext('aigateway:risk:' || $1::text), hashtext($2))`, [tenantId, rule]);
    const windows = await this.touched(m, tenantId, rule, events);
    if (windows.size === 0) return [];
    const list = [...windows.values()];
    const ids = list.map((w) => w.subject);
    const starts = list.map((w) => new Date(w.start));
    const known = new Set(
      (
        (await m.query(
          `SELECT t.subject_id, t.window_start FROM risk_window_totals t JOIN unnest($3::uuid[], $4::timestamptz[]) AS p(id, w) ON t.subject_id = p.id AND t.window_start = p.w
            WHERE t.tenant_id = $1 AND t.rule = $2`,
          [tenantId, rule, ids, starts],
        )) as Array<{ subject_id: string; window_start: Date }>
      ).map((r) => `${r.subject_id}:${r.window_start.getTime()}`),
    );
    const fresh = list.filter((w) => !known.has(w.key));
    const seeds = fresh.length > 0 ? await this.seed(m, tenantId, rule, fresh) : new Map<string, string>();
    if (rule === 'key_distinct_ips') {
      // A known window's count grows by the addresses it had not seen.
      const added = await this.newAddresses(m, tenantId, events.filter((e) => known.has(windowKey(e.apiKeyId, startOf(e.createdAt, HOUR_MS)))));
      for (const w of list) if (known.has(w.key)) w.delta = String(added.get(w.key) ?? 0);
    }
    const totals: Array<{ subject_id: string; window_start: Date; total: string; over: boolean }> = await m.query(
      `INSERT INTO risk_window_totals (tenant_id, rule, subject_id, window_start, total)
       SELECT $1, $2, p.id, p.w, p.v FROM unnest($3::uuid[], $4::timestamptz[], $5::numeric[]) AS p(id, w, v)
       ON CONFLICT (tenant_id, rule, subject_id, window_start) DO UPDATE SET total = risk_window_totals.total + EXCLUDED.total
       RETURNING subject_id, window_start, total::text AS total, total > $6::numeric AS over`,
      [tenantId, rule, ids, starts, list.map((w) => (known.has(w.key) ? w.delta : (seeds.get(w.key) ?? '0'))), threshold],
    );
    if (fresh.length > 0) {
      // A new window: those two days old go (a flag is only ever raised on a window being filled).
      const before = new Date(Math.min(...fresh.map((w) => w.start)) - 2 * DAY_MS);
      await m.query(`DELETE FROM risk_window_totals WHERE tenant_id = $1 AND rule = $2 AND window_start < $3`, [tenantId, rule, before]);
      if (rule === 'key_distinct_ips') await m.query(`DELETE FROM risk_window_addresses WHERE tenant_id = $1 AND window_start < $2`, [tenantId, before]);
    }
    const over: Crossing[] = [];
    for (const t of totals) {
      const w = windows.get(`${t.subject_id}:${t.window_start.getTime()}`)!;
      if (t.over) {
        over.push({ subject_id: t.subject_id, customer_id: w.customer, window_start: new Date(w.start), window_end: new Date(w.start + w.length), observed: t.total });
      }
    }
    return over;
  }

  /** The (subject, window) pairs of the batch for `rule`, each with the batch's own share. */
  private async touched(m: EntityManager, tenantId: string, rule: RiskRule, events: readonly UsageEvent[]): Promise<Map<string, TouchedWindow>> {
    const out = new Map<string, TouchedWindow>();
    const add = (subject: string, customer: string, start: number, length: number, delta: bigint) => {
      const key = windowKey(subject, start);
      const w = out.get(key);
      if (w) w.units += delta;
      else out.set(key, { key, subject, customer, start, length, units: delta, delta: '0' });
    };
    switch (rule) {
      case 'key_velocity':
        for (const e of events) add(e.apiKeyId, e.customerId, startOf(e.createdAt, MINUTE_MS), MINUTE_MS, 1n);
        break;
      case 'key_distinct_ips':
        // Requests without an address count no address (as before: NULL is not an address).
        for (const e of events) if (e.clientIp) add(e.apiKeyId, e.customerId, startOf(e.createdAt, HOUR_MS), HOUR_MS, 0n);
        break;
      case 'balance_drop':
        for (const e of events) add(e.customerId, e.customerId, startOf(e.createdAt, HOUR_MS), HOUR_MS, BigInt(e.retailUnits));
        break;
      case 'new_customer_spend': {
        // Only customers whose first day some event of the batch falls in.
        const customers = [...new Set(events.map((e) => e.customerId))];
        const oldest = new Date(Math.min(...events.map((e) => e.createdAt)) - DAY_MS);
        const rows: Array<{ id: string; created_at: Date }> = await m.query(`SELECT id, created_at FROM users WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND created_at > $3`, [tenantId, customers, oldest]);
        const born = new Map(rows.map((r) => [r.id, r.created_at.getTime()]));
        for (const e of events) {
          const start = born.get(e.customerId);
          if (start !== undefined && e.createdAt >= start && e.createdAt < start + DAY_MS) add(e.customerId, e.customerId, start, DAY_MS, BigInt(e.retailUnits));
        }
        break;
      }
    }
    for (const w of out.values()) w.delta = rule === 'key_velocity' ? w.units.toString() : fromUnits(w.units);
    return out;
  }

  /** The totals of windows no batch has counted yet, from usage_records (this batch's rows included). */
  private async seed(m: EntityManager, tenantId: string, rule: RiskRule, windows: TouchedWindow[]): Promise<Map<string, string>> {
    const ids = windows.map((w) => w.subject);
    const starts = windows.map((w) => new Date(w.start));
    const ends = windows.map((w) => new Date(w.start + w.length));
    const column = rule === 'key_velocity' || rule === 'key_distinct_ips' ? 'api_key_id' : 'customer_id';
    let rows: Array<{ id: string; w: Date; total: string }>;
    if (rule === 'key_distinct_ips') {
      // The window's addresses so far become its set; its total is their number.
      rows = await m.query(
        `WITH seeded AS (
           INSERT INTO risk_window_addresses (tenant_id, api_key_id, window_start, client_ip)
           SELECT DISTINCT $1::uuid, p.id, p.w, r.client_ip FROM unnest($2::uuid[], $3::timestamptz[], $4::timestamptz[]) AS p(id, w, e)
             JOIN usage_records r ON r.tenant_id = $1 AND r.api_key_id = p.id AND r.created_at >= p.w AND r.created_at < p.e
            WHERE r.client_ip IS NOT NULL
           ON CONFLICT DO NOTHING RETURNING api_key_id, window_start)
         SELECT p.id, p.w, (SELECT count(*) FROM risk_window_addresses a WHERE a.tenant_id = $1 AND a.api_key_id = p.id AND a.window_start = p.w)
                  + (SELECT count(*) FROM seeded s WHERE s.api_key_id = p.id AND s.window_start = p.w) AS total
           FROM unnest($2::uuid[], $3::timestamptz[]) AS p(id, w)`,
        [tenantId, ids, starts, ends],
      );
    } else {
      const measure = rule === 'key_velocity' ? 'count(r.*)' : 'coalesce(sum(r.retail_charge), 0)';
      rows = await m.query(
        `SELECT p.id, p.w, ${measure}::text AS total FROM unnest($2::uuid[], $3::timestamptz[], $4::timestamptz[]) AS p(id, w, e)
           LEFT JOIN usage_records r ON r.tenant_id = $1 AND r.${column} = p.id AND r.created_at >= p.w AND r.created_at < p.e
          GROUP BY p.id, p.w`,
        [tenantId, ids, starts, ends],
      );
    }
    return new Map(rows.map((r) => [windowKey(r.id, r.w.getTime()), String(r.total)]));
  }

  /** Adds the batch's client addresses to their (already counted) windows; per window, how many were new. */
  private async newAddresses(m: EntityManager, tenantId: string, events: readonly UsageEvent[]): Promise<Map<string, number>> {
    const seen = new Set<string>();
    const keys: string[] = [];
    const starts: Date[] = [];
    const ips: string[] = [];
    for (const e of events) {
      if (!e.clientIp) continue;
      const start = startOf(e.createdAt, HOUR_MS);
      const k = `${e.apiKeyId}:${start}:${e.clientIp}`;
      if (seen.has(k)) continue;
      seen.add(k);
      keys.push(e.apiKeyId);
      starts.push(new Date(start));
      ips.push(e.clientIp);
    }
    const added = new Map<string, number>();
    if (keys.length === 0) return added;
    const rows: Array<{ api_key_id: string; window_start: Date }> = await m.query(
      `INSERT INTO risk_window_addresses (tenant_id, api_key_id, window_start, client_ip)
       SELECT $1, p.k, p.w, p.ip FROM unnest($2::uuid[], $3::timestamptz[], $4::inet[]) AS p(k, w, ip)
       ON CONFLICT DO NOTHING RETURNING api_key_id, window_start`,
      [tenantId, keys, starts, ips],
    );
    for (const r of rows) {
      const k = windowKey(r.api_key_id, r.window_start.getTime());
      added.set(k, (added.get(k) ?? 0) + 1);
    }
    return added;
  }

  /** Records the flag (once per rule, subject and window), suspends what the action says, publishes and audits. */
  private async raise(m: EntityManager, tenantId: string, rule: RiskRule, threshold: string, action: RiskAction, c: Crossing): Promise<RaisedFlag | null> {
    const id = uuidv7();
    const subjectType = RISK_RULE_DEFINITIONS[rule].subject;
    const inserted: Array<{ id: string }> = await m.query(
      `INSERT INTO risk_flags (id, tenant_id, rule, subject_type, subject_id, customer_id, window_start, window_end, observed, threshold, action)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (tenant_id, rule, subject_id, window_start) DO NOTHING RETURNING id`,
      [id, tenantId, rule, subjectType, c.subject_id, c.customer_id, c.window_start, c.window_end, c.observed, threshold, action],
    );
    if (inserted.length === 0) return null;
    let suspended: string[] = [];
    if (action !== 'flag') {
      // Rows locked in id order (as metering locks keys), then suspended: only keys still active.
      const rows: Array<{ id: string }> = await m.query(
        `WITH suspended AS (
           UPDATE api_keys k SET status = 'suspended', updated_at = now()
            WHERE k.id IN (SELECT id FROM api_keys WHERE tenant_id = $1 AND ${action === 'suspend_key' ? 'id' : 'customer_id'} = $2 AND status = 'active' ORDER BY id FOR UPDATE)
            RETURNING k.id)
         SELECT id FROM suspended`,
        [tenantId, c.subject_id],
      );
      suspended = rows.map((r) => r.id).sort();
      if (suspended.length > 0) await m.query(`UPDATE risk_flags SET suspended_key_ids = $2::uuid[] WHERE id = $1`, [id, suspended]);
    }
    const data = {
      flagId: id,
      rule,
      subjectType,
      subjectId: c.subject_id,
      customerId: c.customer_id,
      windowStart: c.window_start.toISOString(),
      windowEnd: c.window_end.toISOString(),
      observed: trimDecimal(c.observed),
      threshold: trimDecimal(threshold),
      action,
      suspendedKeyIds: suspended,
    };
    await this.outbox.publish(m, tenantId, 'risk.flagged', data);
    // The audit entry of a change nobody made by hand: no actor (the system).
    await m.query(
      `INSERT INTO audit_log (id, tenant_id, actor_user_id, actor_tenant_id, action, subject_type, subject_id, changes) VALUES ($1, $2, NULL, NULL, 'risk.flagged', 'RiskFlag', $3, $4)`,
      [uuidv7(), tenantId, id, JSON.stringify(auditDiff(null, { rule, subjectType, subjectId: c.subject_id, observed: data.observed, threshold: data.threshold, action, suspended }))],
    );
    return { id, tenantId, rule, action, suspendedKeyIds: suspended };
  }
}

/** A window of one subject the batch touched: its start and length (ms) and the batch's share. */
interface TouchedWindow {
  key: string;
  subject: string;
  customer: string;
  start: number;
  length: number;
  /** The batch's share in the rule's unit: requests, or nano-units of retail charge. */
  units: bigint;
  /** The same as the total's decimal (or, for addresses, the new ones), added to a counted window. */
  delta: string;
}

const startOf = (ms: number, windowMs: number) => ms - (ms % windowMs);
const windowKey = (subject: string, startMs: number) => `${subject}:${startMs}`;
