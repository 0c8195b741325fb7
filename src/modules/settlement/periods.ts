export type PeriodKind = 'day' | 'week' | 'month';
export const PERIOD_KINDS: readonly PeriodKind[] = ['day', 'week', 'month'];

/** The start (UTC) of the period of `kind` containing `t`: midnight, Monday midnight, the 1st. */
export function periodStartOf(t: Date, kind: PeriodKind): Date {
  const y = t.getUTCFullYear();
  const m = t.getUTCMonth();
  const d = t.getUTCDate();
  switch (kind) {
    case 'day':
      return new Date(Date.UTC(y, m, d));
    case 'week': {
      const sinceMonday = (t.getUTCDay() + 6) % 7;
      return new Date(Date.UTC(y, m, d - sinceMonday));
    }
    case 'month':
      return new Date(Date.UTC(y, m, 1));
  }
}

/**
 * The end of the period that starts at `start`: the next boundary of `kind` after it. When the
 * configured kind changed since the last statement, the first period of the new kind runs from
 * the last statement's end to the next boundary, so periods stay contiguous.
 */
export function periodEndAfter(start: Date, kind: PeriodKind): Date {
  const aligned = periodStartOf(start, kind);
  const y = aligned.getUTCFullYear();
  const m = aligned.getUTCMonth();
  const d = aligned.getUTCDate();
  switch (kind) {
    case 'day':
      return new Date(Date.UTC(y, m, d + 1));
    case 'week':
      return new Date(Date.UTC(y, m, d + 7));
    case 'month':
      return new Date(Date.UTC(y, m + 1, 1));
  }
}
