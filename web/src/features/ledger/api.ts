import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { api, Schemas, unwrap } from '@/lib/api/client';

export type Transaction = Schemas['TransactionView'];

export function useBalance() {
  return useQuery({ queryKey: ['/api/v1/me/balance'], queryFn: () => unwrap(api.GET('/api/v1/me/balance')) });
}

/** The wallet's transactions, newest first, each with the balance right after it (from the api). */
export function useTransactions() {
  const pages = useInfiniteQuery({
    queryKey: ['/api/v1/me/transactions'],
    queryFn: ({ pageParam }) => unwrap(api.GET('/api/v1/me/transactions', { params: { query: { cursor: pageParam, limit: 50 } } })),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => (last.nextCursor as string | null | undefined) ?? undefined,
  });
  return { ...pages, rows: pages.data?.pages.flatMap((p) => p.items) ?? [] };
}
