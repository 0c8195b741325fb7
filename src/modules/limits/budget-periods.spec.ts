import { dayEndMs, isTimeZone, periodIds } from './budget-periods';

describe('budget periods', () => {
  it("names the day, ISO week and month in the tenant's time zone", () => {
    // 2026-12-31 23:30 UTC is already 2027-01-01 in Shanghai (UTC+8), still 2026 in New York.
    const at = Date.UTC(2026, 11, 31, 23, 30);
    expect(periodIds(at, 'UTC')).toEqual({ day: '2026-12-31', week: '2026-W53', month: '2026-12' });
    expect(periodIds(at, 'Asia/Shanghai')).toEqual({ day: '2027-01-01', week: '2026-W53', month: '2027-01' });
    expect(periodIds(at, 'America/New_York')).toEqual({ day: '2026-12-31', week: '2026-W53', month: '2026-12' });
    // Monday 2027-01-04 starts ISO week 1 of 2027.
    expect(periodIds(Date.UTC(2027, 0, 4, 12), 'UTC').week).toBe('2027-W01');
    expect(periodIds(Date.UTC(2027, 0, 3, 12), 'UTC').week).toBe('2026-W53');
    // Local midnight is the boundary: one millisecond before and at it.
    const midnightShanghai = Date.UTC(2026, 5, 9, 16, 0);
    expect(periodIds(midnightShanghai - 1, 'Asia/Shanghai').day).toBe('2026-06-09');
    expect(periodIds(midnightShanghai, 'Asia/Shanghai').day).toBe('2026-06-10');
  });

  it('knows IANA zones and refuses others', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });

  it("ends a day at the tenant's next local midnight, daylight-saving days included", () => {
    expect(dayEndMs(Date.UTC(2026, 5, 9, 10, 0), 'UTC')).toBe(Date.UTC(2026, 5, 10));
    expect(dayEndMs(Date.UTC(2026, 5, 9, 15, 59), 'Asia/Shanghai')).toBe(Date.UTC(2026, 5, 9, 16));
    expect(dayEndMs(Date.UTC(2026, 5, 9, 16, 0), 'Asia/Shanghai')).toBe(Date.UTC(2026, 5, 10, 16));
    expect(dayEndMs(Date.UTC(2026, 0, 5, 12, 0), 'Asia/Kolkata')).toBe(Date.UTC(2026, 0, 5, 18, 30));
    // New York, 8 March 2026 has 23 hours (clocks go forward at 2:00): midnight after it is 04:00 UTC.
    expect(dayEndMs(Date.UTC(2026, 2, 8, 12, 0), 'America/New_York')).toBe(Date.UTC(2026, 2, 9, 4));
    // 1 November 2026 has 25 hours: its end is 05:00 UTC on the 2nd.
    expect(dayEndMs(Date.UTC(2026, 10, 1, 12, 0), 'America/New_York')).toBe(Date.UTC(2026, 10, 2, 5));
    expect(dayEndMs(Date.UTC(2026, 10, 2, 4, 59), 'America/New_York')).toBe(Date.UTC(2026, 10, 2, 5));
  });
});
