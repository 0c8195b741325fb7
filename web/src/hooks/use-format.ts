import { useCallback } from 'react';
import { useTranslation } from 'react-i18next';
import { formatMoney } from '@/lib/money';
import { formatDate, formatDateTime } from '@/lib/time';
import { useSite } from './use-site';

/** Money in the tenant's currency, times in the viewer's zone, both in the viewer's language. */
export function useFormat() {
  const { i18n } = useTranslation();
  const { data: site } = useSite();
  const currency = site?.currency ?? 'USD';
  const locale = i18n.language;
  return {
    currency,
    money: useCallback((value: string | null | undefined) => formatMoney(value, currency, locale), [currency, locale]),
    dateTime: useCallback((iso: string | null | undefined) => formatDateTime(iso, locale), [locale]),
    date: useCallback((iso: string | null | undefined) => formatDate(iso, locale), [locale]),
    number: useCallback((value: number) => new Intl.NumberFormat(locale).format(value), [locale]),
  };
}
