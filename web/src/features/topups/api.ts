import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, Schemas, unwrap } from '@/lib/api/client';

export type Topup = Schemas['TopupView'];
export type TopupProvider = Schemas['CreateTopupRequest']['provider'];

const TOPUPS = ['/api/v1/me/topups'] as const;
/** How often an order page asks again while the provider has not told the api yet. */
const POLL_MS = 3000;

/** The customer's most recent top-up orders, newest first. */
export function useMyTopups(pageSize = 5) {
  return useQuery({
    queryKey: [...TOPUPS, { pageSize }],
    queryFn: () => unwrap(api.GET('/api/v1/me/topups', { params: { query: { page: 1, pageSize } } })),
  });
}

/** One order, asked again every few seconds while it is still pending. */
export function useMyTopup(id: string) {
  return useQuery({
    queryKey: [...TOPUPS, id],
    queryFn: () => unwrap(api.GET('/api/v1/me/topups/{id}', { params: { path: { id } } })),
    refetchInterval: (query) => (query.state.data?.status === 'pending' ? POLL_MS : false),
  });
}

/** Opens an order with the provider; the caller sends the browser to its payUrl. */
export function useCreateTopup() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas['CreateTopupRequest']) => unwrap(api.POST('/api/v1/me/topups', { body })),
    onSuccess: () => client.invalidateQueries({ queryKey: TOPUPS }),
  });
}

/** Redeems a prepaid code; the wallet's balance and transactions change with it. */
export function useRedeemCode() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (code: string) => unwrap(api.POST('/api/v1/me/redeem', { body: { code } })),
    onSuccess: () =>
      Promise.all([
        client.invalidateQueries({ queryKey: ['/api/v1/me/balance'] }),
        client.invalidateQueries({ queryKey: ['/api/v1/me/transactions'] }),
      ]),
  });
}
