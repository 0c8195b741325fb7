import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { api, Schemas, unwrap } from '@/lib/api/client';
import { addDecimals } from '@/lib/money';

export type Transaction = Schemas['TransactionView'];
export type TransactionWithBalance = Transaction & { balanceAfter: string };

export function useBalance() {
  return useQuery({ queryKey: ['/api/v1/me/balance'], queryFn: () => unwrap(api.GET('/api/v1/me/balance')) });
}

/**
 * The wallet's transactions, newest first, each with the balance right after it: the ledger
 * balance walked back through the newer transactions, exactly (decimal strings).
 */
export function useTransactionsWithBalance(balance: string | undefined) {
  const pages = useInfiniteQuery({
    queryKey: ['/api/v1/me/transactions'],
    queryFn: ({ pageParam }) => unwrap(api.GET('/api/v1/me/transactions', { params: { query: { cursor: pageParam, limit: 50 } } })),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    enabled: balance !== undefined,
  });
  const rows: TransactionWithBalance[] = [];
  let after = balance ?? '0';
  for (const item of pages.data?.pages.flatMap((p) => p.items) ?? []) {
    rows.push({ ...item, balanceAfter: after });
    after = addDecimals(after, item.amount.startsWith('-') ? item.amount.slice(1) : `-${item.amount}`);
  }
  return { ...pages, rows };
}
