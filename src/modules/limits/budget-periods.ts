import type { BudgetPeriod } from '@app/billing';

const formats = new Map<string, Intl.DateTimeFormat>();

/** Whether `timeZone` is an IANA zone this runtime knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The day, ISO week and month containing `atMs` in `timeZone`, as ids: `2026-12-03`,
 * `2026-W49`, `2026-12`. A budget's counter is named by them, so a new period starts a new
 * counter at local midnight (Monday for the week, the 1st for the month).
 */
export function periodIds(atMs: number, timeZone: string): Record<BudgetPeriod, string> {
  let format = formats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formats.set(timeZone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(atMs).map((p) => [p.type, p.value]));
  const [y, m, d] = [Number(parts.year), Number(parts.month), Number(parts.day)];
  // ISO week: the week's Thursday decides its year.
  const local = new Date(Date.UTC(y, m - 1, d));
  const weekday = (local.getUTCDay() + 6) % 7; // Monday 0
  const thursday = new Date(local.getTime() + (3 - weekday) * 86_400_000);
  const weekYear = thursday.getUTCFullYear();
  const week = 1 + Math.floor((thursday.getTime() - Date.UTC(weekYear, 0, 1)) / (7 * 86_400_000));
  const pad = (n: number) => String(n).padStart(2, '0');
  return { day: `${y}-${pad(m)}-${pad(d)}`, week: `${weekYear}-W${pad(week)}`, month: `${y}-${pad(m)}` };
}
