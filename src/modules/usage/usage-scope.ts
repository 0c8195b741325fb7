import { abilityToSql, AppAbility, currentSalesUserSql, hasRole, Principal } from '@app/authorization';
import { AppException } from '@app/errors';
import { CustomerErrorCode, customerError } from '../customers/customers.exceptions';
import { USAGE } from '../customers/customers.permissions';
import { UsageRecordView, UsageTotals } from '../customers/dto/customer.dto';
import { UsageRecordRow, UsageScopeFilter, UsageTotalsRow } from './usage-records.repository';

/** CASL fields of a usage record; salesUserId is the customer's current salesperson. */
const USAGE_COLUMNS = {
  tenantId: 'ur.tenant_id',
  customerId: 'ur.customer_id',
  salesUserId: currentSalesUserSql('ur.customer_id'),
} as const;

/** The usage rows the caller may aggregate, as SQL over `ur`; null when none. */
export function usageScope(ability: AppAbility): UsageScopeFilter | null {
  return abilityToSql(ability, 'read', USAGE, USAGE_COLUMNS, 'uscope');
}

const DAY_MS = 24 * 3600 * 1000;
const MAX_RANGE_DAYS = 400;

/** [from, to): by default the 30 days before now; at most 400 days. */
export function usageRange(query: { from?: string; to?: string }): { from: Date; to: Date } {
  const to = query.to ? new Date(query.to) : new Date();
  const from = query.from ? new Date(query.from) : new Date(to.getTime() - 30 * DAY_MS);
  if (!(from < to)) throw customerError(CustomerErrorCode.InvalidRange, '`from` must be before `to`.');
  if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS) {
    throw customerError(CustomerErrorCode.InvalidRange, `A range spans at most ${MAX_RANGE_DAYS} days.`);
  }
  return { from, to };
}

/**
 * Totals as the API shows them. Spend (retail) to everyone in scope; wholesale cost to owners,
 * operators and finance; upstream cost only to the platform's.
 */
export function toTotals(row: UsageTotalsRow, principal: Principal): UsageTotals {
  const totals: UsageTotals = {
    requests: Number(row.requests),
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    cacheReadTokens: Number(row.cache_read_tokens),
    cacheWriteTokens: Number(row.cache_write_tokens),
    spend: row.retail_charge,
  };
  if (hasRole(principal, 'owner', 'operator', 'finance')) {
    totals.wholesaleCost = row.wholesale_cost;
    if (principal.tenantType === 'platform') totals.upstreamCost = row.upstream_cost;
  }
  return totals;
}

/** One record as the API shows it; costs shown by the same rule as {@link toTotals}. */
export function toRecordView(row: UsageRecordRow, principal: Principal): UsageRecordView {
  const view: UsageRecordView = {
    id: row.request_id,
    requestId: row.http_request_id,
    tenantId: row.tenant_id,
    customerId: row.customer_id,
    apiKeyId: row.api_key_id,
    model: row.model,
    status: row.status,
    errorCode: row.error_code,
    stream: row.stream,
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    cacheReadTokens: Number(row.cache_read_tokens),
    cacheWriteTokens: Number(row.cache_write_tokens),
    spend: row.retail_charge,
    latencyMs: row.latency_ms,
    ttftMs: row.ttft_ms,
    createdAt: row.created_at,
  };
  if (hasRole(principal, 'owner', 'operator', 'finance')) {
    view.wholesaleCost = row.wholesale_cost;
    if (principal.tenantType === 'platform') view.upstreamCost = row.upstream_cost;
  }
  return view;
}

export function noUsageAccess(): AppException {
  return AppException.forbidden('You may not read usage.');
}
