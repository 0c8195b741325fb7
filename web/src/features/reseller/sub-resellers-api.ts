import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { PagedResult, PageRequest } from '@/components/paged-table';
import { api, Schemas, unwrap } from '@/lib/api/client';

export type SubReseller = Schemas['SubResellerView'];
export const SUB_RESELLERS = '/api/v1/sub-resellers';

/** The caller's sub-resellers (a short list, answered whole): paged and searched here for the table. */
export async function fetchSubResellers(request: PageRequest): Promise<PagedResult<SubReseller>> {
  const all = (await unwrap(api.GET('/api/v1/sub-resellers'))).items;
  const q = request.search?.toLowerCase();
  const items = q ? all.filter((s) => s.slug.includes(q) || s.name.toLowerCase().includes(q)) : all;
  const start = (request.page - 1) * request.pageSize;
  return { items: items.slice(start, start + request.pageSize), meta: { page: request.page, pageSize: request.pageSize, total: items.length } };
}

export function useCreateSubReseller() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas['CreateSubResellerRequest']) => unwrap(api.POST('/api/v1/sub-resellers', { body })),
    onSuccess: () => client.invalidateQueries({ queryKey: [SUB_RESELLERS] }),
  });
}

export function useSetSubResellerDiscount() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ tenantId, percent }: { tenantId: string; percent: string }) =>
      unwrap(api.PUT('/api/v1/tenants/{tenantId}/wholesale-discount', { params: { path: { tenantId } }, body: { percent } })),
    onSuccess: () => client.invalidateQueries({ queryKey: [SUB_RESELLERS] }),
  });
}

/** Invites (again, or another address instead) a sub-reseller's first owner. */
export function useInviteSubResellerOwner() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ tenantId, email }: { tenantId: string; email: string }) =>
      unwrap(api.POST('/api/v1/sub-resellers/{tenantId}/owner-invitation', { params: { path: { tenantId } }, body: { email } })),
    onSuccess: () => client.invalidateQueries({ queryKey: [SUB_RESELLERS] }),
  });
}

/** Checks a sub-reseller's pending domain now; once verified, a waiting first-owner invitation is mailed. */
export function useVerifySubResellerDomain() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ tenantId, domainId }: { tenantId: string; domainId: string }) =>
      unwrap(api.POST('/api/v1/sub-resellers/{tenantId}/domains/{domainId}/verify', { params: { path: { tenantId, domainId } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: [SUB_RESELLERS] }),
  });
}
