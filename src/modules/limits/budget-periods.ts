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

/**
 * When the day containing `atMs` ends in `timeZone` (epoch ms of the next local midnight), for a
 * daily window's Retry-After. Steps by hours around the naive guess, so a 23- or 25-hour day (a
 * daylight-saving change) ends at its real midnight.
 */
export function dayEndMs(atMs: number, timeZone: string): number {
  const today = periodIds(atMs, timeZone).day;
  const utcDay = Date.UTC(Number(today.slice(0, 4)), Number(today.slice(5, 7)) - 1, Number(today.slice(8, 10)));
  // The zone's offset at atMs: local wall time of atMs read as UTC, minus atMs, to the minute.
  let end = utcDay + 86_400_000 - localOffsetMs(atMs, timeZone);
  for (let i = 0; i < 3 && periodIds(end, timeZone).day === today; i++) end += 3_600_000;
  for (let i = 0; i < 3 && periodIds(end - 3_600_000, timeZone).day !== today; i++) end -= 3_600_000;
  return end;
}

const offsetFormats = new Map<string, Intl.DateTimeFormat>();
function localOffsetMs(atMs: number, timeZone: string): number {
  let format = offsetFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    offsetFormats.set(timeZone, format);
  }
  const p = Object.fromEntries(format.formatToParts(atMs).map((x) => [x.type, Number(x.value)]));
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return wall - Math.floor(atMs / 1000) * 1000;
}
