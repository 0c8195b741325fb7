import type { PriceUnitName } from '@app/money';
import { abilityToSql, AppAbility, hasRole, Principal } from '@app/authorization';
import { AppException } from '@app/errors';
import { CustomerErrorCode, customerError } from '../customers/customers.exceptions';
import { USAGE } from '../customers/customers.permissions';
import { UsageRecordView, UsageTotals } from '../customers/dto/customer.dto';
import { SALES_AT_REQUEST_TIME, UsageCursor, UsageListRow, UsageRecordRow, UsageScopeFilter, UsageTotalsRow } from './usage-records.repository';

/**
 * CASL fields of a usage record. salesUserId is the salesperson who held the customer at the time
 * of the request (DESIGN.md: a salesperson's usage is that of the customers bound to them when it
 * happened): after a re-bind, old requests stay with the old salesperson, and summaries, records
 * and exports all follow the same rule.
 */
const USAGE_COLUMNS = {
  tenantId: 'ur.tenant_id',
  customerId: 'ur.customer_id',
  salesUserId: SALES_AT_REQUEST_TIME,
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
    unit: (row.unit ?? 'token') as PriceUnitName,
    quantity: Number(row.quantity ?? 0),
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

/** Platform staff who operate the platform (channels are theirs to see); never a reseller's people. */
export function seesChannels(principal: Principal): boolean {
  return principal.tenantType === 'platform' && hasRole(principal, 'owner', 'operator', 'finance', 'tech');
}

/**
 * What a failed request's record says about its failure. Only a fixed text per known error code,
 * never the upstream's own words: those can carry upstream hosts, internal addresses or key
 * fragments. An unknown or malformed code is shown as a generic failure.
 */
const ERROR_MESSAGES: Record<string, string> = {
  upstream_error: 'The upstream provider failed to answer.',
  upstream_auth_failed: 'The upstream provider refused the gateway’s credentials.',
  upstream_unreachable: 'The upstream provider could not be reached.',
  upstream_interrupted: 'The upstream provider interrupted its answer.',
  upstream_timeout: 'The upstream provider timed out.',
  upstream_invalid_response: 'The upstream provider sent an invalid response.',
  rate_limit_exceeded: 'The upstream provider was rate limiting.',
  model_not_found: 'The model does not exist upstream.',
  invalid_request: 'The upstream provider refused the request.',
  cancelled: 'The client cancelled the request.',
  internal_error: 'The gateway failed.',
};
const ERROR_CODE = /^[a-z0-9_]{1,64}$/;

export function sanitisedError(status: string, code: string | null): { errorCode: string | null; errorMessage: string | null } {
  if (!code) return { errorCode: null, errorMessage: status === 'ok' ? null : status === 'client_cancelled' ? ERROR_MESSAGES.cancelled : 'The request failed.' };
  if (!ERROR_CODE.test(code)) return { errorCode: 'error', errorMessage: 'The request failed.' };
  return { errorCode: code, errorMessage: ERROR_MESSAGES[code] ?? 'The request failed.' };
}

/** One record of the list as the API shows it: costs, channel and client address by role. */
export function toListView(row: UsageListRow, principal: Principal): UsageRecordView {
  const view = toRecordView(row, principal);
  Object.assign(view, sanitisedError(row.status, row.error_code));
  view.upstreamModel = row.upstream_model;
  view.keyPrefix = row.key_prefix;
  view.keyName = row.key_name;
  // A platform salesperson reads their resellers' usage, nothing personal about those resellers' customers.
  if (principal.tenantId === row.tenant_id || seesChannels(principal)) view.clientIp = row.client_ip;
  if (seesChannels(principal)) view.channel = row.channel_id ? { id: row.channel_id, name: row.channel_name } : null;
  return view;
}

/** An opaque cursor: base64url of "<created_at as PostgreSQL printed it>|<request id>". */
export function encodeCursor(row: UsageListRow): string {
  return Buffer.from(`${row.cursor_at}|${row.request_id}`, 'utf8').toString('base64url');
}

const CURSOR_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:\d{2})?)?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function decodeCursor(cursor: string | undefined): UsageCursor | null {
  if (!cursor) return null;
  const [at, requestId, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (rest.length > 0 || !at || !requestId || !CURSOR_TIME.test(at) || !UUID.test(requestId)) {
    throw customerError(CustomerErrorCode.InvalidCursor, 'The cursor is not one this API gave.');
  }
  return { at, requestId };
}
