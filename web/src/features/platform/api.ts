import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { PagedResult, PageRequest } from '@/components/paged-table';
import { api, Schemas, unwrap } from '@/lib/api/client';

/**
 * The platform operators' calls (channels, resellers, the wholesale price book, withdrawals,
 * statements, the rollup, the audit log). Each list's first query-key element is its API path, so
 * a mutation invalidates every page of it.
 */
export type Channel = Schemas['ChannelView'];
/** The generated request types take defaulted fields as required and nullable strings as objects: these are what the API accepts. */
export type ChannelModel = { public: string; upstream?: string | null };
export type ChannelInput = Omit<Partial<Schemas['CreateChannelRequest']>, 'models'> & Pick<Schemas['CreateChannelRequest'], 'name' | 'provider' | 'baseUrl' | 'keys'> & { models?: ChannelModel[] };
export type ChannelPatch = Omit<Partial<Schemas['UpdateChannelRequest']>, 'models'> & { models?: ChannelModel[] };
export type Tenant = Schemas['TenantView'];
export type Withdrawal = Schemas['WithdrawalView'];
export type Statement = Schemas['StatementView'];
export type AuditEntry = Schemas['AuditEntryView'];
export type Price = Schemas['EffectivePriceView'];
export type Member = Schemas['MemberView'];

export const KEYS = {
  channels: '/api/v1/channels',
  tenants: '/api/v1/tenants',
  pricing: '/api/v1/pricing',
  withdrawals: '/api/v1/withdrawals',
  statements: '/api/v1/statements',
  rollup: '/api/v1/statements/rollup',
  audit: '/api/v1/audit-log',
  sales: '/api/v1/tenants/{tenantId}/sales',
  discount: '/api/v1/tenants/{tenantId}/wholesale-discount',
  members: '/api/v1/tenants/{tenantId}/members',
} as const;

/** The admin API's flat page ({items, page, pageSize, total}) as PagedTable takes it. */
function paged<T>(result: { items: T[]; page: number; pageSize: number; total: number }): PagedResult<T> {
  return { items: result.items, meta: { page: result.page, pageSize: result.pageSize, total: result.total } };
}

/**
 * A cursor-paged list (statements, audit log) as PagedTable's numbered pages: the cursor that
 * follows each page is remembered, so page n is reached through the pages before it; the total is
 * what has been seen, plus one more page while the API says there is more.
 */
export function cursorPager<T, Q>(load: (query: Q, limit: number, cursor: string | undefined) => Promise<{ items: T[]; nextCursor?: unknown }>) {
  const cursors = new Map<string, string | undefined>();
  return async (query: Q, request: PageRequest): Promise<PagedResult<T>> => {
    const key = (page: number) => `${JSON.stringify(query)}|${request.pageSize}|${page}`;
    let page = request.page;
    while (page > 1 && !cursors.has(key(page))) page -= 1;
    let result = await load(query, request.pageSize, cursors.get(key(page)));
    while (page < request.page && typeof result.nextCursor === 'string') {
      cursors.set(key(page + 1), result.nextCursor);
      page += 1;
      result = await load(query, request.pageSize, result.nextCursor);
    }
    const next = typeof result.nextCursor === 'string' ? result.nextCursor : undefined;
    if (next) cursors.set(key(page + 1), next);
    const total = (page - 1) * request.pageSize + result.items.length + (next ? 1 : 0);
    return { items: result.items, meta: { page, pageSize: request.pageSize, total } };
  };
}

function useInvalidating<T, R>(keys: string[], call: (input: T) => Promise<R>) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: call,
    onSuccess: () => Promise.all(keys.map((key) => client.invalidateQueries({ queryKey: [key] }))),
  });
}

// Channels

export const fetchChannels = (request: PageRequest, filter: { status?: Channel['status']; provider?: string } = {}) =>
  unwrap(
    api.GET('/api/v1/channels', {
      params: { query: { page: request.page, pageSize: request.pageSize, status: filter.status as never, provider: filter.provider as never, q: request.search } },
    }),
  ).then(paged);

