/**
 * The risk rules a tenant's owner can turn on (issue 26, abuse controls). Each is evaluated by
 * metering on the usage it records (RiskEvaluator): the /v1 hot path pays nothing for them.
 *
 * - `key_velocity`: requests of one API key in one clock minute (UTC) over the threshold.
 * - `key_distinct_ips`: distinct client addresses of one API key in one clock hour over the threshold.
 * - `new_customer_spend`: what a customer spent in the first 24 hours of its account over the
 *   threshold (an amount in the tenant's currency).
 * - `balance_drop`: what usage took from a customer's balance in one clock hour over the
 *   threshold (an amount; top-ups in that hour do not offset it).
 *
 * Windows are fixed (a clock minute or hour, or the account's first day), so a window is flagged at
 * most once per rule and subject (the flags' unique key) however many batches see it over.
 */
export const RISK_RULES = ['key_velocity', 'key_distinct_ips', 'new_customer_spend', 'balance_drop'] as const;
export type RiskRule = (typeof RISK_RULES)[number];

export const RISK_ACTIONS = ['flag', 'suspend_key', 'suspend_customer_keys'] as const;
export type RiskAction = (typeof RISK_ACTIONS)[number];

export interface RiskRuleDefinition {
  subject: 'key' | 'customer';
  /** The threshold is a whole count (requests, addresses) or an amount (decimal, currency unit). */
  threshold: 'count' | 'amount';
  actions: readonly RiskAction[];
  /** What a new tenant's rule holds before its owner saves it (off). */
  defaultThreshold: string;
}

export const RISK_RULE_DEFINITIONS: Readonly<Record<RiskRule, RiskRuleDefinition>> = {
  key_velocity: { subject: 'key', threshold: 'count', actions: ['flag', 'suspend_key'], defaultThreshold: '600' },
  key_distinct_ips: { subject: 'key', threshold: 'count', actions: ['flag', 'suspend_key'], defaultThreshold: '20' },
  new_customer_spend: { subject: 'customer', threshold: 'amount', actions: ['flag', 'suspend_customer_keys'], defaultThreshold: '100' },
  balance_drop: { subject: 'customer', threshold: 'amount', actions: ['flag', 'suspend_customer_keys'], defaultThreshold: '100' },
};

export interface StoredRiskRule {
  rule: RiskRule;
  enabled: boolean;
  /** Decimal string (numeric(30,9) trimmed). */
  threshold: string;
  action: RiskAction;
}

/** The rules of a tenant as stored, with the defaults (off) for those never saved. */
export function withDefaults(stored: readonly StoredRiskRule[]): StoredRiskRule[] {
  return RISK_RULES.map((rule) => stored.find((s) => s.rule === rule) ?? { rule, enabled: false, threshold: RISK_RULE_DEFINITIONS[rule].defaultThreshold, action: 'flag' });
}
