import { Inject, Injectable, Logger } from '@nestjs/common';
import { UsageEvent } from '@app/billing';
import { trimDecimal } from '@app/money';
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

/**
 * Evaluates a tenant's enabled risk rules (risk-rules.ts) on the usage a metering batch has just
 * recorded, inside that batch's transaction: a flag, the keys it suspends, its `risk.flagged`
 * webhook event and its audit entry commit together with the usage records, or not at all (a
 * worker that dies anywhere before the commit leaves nothing, and the redelivered batch does it
 * all again). The counts are read from usage_records (the batch's own rows included), only for the
 * keys/customers and windows the batch touched. A tenant with no enabled rule costs one primary-key
 * read per batch; the /v1 hot path nothing.
 *
 * A flag is unique per rule, subject and window: a window over the threshold is flagged once.
 * Two batches of one tenant committed concurrently each count the other's rows only once
 * committed; a window they push over together is flagged by the next batch that touches it.
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

  private crossings(m: EntityManager, tenantId: string, rule: RiskRule, threshold: string, events: readonly UsageEvent[]): Promise<Crossing[]> {
    switch (rule) {
      case 'key_velocity': {
        const [keys, windows] = pairs(events, (e) => e.apiKeyId, MINUTE_MS);
        return m.query(
          `SELECT r.api_key_id AS subject_id, min(r.customer_id::text)::uuid AS customer_id, p.w AS window_start, p.w + interval '1 minute' AS window_end, count(*)::text AS observed
             FROM unnest($2::uuid[], $3::timestamptz[]) AS p(id, w)
             JOIN usage_records r ON r.tenant_id = $1 AND r.api_key_id = p.id AND r.created_at >= p.w AND r.created_at < p.w + interval '1 minute'
            GROUP BY r.api_key_id, p.w HAVING count(*) > $4::numeric`,
          [tenantId, keys, windows, threshold],
        );
      }
      case 'key_distinct_ips': {
        const [keys, windows] = pairs(events, (e) => e.apiKeyId, HOUR_MS);
        return m.query(
          `SELECT r.api_key_id AS subject_id, min(r.customer_id::text)::uuid AS customer_id, p.w AS window_start, p.w + interval '1 hour' AS window_end, count(DISTINCT r.client_ip)::text AS observed
             FROM unnest($2::uuid[], $3::timestamptz[]) AS p(id, w)
             JOIN usage_records r ON r.tenant_id = $1 AND r.api_key_id = p.id AND r.created_at >= p.w AND r.created_at < p.w + interval '1 hour'
            WHERE r.client_ip IS NOT NULL
            GROUP BY r.api_key_id, p.w HAVING count(DISTINCT r.client_ip) > $4::numeric`,
          [tenantId, keys, windows, threshold],
        );
      }
      case 'balance_drop': {
        const [customers, windows] = pairs(events, (e) => e.customerId, HOUR_MS);
        return m.query(
          `SELECT r.customer_id AS subject_id, r.customer_id, p.w AS window_start, p.w + interval '1 hour' AS window_end, sum(r.retail_charge)::text AS observed
             FROM unnest($2::uuid[], $3::timestamptz[]) AS p(id, w)
             JOIN usage_records r ON r.tenant_id = $1 AND r.customer_id = p.id AND r.created_at >= p.w AND r.created_at < p.w + interval '1 hour'
            GROUP BY r.customer_id, p.w HAVING sum(r.retail_charge) > $4::numeric`,
          [tenantId, customers, windows, threshold],
        );
      }
      case 'new_customer_spend': {
        // Only customers whose first day some event of the batch falls in.
        const customers = [...new Set(events.map((e) => e.customerId))];
        const oldest = new Date(Math.min(...events.map((e) => e.createdAt)) - 24 * HOUR_MS);
        return m.query(
          `SELECT u.id AS subject_id, u.id AS customer_id, u.created_at AS window_start, u.created_at + interval '24 hours' AS window_end, sum(r.retail_charge)::text AS observed
             FROM users u
             JOIN usage_records r ON r.tenant_id = $1 AND r.customer_id = u.id AND r.created_at >= u.created_at AND r.created_at < u.created_at + interval '24 hours'
            WHERE u.tenant_id = $1 AND u.id = ANY($2::uuid[]) AND u.created_at > $3
            GROUP BY u.id, u.created_at HAVING sum(r.retail_charge) > $4::numeric`,
          [tenantId, customers, oldest, threshold],
        );
      }
    }
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

/** Distinct (subject, window start) pairs of the events, as two parallel arrays for unnest. */
function pairs(events: readonly UsageEvent[], subject: (e: UsageEvent) => string, windowMs: number): [string[], Date[]] {
  const seen = new Set<string>();
  const ids: string[] = [];
  const windows: Date[] = [];
  for (const e of events) {
    const start = e.createdAt - (e.createdAt % windowMs);
    const key = `${subject(e)}:${start}`;
    if (seen.has(key)) continue;
    seen.add(key);
    ids.push(subject(e));
    windows.push(new Date(start));
  }
  return [ids, windows];
}
