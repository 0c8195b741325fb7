import { useQuery } from '@tanstack/react-query';
import { api, Schemas, unwrap } from '@/lib/api/client';

export type UsageGroup = Schemas['UsageGroup'];
export type UsageGrouping = 'day' | 'model' | 'key';
export interface UsageFilter {
  from: string;
  to: string;
  keyId?: string;
  model?: string;
}

/** The person's own usage (a customer's scope is their own), grouped and filtered. */
export function useUsage(groupBy: UsageGrouping, filter: UsageFilter) {
  return useQuery({
    queryKey: ['/api/v1/usage/summary', { groupBy, ...filter }],
    queryFn: () => unwrap(api.GET('/api/v1/usage/summary', { params: { query: { groupBy, ...filter } } })),
  });
}

/** The same filters as CSV, through the typed client (the route needs the access token). */
export async function usageCsv(filter: UsageFilter): Promise<Blob> {
  const { data, error, response } = await api.GET('/api/v1/usage/export.csv', { params: { query: filter }, parseAs: 'blob' });
  if (error !== undefined || !response.ok || !data) throw new Error(`CSV export failed: ${response.status}`);
  return data as Blob;
}

/** Every day of [from, to) as YYYY-MM-DD, so a chart shows the quiet days too. */
export function daysBetween(from: Date, to: Date): string[] {
  const days: string[] = [];
  for (const d = new Date(from); d < to; d.setUTCDate(d.getUTCDate() + 1)) days.push(d.toISOString().slice(0, 10));
  return days;
}
