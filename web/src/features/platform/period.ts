/**
 * Settlement periods are UTC days, weeks and months: shown as UTC dates, first day to last day
 * (a period ending at midnight shows the day before), whatever the viewer's time zone.
 */
export function periodLabel(startIso: string, endIso: string, locale: string): string {
  const format = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone: 'UTC' });
  const start = new Date(startIso);
  const last = new Date(new Date(endIso).getTime() - 1);
  const first = format.format(start);
  const final = format.format(last);
  return first === final ? first : `${first} – ${final}`;
}
