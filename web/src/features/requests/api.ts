import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { api, ApiError, Schemas, unwrap } from '@/lib/api/client';

type Nullable<T> = { [K in keyof T]: T[K] extends Record<string, never> | null | undefined ? string | null : T[K] };
/** One request as the api lists it (nullable text fields typed as the api sends them). */
export type RequestRecord = Nullable<Schemas['UsageRecordView']>;
export type RequestContent = Nullable<Schemas['RequestContentView']>;
export type RequestStatus = 'ok' | 'client_cancelled' | 'upstream_error' | 'timeout' | 'error';
export const REQUEST_STATUSES: RequestStatus[] = ['ok', 'client_cancelled', 'upstream_error', 'timeout', 'error'];

export interface RequestFilter {
  from: string;
  to: string;
  model?: string;
  keyId?: string;
  status?: RequestStatus;
  requestId?: string;
  customerId?: string;
  /** Platform monitoring: one tenant. */
  tenantId?: string;
}

const PAGE = 50;

/**
 * Where the requests come from: `own` is the caller's usage scope (a customer: their own);
 * `platform` is every tenant's, for platform monitoring (owner, tech; each read is audited).
 */
export type RequestScope = 'own' | 'platform';

/** The requests of the scope, newest first, a cursor page at a time. */
export function useRequests(filter: RequestFilter, scope: RequestScope = 'own') {
  const path = scope === 'platform' ? '/api/v1/platform/usage/records' : '/api/v1/usage/records';
  return useInfiniteQuery({
    queryKey: [path, filter],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) => {
      // With a request id the api searches all time: the range is left out.
      const { from, to, ...rest } = filter;
      const query = { ...(filter.requestId ? {} : { from, to }), ...rest, limit: PAGE, ...(pageParam ? { cursor: pageParam } : {}) };
      const page = await unwrap(scope === 'platform' ? api.GET('/api/v1/platform/usage/records', { params: { query } }) : api.GET('/api/v1/usage/records', { params: { query } }));
      return { items: page.items as unknown as RequestRecord[], nextCursor: (page.nextCursor as unknown as string | null) ?? null };
    },
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
}

/** A request's stored prompt and completion; null when none was stored (content logging off, or expired). */
export function useRequestContent(id: string | undefined, enabled: boolean) {
  return useQuery({
    queryKey: ['/api/v1/usage/records/{id}/content', id],
    enabled: Boolean(id) && enabled,
    queryFn: async () => {
      try {
        return (await unwrap(api.GET('/api/v1/usage/records/{id}/content', { params: { path: { id: id! } } }))) as unknown as RequestContent;
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return null;
        throw error;
      }
    },
  });
}

/** The same requests as CSV (oldest first), streamed by the api. */
export async function requestsCsv(filter: RequestFilter): Promise<Blob> {
  const { requestId: _ignored, ...query } = filter;
  void _ignored;
  const { data, error, response } = await api.GET('/api/v1/usage/export.csv', { params: { query }, parseAs: 'blob' });
  if (error !== undefined || !response.ok || !data) throw new Error(`CSV export failed: ${response.status}`);
  return data as Blob;
}
