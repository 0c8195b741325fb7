/**
 * Redis key layout of the money path. Every key of one tenant shares the hash tag `{t:<tenantId>}`,
 * so each Lua script touches one slot and runs unchanged on Redis Cluster (DESIGN.md, "How it
 * stays fast").
 */
export const billingKeys = {
  tag: (tenantId: string) => `{t:${tenantId}}`,
  /** A customer's spendable balance in nano-units: ledger balance minus open holds and unmetered charges. */
  balance: (tenantId: string, customerId: string) => `{t:${tenantId}}:bal:${customerId}`,
  /** Spend so far of an API key, in nano-units (checked against the key's spend limit). */
  keySpend: (tenantId: string, keyId: string) => `{t:${tenantId}}:kspend:${keyId}`,
  /** Open holds of the tenant: a sorted set scored by expiry (ms), members `requestId`. */
  holds: (tenantId: string) => `{t:${tenantId}}:holds`,
  /** One open hold: hash of customer, key, amount, tokens estimate. */
  hold: (tenantId: string, requestId: string) => `{t:${tenantId}}:hold:${requestId}`,
  /** Marker that a request was settled (idempotent settle and spool replay). */
  settled: (tenantId: string, requestId: string) => `{t:${tenantId}}:settled:${requestId}`,
  /** Usage events of the tenant awaiting metering: a Redis Stream read by the worker's consumer group. */
  usageStream: (tenantId: string) => `{t:${tenantId}}:usage`,
  /** Events that failed metering repeatedly (dead letters), kept for inspection and replay. */
  deadLetters: (tenantId: string) => `{t:${tenantId}}:usage:dead`,
  /** Per-minute counters: requests and tokens, per scope (`k:<keyId>`, `c:<customerId>`, `t`). */
  rate: (tenantId: string, scope: string, kind: 'req' | 'tok', minute: number) => `{t:${tenantId}}:rl:${scope}:${kind}:${minute}`,
};

/** Consumer group of the metering processor on every tenant's usage stream. */
export const METERING_GROUP = 'metering';
