import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, Schemas, unwrap } from '@/lib/api/client';
import type { PagedResult, PageRequest } from '@/components/paged-table';

/**
 * The reseller staff's calls to the admin API (customers, members, prices, statements,
 * withdrawals, top-ups, webhooks, settings). The API is the authority: pages only hide what
 * `/me`'s abilities forbid.
 */

export type Customer = Schemas['CustomerView'];
export type Member = Omit<Schemas['MemberView'], 'displayName' | 'lastLoginAt'> & { displayName?: string | null; lastLoginAt?: string | null };
export type Role = Schemas['MemberView']['roles'][number];
export type Price = Schemas['EffectivePriceView'];
export type PriceVersion = Omit<Schemas['PriceVersionView'], 'setByEmail'> & { setByEmail?: string | null };
export type Statement = Schemas['StatementView'];
export type StatementDetail = Schemas['StatementDetail'];
export type StatementLine = Schemas['StatementLineView'];
export type OpenPeriod = Schemas['OpenPeriodView'];
export type Withdrawal = Schemas['WithdrawalView'];
export type Topup = Schemas['TopupView'];
export type BindingPeriod = Schemas['BindingPeriodView'];
export type UsageSummary = Schemas['UsageSummary'];
export type CreditEntry = Omit<Schemas['CreditListItem'], 'note' | 'createdBy'> & { note: string | null; createdBy: Schemas['PersonRef'] | null };
export type CustomerKey = Schemas['KeyView'];

/** The admin API's flat page ({items, page, pageSize, total}) as PagedTable wants it. */
export function toPaged<T>(page: { items: T[]; page: number; pageSize: number; total: number }): PagedResult<T> {
  return { items: page.items, meta: { page: page.page, pageSize: page.pageSize, total: page.total } };
}

/** A list the API answers whole, paged and searched here (the price book: one row per model). */
export function pageLocally<T>(all: T[], request: PageRequest, matches: (item: T, search: string) => boolean): PagedResult<T> {
  const found = request.search ? all.filter((item) => matches(item, request.search!.toLowerCase())) : all;
  const start = (request.page - 1) * request.pageSize;
  return { items: found.slice(start, start + request.pageSize), meta: { page: request.page, pageSize: request.pageSize, total: found.length } };
}

/**
 * A keyset-paginated list (nextCursor) as PagedTable pages: the cursor of each page reached is
 * remembered, and the total admits one more page while there is a next cursor.
 */
export function cursorPager<T>(load: (cursor: string | undefined, limit: number) => Promise<{ items: T[]; nextCursor?: string | null }>) {
  const cursors = new Map<string, string | undefined>();
  return async (request: PageRequest): Promise<PagedResult<T>> => {
    const key = (page: number) => `${request.pageSize}:${page}`;
    const cursor = request.page === 1 ? undefined : cursors.get(key(request.page));
    const { items, nextCursor } = await load(cursor, request.pageSize);
    if (nextCursor) cursors.set(key(request.page + 1), nextCursor);
    const before = (request.page - 1) * request.pageSize;
    return { items, meta: { page: request.page, pageSize: request.pageSize, total: before + items.length + (nextCursor ? 1 : 0) } };
  };
}

