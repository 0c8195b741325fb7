import { useQuery } from '@tanstack/react-query';
import { api, Schemas, unwrap } from '@/lib/api/client';

export type Site = Schemas['SiteView'];

/** The tenant of this domain as anyone may see it: brand, languages, currency, public prices. */
export function useSite() {
  return useQuery({
    queryKey: ['/api/v1/site'],
    queryFn: () => unwrap(api.GET('/api/v1/site')),
    staleTime: 5 * 60_000,
  });
}
