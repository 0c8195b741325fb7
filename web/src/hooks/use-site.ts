import { useQuery } from '@tanstack/react-query';
import { api, Schemas, unwrap } from '@/lib/api/client';

/** Nullable strings the OpenAPI document leaves untyped, given their real type. */
export type Site = Omit<Schemas['SiteView'], 'logoUrl' | 'themeColor' | 'support'> & {
  logoUrl: string | null;
  themeColor: string | null;
  support: { email: string | null; url: string | null };
};

/** The tenant of this domain as anyone may see it: brand, languages, currency, public prices. */
export function useSite() {
  return useQuery({
    queryKey: ['/api/v1/site'],
    queryFn: async () => (await unwrap(api.GET('/api/v1/site'))) as Site,
    staleTime: 5 * 60_000,
  });
}