/** An idempotency reference, made once per dialog: a double submit posts the money once. */
export function newReference(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `console-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

// ---- customers -------------------------------------------------------------------------------

export const CUSTOMERS = '/api/v1/customers';

export async function fetchCustomers(request: PageRequest & { status?: Customer['status']; sales?: string }) {
  const query = { page: request.page, pageSize: request.pageSize, q: request.search, status: request.status as 'active' | undefined, sales: request.sales };
  return toPaged(await unwrap(api.GET('/api/v1/customers', { params: { query } })));
}

export function useCustomer(id?: string) {
  return useQuery({ queryKey: [CUSTOMERS, id], queryFn: () => unwrap(api.GET('/api/v1/customers/{customerId}', { params: { path: { customerId: id! } } })), enabled: Boolean(id) });
}

export function useCustomerBalance(id?: string) {
  return useQuery({
    queryKey: [CUSTOMERS, id, 'balance'],
    queryFn: () => unwrap(api.GET('/api/v1/customers/{customerId}/balance', { params: { path: { customerId: id! } } })),
    enabled: Boolean(id),
  });
}

/** Start of this UTC month and of the last one. */
export function monthStarts(now = new Date()) {
  const thisMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const lastMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return { thisMonth, lastMonth };
}

/** The customer's usage by day since the start of last month (spend this month and last, the chart). */
export function useCustomerUsage(id?: string) {
  return useQuery({
    queryKey: [CUSTOMERS, id, 'usage'],
    queryFn: () => {
      const { lastMonth } = monthStarts();
      return unwrap(api.GET('/api/v1/customers/{customerId}/usage', { params: { path: { customerId: id! }, query: { from: lastMonth.toISOString(), groupBy: 'day' } } }));
    },
    enabled: Boolean(id),
    staleTime: 60_000,
  });
}

export function useBindingHistory(id?: string, enabled = true) {
  return useQuery({
    queryKey: [CUSTOMERS, id, 'bindings'],
    queryFn: () => unwrap(api.GET('/api/v1/customers/{customerId}/bindings', { params: { path: { customerId: id! } } })),
    enabled: Boolean(id) && enabled,
  });
}

function useInvalidate() {
  const client = useQueryClient();
  return (...keys: string[]) => Promise.all(keys.map((key) => client.invalidateQueries({ queryKey: [key] })));
}

export function useCreateCustomer() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (body: Schemas['CreateCustomerRequest']) => unwrap(api.POST('/api/v1/customers', { body })),
    onSuccess: () => invalidate(CUSTOMERS),
  });
}

export function useCustomerStatus() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: ({ id, enable }: { id: string; enable: boolean }) =>
      unwrap(enable ? api.POST('/api/v1/customers/{customerId}/enable', { params: { path: { customerId: id } } }) : api.POST('/api/v1/customers/{customerId}/disable', { params: { path: { customerId: id } } })),
    onSuccess: () => invalidate(CUSTOMERS),
  });
}

export function useBindCustomer() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: ({ id, salesUserId }: { id: string; salesUserId: string | null }) =>
      unwrap(
        salesUserId
          ? api.PUT('/api/v1/customers/{customerId}/sales', { params: { path: { customerId: id } }, body: { salesUserId } })
          : api.DELETE('/api/v1/customers/{customerId}/sales', { params: { path: { customerId: id } } }),
      ),
    onSuccess: () => invalidate(CUSTOMERS),
  });
}

export function useBulkBind() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (items: Array<{ customerId: string; salesUserId: string | null }>) => unwrap(api.POST('/api/v1/customers/bindings', { body: { items } as never })),
    onSuccess: () => invalidate(CUSTOMERS),
  });
}

export function useCredit() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: ({ id, amount, note, reference }: { id: string; amount: string; note: string; reference: string }) =>
      unwrap(api.POST('/api/v1/customers/{customerId}/credits', { params: { path: { customerId: id } }, body: { amount, note, reference } })),
    onSuccess: () => invalidate(CUSTOMERS, CREDITS),
  });
}

export function useCustomerThreshold(id?: string, enabled = true) {
  return useQuery({
    queryKey: [CUSTOMERS, id, 'threshold'],
    queryFn: () => unwrap(api.GET('/api/v1/customers/{customerId}/low-balance-threshold', { params: { path: { customerId: id! } } })),
    enabled: Boolean(id) && enabled,
  });
}

export function useSetCustomerThreshold() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: ({ id, threshold }: { id: string; threshold: string | null }) =>
      unwrap(api.PUT('/api/v1/customers/{customerId}/low-balance-threshold', { params: { path: { customerId: id } }, body: { threshold } as never })),
    onSuccess: () => invalidate(CUSTOMERS),
  });
}

// ---- members ---------------------------------------------------------------------------------

export const MEMBERS = '/api/v1/tenants/{tenantId}/members';

export async function fetchMembers(tenantId: string, request: PageRequest & { role?: Role; staff?: boolean }) {
  const query = { page: request.page, pageSize: request.pageSize, q: request.search, role: request.role, staff: request.staff };
  const page = toPaged(await unwrap(api.GET('/api/v1/tenants/{tenantId}/members', { params: { path: { tenantId }, query } })));
  return page as unknown as PagedResult<Member>;
}

/** The tenant's active salespeople (for binding customers), at most 100. */
export function useSalespeople(tenantId: string, enabled: boolean) {
  return useQuery({
    queryKey: [MEMBERS, tenantId, 'sales'],
    queryFn: async () => (await fetchMembers(tenantId, { page: 1, pageSize: 100, role: 'sales' })).items.filter((m) => m.status !== 'disabled'),
    enabled,
  });
}

export function useInviteMember(tenantId: string) {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (body: Schemas['InviteMemberRequest']) => unwrap(api.POST('/api/v1/tenants/{tenantId}/members', { params: { path: { tenantId } }, body })),
    onSuccess: () => invalidate(MEMBERS),
  });
}

export function useSetRoles(tenantId: string) {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: ({ userId, roles }: { userId: string; roles: Role[] }) =>
      unwrap(api.PUT('/api/v1/tenants/{tenantId}/members/{userId}/roles', { params: { path: { tenantId, userId } }, body: { roles } })),
    onSuccess: () => invalidate(MEMBERS),
  });
}

export function useMemberAction(tenantId: string) {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: ({ userId, action }: { userId: string; action: 'disable' | 'enable' | 'remove' }) => {
      const params = { params: { path: { tenantId, userId } } };
      if (action === 'remove') return unwrap(api.DELETE('/api/v1/tenants/{tenantId}/members/{userId}', params));
      if (action === 'disable') return unwrap(api.POST('/api/v1/tenants/{tenantId}/members/{userId}/disable', params));
      return unwrap(api.POST('/api/v1/tenants/{tenantId}/members/{userId}/enable', params));
    },
    onSuccess: () => invalidate(MEMBERS),
  });
}

// ---- prices ----------------------------------------------------------------------------------

export const PRICING = '/api/v1/pricing';

export function usePriceList() {
  return useQuery({ queryKey: [PRICING], queryFn: () => unwrap(api.GET('/api/v1/pricing')) });
}

export function usePriceHistory(model?: string) {
  return useQuery({
    queryKey: [PRICING, model, 'history'],
    queryFn: async () => (await unwrap(api.GET('/api/v1/pricing/{model}/history', { params: { path: { model: model! } } }))).items as PriceVersion[],
    enabled: Boolean(model),
  });
}

export function useSetPrice() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: ({ model, ...body }: { model: string; inputPerMillion: string; outputPerMillion: string; perRequest?: string; imagePrices?: Record<string, string> | null }) =>
      // The generated type reads the nullable decimal strings as objects.
      unwrap(api.PUT('/api/v1/pricing/{model}', { params: { path: { model } }, body: body as Schemas['SetPriceRequest'] })),
    onSuccess: () => invalidate(PRICING),
  });
}

export function useSetVisibility() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: ({ model, hidden }: { model: string; hidden: boolean }) => unwrap(api.PUT('/api/v1/pricing/{model}/visibility', { params: { path: { model } }, body: { hidden } })),
    onSuccess: () => invalidate(PRICING),
  });
}

// ---- statements ------------------------------------------------------------------------------

export const STATEMENTS = '/api/v1/statements';

export const fetchStatements = () =>
  cursorPager<Statement>(async (cursor, limit) => unwrap(api.GET('/api/v1/statements', { params: { query: { cursor, limit } } })));

export function useStatement(id?: string) {
  return useQuery({ queryKey: [STATEMENTS, id], queryFn: () => unwrap(api.GET('/api/v1/statements/{id}', { params: { path: { id: id! } } })), enabled: Boolean(id) });
}

export function useOpenPeriod(enabled: boolean) {
  return useQuery({ queryKey: [STATEMENTS, 'open'], queryFn: () => unwrap(api.GET('/api/v1/statements/open')), enabled, staleTime: 30_000 });
}

/** The statement's CSV as the API writes it. */
export async function statementCsv(id: string): Promise<{ blob: Blob; filename: string }> {
  // openapi-fetch reads the body itself (parseAs blob): the blob is its `data`, the response's body is used up.
  const { data, response } = await api.GET('/api/v1/statements/{id}.csv', { params: { path: { id } }, parseAs: 'blob' });
  if (!response.ok || !data) throw new Error(`HTTP ${response.status}`);
  const filename = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? `statement-${id}.csv`;
  return { blob: data as unknown as Blob, filename };
}

// ---- withdrawals and top-ups -----------------------------------------------------------------

export const WITHDRAWALS = '/api/v1/withdrawals';

export async function fetchWithdrawals(request: PageRequest) {
  return toPaged(await unwrap(api.GET('/api/v1/withdrawals', { params: { query: { page: request.page, pageSize: request.pageSize } } })));
}

export function useWithdrawalSummary(enabled = true) {
  return useQuery({ queryKey: [WITHDRAWALS, 'summary'], queryFn: () => unwrap(api.GET('/api/v1/withdrawals/summary')), enabled });
}

export function useRequestWithdrawal() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (body: { amount: string; destination?: string; note?: string; reference: string }) => unwrap(api.POST('/api/v1/withdrawals', { body })),
    onSuccess: () => invalidate(WITHDRAWALS),
  });
}

export const TOPUPS = '/api/v1/topups';

export async function fetchTopups(request: PageRequest & { status?: Topup['status'] }) {
  return toPaged(await unwrap(api.GET('/api/v1/topups', { params: { query: { page: request.page, pageSize: request.pageSize, status: request.status } } })));
}

// ---- credits ---------------------------------------------------------------------------------

export const CREDITS = '/api/v1/credits';
export const CREDIT_KINDS = ['credit', 'debit', 'payment'] as const;

export async function fetchCredits(request: PageRequest & { kind?: (typeof CREDIT_KINDS)[number] }) {
  const page = await unwrap(api.GET('/api/v1/credits', { params: { query: { page: request.page, pageSize: request.pageSize, q: request.search, kind: request.kind } } }));
  return toPaged(page as unknown as { items: CreditEntry[]; page: number; pageSize: number; total: number });
}

// ---- a customer's API keys (owner, operator; a salesperson's bound customers') -----------------

/** Under the keys API's path: the key mutations of features/keys invalidate it too. */
export const CUSTOMER_KEYS = '/api/v1/keys';

export async function fetchCustomerKeys(customerId: string, request: PageRequest) {
  return toPaged(await unwrap(api.GET('/api/v1/keys', { params: { query: { userId: customerId, page: request.page, pageSize: request.pageSize } } })));
}

// ---- webhooks --------------------------------------------------------------------------------

export const WEBHOOKS = '/api/v1/webhooks';
export type Webhook = Schemas['WebhookView'];
export type WebhookEvent = Webhook['events'][number];
export type Delivery = Schemas['WebhookDeliveryView'];
export const WEBHOOK_EVENTS: WebhookEvent[] = [
  'billing.low_balance',
  'billing.balance_depleted',
  'key.created',
  'key.disabled',
  'key.revoked',
  'key.rotated',
  'key.expiring',
  'credit.created',
  'account.status_changed',
  'statement.closed',
  'withdrawal.updated',
  'risk.flagged',
];

export async function fetchWebhooks(request: PageRequest) {
  return toPaged(await unwrap(api.GET('/api/v1/webhooks', { params: { query: { page: request.page, pageSize: request.pageSize } } })));
}

export async function fetchDeliveries(id: string, request: PageRequest) {
  return toPaged(await unwrap(api.GET('/api/v1/webhooks/{id}/deliveries', { params: { path: { id }, query: { page: request.page, pageSize: request.pageSize } } })));
}

export function useWebhookMutations() {
  const invalidate = useInvalidate();
  const done = { onSuccess: () => invalidate(WEBHOOKS) };
  return {
    create: useMutation({ mutationFn: (body: { url: string; events: WebhookEvent[]; description?: string }) => unwrap(api.POST('/api/v1/webhooks', { body: { ...body, enabled: true } as never })), ...done }),
    update: useMutation({
      mutationFn: ({ id, ...body }: { id: string; enabled?: boolean; url?: string; events?: WebhookEvent[] }) => unwrap(api.PATCH('/api/v1/webhooks/{id}', { params: { path: { id } }, body })),
      ...done,
    }),
    remove: useMutation({ mutationFn: (id: string) => unwrap(api.DELETE('/api/v1/webhooks/{id}', { params: { path: { id } } })), ...done }),
    rotate: useMutation({
      mutationFn: (id: string) => unwrap(api.POST('/api/v1/webhooks/{id}/rotate-secret', { params: { path: { id } }, body: { gracePeriodSeconds: 86_400 } })),
      ...done,
    }),
    test: useMutation({ mutationFn: (id: string) => unwrap(api.POST('/api/v1/webhooks/{id}/test', { params: { path: { id } } })), ...done }),
    redeliver: useMutation({
      mutationFn: ({ id, deliveryId }: { id: string; deliveryId: string }) =>
        unwrap(api.POST('/api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver', { params: { path: { id, deliveryId } } })),
      ...done,
    }),
  };
}

// ---- settings: branding and domains, thresholds, payments, prepaid codes; audit log -----------

export const TENANT = '/api/v1/tenants/{tenantId}';
export type TenantView = Schemas['TenantView'];
export type Branding = Schemas['BrandingDto'];

export function useTenant(tenantId: string, enabled: boolean) {
  return useQuery({ queryKey: [TENANT, tenantId], queryFn: () => unwrap(api.GET('/api/v1/tenants/{tenantId}', { params: { path: { tenantId } } })), enabled });
}

export function useTenantMutations(tenantId: string) {
  const invalidate = useInvalidate();
  const done = { onSuccess: () => invalidate(TENANT, '/api/v1/site') };
  return {
    update: useMutation({ mutationFn: (body: { name?: string; branding?: Branding }) => unwrap(api.PATCH('/api/v1/tenants/{tenantId}', { params: { path: { tenantId } }, body })), ...done }),
    addDomain: useMutation({
      mutationFn: (domain: string) => unwrap(api.POST('/api/v1/tenants/{tenantId}/domains', { params: { path: { tenantId } }, body: { domain, isPrimary: false } })),
      ...done,
    }),
    removeDomain: useMutation({
      mutationFn: (domainId: string) => unwrap(api.DELETE('/api/v1/tenants/{tenantId}/domains/{domainId}', { params: { path: { tenantId, domainId } } })),
      ...done,
    }),
    verifyDomain: useMutation({
      mutationFn: (domainId: string) => unwrap(api.POST('/api/v1/tenants/{tenantId}/domains/{domainId}/verify', { params: { path: { tenantId, domainId } } })),
      ...done,
    }),
  };
}

export const TENANT_THRESHOLD = '/api/v1/tenants/{tenantId}/low-balance-threshold';

export function useTenantThreshold(tenantId: string, enabled: boolean) {
  return useQuery({
    queryKey: [TENANT_THRESHOLD, tenantId],
    queryFn: () => unwrap(api.GET('/api/v1/tenants/{tenantId}/low-balance-threshold', { params: { path: { tenantId } } })),
    enabled,
  });
}

export function useSetTenantThreshold(tenantId: string) {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (threshold: string | null) => unwrap(api.PUT('/api/v1/tenants/{tenantId}/low-balance-threshold', { params: { path: { tenantId } }, body: { threshold } })),
    onSuccess: () => invalidate(TENANT_THRESHOLD, CUSTOMERS),
  });
}

export const PAYMENT_SETTINGS = '/api/v1/payment-settings';

export function usePaymentSettings(enabled: boolean) {
  return useQuery({ queryKey: [PAYMENT_SETTINGS], queryFn: () => unwrap(api.GET('/api/v1/payment-settings')), enabled });
}

export function usePaymentMutations() {
  const invalidate = useInvalidate();
  return {
    update: useMutation({
      mutationFn: (body: Schemas['UpdatePaymentSettingsRequest']) => unwrap(api.PUT('/api/v1/payment-settings', { body })),
      onSuccess: () => invalidate(PAYMENT_SETTINGS),
    }),
    test: useMutation({ mutationFn: (provider: 'stripe' | 'epay') => unwrap(api.POST('/api/v1/payment-settings/test', { body: { provider } as never })) }),
  };
}

export const CODES = '/api/v1/redemption-codes';
export type RedemptionCode = Schemas['RedemptionCodeView'];

export async function fetchCodes(request: PageRequest) {
  return toPaged(await unwrap(api.GET('/api/v1/redemption-codes', { params: { query: { page: request.page, pageSize: request.pageSize } } })));
}

export function useCodeMutations() {
  const invalidate = useInvalidate();
  return {
    issue: useMutation({ mutationFn: (body: { amount: string; count: number }) => unwrap(api.POST('/api/v1/redemption-codes', { body })), onSuccess: () => invalidate(CODES) }),
    disable: useMutation({
      mutationFn: (id: string) => unwrap(api.POST('/api/v1/redemption-codes/{id}/disable', { params: { path: { id } } })),
      onSuccess: () => invalidate(CODES),
    }),
  };
}

export const AUDIT = '/api/v1/audit-log';
export type AuditEntry = Schemas['AuditEntryView'];

export const fetchAudit = () =>
  cursorPager<AuditEntry>(async (cursor, limit) => {
    const page = await unwrap(api.GET('/api/v1/audit-log', { params: { query: { cursor, limit } } }));
    return { items: page.items, nextCursor: (page.nextCursor as unknown as string | null | undefined) ?? null };
  });
