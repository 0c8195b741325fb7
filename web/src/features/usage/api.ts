import { useQuery } from '@tanstack/react-query';
import { api, Schemas, unwrap } from '@/lib/api/client';

export type UsageGroup = Schemas['UsageGroup'];

/** The person's own usage in [from, to), grouped by day or model. */
export function useMyUsage(customerId: string | undefined, groupBy: 'day' | 'model', from?: string, to?: string) {
  return useQuery({
    queryKey: ['/api/v1/customers/{customerId}/usage', { customerId, groupBy, from, to }],
    queryFn: () => unwrap(api.GET('/api/v1/customers/{customerId}/usage', { params: { path: { customerId: customerId! }, query: { groupBy, from, to } } })),
    enabled: Boolean(customerId),
  });
}

/** Every day of [from, to) in the viewer's zone as YYYY-MM-DD, so a chart shows the quiet days too. */
export function daysBetween(from: Date, to: Date): string[] {
  const days: string[] = [];
  for (const d = new Date(from); d < to; d.setUTCDate(d.getUTCDate() + 1)) days.push(d.toISOString().slice(0, 10));
  return days;
}