export type ChannelPreset = Schemas['ChannelPresetView'];
export const useChannelPresets = () =>
  useQuery({ queryKey: [KEYS.channels, 'presets'], queryFn: () => unwrap(api.GET('/api/v1/channels/presets')), staleTime: 3_600_000 });
export const useRefreshBalance = () =>
  useInvalidating([KEYS.channels], (id: string) => unwrap(api.POST('/api/v1/channels/{channelId}/balance', { params: { path: { channelId: id } } })));

export const useCreateChannel = () => useInvalidating([KEYS.channels], (body: ChannelInput) => unwrap(api.POST('/api/v1/channels', { body: body as Schemas['CreateChannelRequest'] })));
export const useUpdateChannel = () =>
  useInvalidating([KEYS.channels], ({ id, body }: { id: string; body: ChannelPatch }) =>
    unwrap(api.PATCH('/api/v1/channels/{channelId}', { params: { path: { channelId: id } }, body: body as Schemas['UpdateChannelRequest'] })),
  );
export const useDeleteChannel = () =>
  useInvalidating([KEYS.channels], (id: string) => unwrap(api.DELETE('/api/v1/channels/{channelId}', { params: { path: { channelId: id } } })));
export const useChannelStatus = () =>
  useInvalidating([KEYS.channels], ({ id, enable }: { id: string; enable: boolean }) =>
    enable
      ? unwrap(api.POST('/api/v1/channels/{channelId}/enable', { params: { path: { channelId: id } } }))
      : unwrap(api.POST('/api/v1/channels/{channelId}/disable', { params: { path: { channelId: id } } })),
  );
export const useTestChannel = () =>
  useInvalidating([KEYS.channels], ({ id, model }: { id: string; model?: string }) =>
    unwrap(api.POST('/api/v1/channels/{channelId}/test', { params: { path: { channelId: id } }, body: model ? { model } : {} })),
  );

// Resellers

export const fetchResellers = (request: PageRequest, status?: 'active' | 'disabled') =>
  unwrap(
    api.GET('/api/v1/tenants', { params: { query: { page: request.page, pageSize: request.pageSize, q: request.search, type: 'reseller', status } } }),
  ).then(paged);

/** Every reseller (for filters): up to the first 100 by the API's order. */
export function useResellerOptions(enabled = true) {
  return useQuery({
    queryKey: [KEYS.tenants, 'options'],
    queryFn: () => unwrap(api.GET('/api/v1/tenants', { params: { query: { page: 1, pageSize: 100, type: 'reseller' } } })),
    enabled,
    staleTime: 60_000,
  });
}

export interface NewReseller {
  slug: string;
  name: string;
  domain: string;
  ownerEmail: string;
  ownerName?: string;
  branding?: Schemas['BrandingDto'];
}

/** Creates the reseller with its domain and invites its first owner. */
export const useCreateReseller = () =>
  // One call, one transaction: the tenant, its domain and the owner's invitation, or nothing.
  useInvalidating([KEYS.tenants], async (input: NewReseller) =>
    unwrap(
      api.POST('/api/v1/tenants/onboard', {
        body: { slug: input.slug, name: input.name, domains: [input.domain], branding: input.branding, owner: { email: input.ownerEmail, displayName: input.ownerName || undefined } },
      }),
    ),
  );

const inviteOwner = (tenantId: string, email: string, displayName?: string) =>
  unwrap(api.POST('/api/v1/tenants/{tenantId}/members', { params: { path: { tenantId } }, body: { email, displayName: displayName || undefined, roles: ['owner'] } }));

export const useInviteOwner = () =>
  useInvalidating([KEYS.members], ({ tenantId, email, displayName }: { tenantId: string; email: string; displayName?: string }) =>
    inviteOwner(tenantId, email, displayName),
  );

