import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, Schemas, unwrap } from '@/lib/api/client';
import type { PagedResult, PageRequest } from '@/components/paged-table';

/** A tenant's risk rules and flags (src/modules/risk): the owner edits and reviews them. */
export type RiskRule = Schemas['RiskRuleView'];
export type RiskFlag = Schemas['RiskFlagView'];
export type RiskRuleInput = Schemas['RiskRuleInput'];

export const RISK = '/api/v1/tenants/{tenantId}/risk';

export function useRiskRules(tenantId: string | undefined) {
  return useQuery({
    queryKey: [RISK, 'rules', tenantId],
    queryFn: () => unwrap(api.GET('/api/v1/tenants/{tenantId}/risk/rules', { params: { path: { tenantId: tenantId! } } })),
    enabled: Boolean(tenantId),
  });
}

export async function fetchRiskFlags(tenantId: string, status: 'open' | 'resolved' | undefined, request: PageRequest): Promise<PagedResult<RiskFlag>> {
  const page = await unwrap(api.GET('/api/v1/tenants/{tenantId}/risk/flags', { params: { path: { tenantId }, query: { status, page: request.page, pageSize: request.pageSize } } }));
  return { items: page.items, meta: { page: page.page, pageSize: page.pageSize, total: page.total } };
}

export function useRiskMutations(tenantId: string | undefined) {
  const client = useQueryClient();
  const onSuccess = () => client.invalidateQueries({ queryKey: [RISK] });
  return {
    setRules: useMutation({
      mutationFn: (rules: RiskRuleInput[]) => unwrap(api.PUT('/api/v1/tenants/{tenantId}/risk/rules', { params: { path: { tenantId: tenantId! } }, body: { rules } })),
      onSuccess,
    }),
    resolve: useMutation({
      mutationFn: ({ flagId, reactivateKeys, note }: { flagId: string; reactivateKeys: boolean; note?: string }) =>
        unwrap(api.POST('/api/v1/tenants/{tenantId}/risk/flags/{flagId}/resolve', { params: { path: { tenantId: tenantId!, flagId } }, body: { reactivateKeys, note } })),
      onSuccess,
    }),
  };
}