export const useTenantStatus = () =>
  useInvalidating([KEYS.tenants], ({ id, enable }: { id: string; enable: boolean }) =>
    enable
      ? unwrap(api.POST('/api/v1/tenants/{tenantId}/enable', { params: { path: { tenantId: id } } }))
      : unwrap(api.POST('/api/v1/tenants/{tenantId}/disable', { params: { path: { tenantId: id } } })),
  );

export const useUpdateTenant = () =>
  useInvalidating([KEYS.tenants], ({ id, body }: { id: string; body: Schemas['UpdateTenantRequest'] }) =>
    unwrap(api.PATCH('/api/v1/tenants/{tenantId}', { params: { path: { tenantId: id } }, body })),
  );

export const useAddDomain = () =>
  useInvalidating([KEYS.tenants], ({ id, domain }: { id: string; domain: string }) =>
    unwrap(api.POST('/api/v1/tenants/{tenantId}/domains', { params: { path: { tenantId: id } }, body: { domain, isPrimary: false } })),
  );

export function useDiscount(tenantId: string | undefined) {
  return useQuery({
    queryKey: [KEYS.discount, tenantId],
    queryFn: () => unwrap(api.GET('/api/v1/tenants/{tenantId}/wholesale-discount', { params: { path: { tenantId: tenantId! } } })),
    enabled: Boolean(tenantId),
  });
}

export const useSetDiscount = () =>
  useInvalidating([KEYS.discount], ({ id, percent }: { id: string; percent: string }) =>
    unwrap(api.PUT('/api/v1/tenants/{tenantId}/wholesale-discount', { params: { path: { tenantId: id } }, body: { percent } })),
  );

export function useTenantSales(tenantId: string | undefined, enabled = true) {
  return useQuery({
    queryKey: [KEYS.sales, tenantId],
    queryFn: () => unwrap(api.GET('/api/v1/tenants/{tenantId}/sales', { params: { path: { tenantId: tenantId! } } })),
    enabled: Boolean(tenantId) && enabled,
  });
}

export const useSetTenantSales = () =>
  useInvalidating([KEYS.sales], ({ id, salesUserId }: { id: string; salesUserId: string | null }) =>
    salesUserId
      ? unwrap(api.PUT('/api/v1/tenants/{tenantId}/sales', { params: { path: { tenantId: id } }, body: { salesUserId } }))
      : unwrap(api.DELETE('/api/v1/tenants/{tenantId}/sales', { params: { path: { tenantId: id } } })),
  );

/** The platform's own salespeople (active members with the sales role). */
export function usePlatformSales(platformId: string, enabled = true) {
  return useQuery({
    queryKey: [KEYS.members, platformId, 'sales'],
    queryFn: () =>
      unwrap(api.GET('/api/v1/tenants/{tenantId}/members', { params: { path: { tenantId: platformId }, query: { role: 'sales', status: 'active', pageSize: 100 } } })),
    enabled,
  });
}

// The platform price book (its own list: retail for direct customers, wholesale for resellers)

export function usePriceBook() {
  return useQuery({ queryKey: [KEYS.pricing], queryFn: () => unwrap(api.GET('/api/v1/pricing')) });
}

export const useSetPrice = () =>
  useInvalidating([KEYS.pricing], ({ model, body }: { model: string; body: Schemas['SetPriceRequest'] }) =>
    unwrap(api.PUT('/api/v1/pricing/{model}', { params: { path: { model } }, body })),
  );

export function usePriceHistory(model: string | undefined) {
  return useQuery({
    queryKey: [KEYS.pricing, 'history', model],
    queryFn: () => unwrap(api.GET('/api/v1/pricing/{model}/history', { params: { path: { model: model! } } })),
    enabled: Boolean(model),
  });
}

// Withdrawals

export const fetchWithdrawals = (request: PageRequest, filter: { status?: Withdrawal['status']; tenantId?: string }) =>
  unwrap(api.GET('/api/v1/withdrawals', { params: { query: { page: request.page, pageSize: request.pageSize, ...filter } } })).then(paged);

export const useDecideWithdrawal = () =>
  useInvalidating(
    [KEYS.withdrawals],
    (input: { id: string; action: 'approve'; note?: string } | { id: string; action: 'reject'; reason: string } | { id: string; action: 'pay'; paymentReference: string }) => {
      const path = { params: { path: { id: input.id } } };
      if (input.action === 'approve') return unwrap(api.POST('/api/v1/withdrawals/{id}/approve', { ...path, body: { note: input.note || undefined } }));
      if (input.action === 'reject') return unwrap(api.POST('/api/v1/withdrawals/{id}/reject', { ...path, body: { reason: input.reason } }));
      return unwrap(api.POST('/api/v1/withdrawals/{id}/pay', { ...path, body: { paymentReference: input.paymentReference } }));
    },
  );

// Statements, adjustments, the rollup

export const statementsPager = () =>
  cursorPager((query: { tenantId?: string; from?: string; to?: string }, limit: number, cursor: string | undefined) =>
    unwrap(api.GET('/api/v1/statements', { params: { query: { ...query, limit, cursor } } })),
  );

export function useStatement(id: string | undefined) {
  return useQuery({
    queryKey: [KEYS.statements, 'detail', id],
    queryFn: () => unwrap(api.GET('/api/v1/statements/{id}', { params: { path: { id: id! } } })),
    enabled: Boolean(id),
  });
}

export function useAdjustments(id: string | undefined) {
  return useQuery({
    queryKey: [KEYS.statements, 'adjustments', id],
    queryFn: () => unwrap(api.GET('/api/v1/statements/{id}/adjustments', { params: { path: { id: id! } } })),
    enabled: Boolean(id),
  });
}

export const useCreateAdjustment = () =>
  useInvalidating([KEYS.statements], ({ id, amount, reason }: { id: string; amount: string; reason: string }) =>
    unwrap(api.POST('/api/v1/statements/{id}/adjustments', { params: { path: { id } }, body: { amount, reason } })),
  );

export type PeriodKind = 'day' | 'week' | 'month';
export type OpenRollup = Schemas['OpenRollup'];

/** A closed period's rollup (from its statements). */
export function useRollup(periodStart: string | undefined) {
  return useQuery({
    queryKey: [KEYS.rollup, periodStart],
    queryFn: () => unwrap(api.GET('/api/v1/statements/rollup', { params: { query: { periodStart: periodStart! } } })),
    enabled: Boolean(periodStart),
  });
}

/** The open period so far (from the usage records). */
export function useOpenRollup(periodKind: PeriodKind, enabled: boolean) {
  return useQuery({
    queryKey: [KEYS.rollup, 'open', periodKind],
    queryFn: () => unwrap(api.GET('/api/v1/statements/rollup/open', { params: { query: { periodKind } } })),
    enabled,
  });
}

/** The starts (UTC) of the current period of `kind` and the `count` before it, newest first. */
export function periodStarts(kind: PeriodKind, count: number, now = new Date()): Date[] {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  const sinceMonday = (now.getUTCDay() + 6) % 7;
  return Array.from({ length: count + 1 }, (_, i) =>
    kind === 'day' ? new Date(Date.UTC(y, m, d - i)) : kind === 'week' ? new Date(Date.UTC(y, m, d - sinceMonday - 7 * i)) : new Date(Date.UTC(y, m - i, 1)),
  );
}

export function periodEnd(kind: PeriodKind, start: Date): Date {
  const y = start.getUTCFullYear();
  const m = start.getUTCMonth();
  const d = start.getUTCDate();
  return kind === 'day' ? new Date(Date.UTC(y, m, d + 1)) : kind === 'week' ? new Date(Date.UTC(y, m, d + 7)) : new Date(Date.UTC(y, m + 1, 1));
}

// The audit log

export const auditPager = () =>
  cursorPager((query: { tenantId?: string; action?: string }, limit: number, cursor: string | undefined) =>
    unwrap(api.GET('/api/v1/audit-log', { params: { query: { tenantId: query.tenantId, action: query.action, limit, cursor } } })),
  );
