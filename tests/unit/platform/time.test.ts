import {
  localToUtc,
  formatIsoOffset,
  formatLocal,
  parseLocalDate,
  addDays,
  weekdayOf,
} from '../../../server/bookings/time';

const TZ = 'America/Chicago';

describe('dealership time', () => {
  it('converts local wall time to UTC across DST', () => {
    expect(localToUtc('2026-11-24T09:00', TZ).toISOString()).toBe('2026-11-24T15:00:00.000Z');
    expect(localToUtc('2026-07-01T09:00', TZ).toISOString()).toBe('2026-07-01T14:00:00.000Z');
  });

  it('formats with the offset of that day', () => {
    expect(formatIsoOffset(new Date('2026-11-24T15:00:00Z'), TZ)).toBe('2026-11-24T09:00:00-06:00');
    expect(formatIsoOffset(new Date('2026-07-01T14:00:00Z'), TZ)).toBe('2026-07-01T09:00:00-05:00');
    expect(formatLocal(new Date('2026-11-24T15:30:00Z'), TZ)).toBe('2026-11-24T09:30');
  });

  it('rejects impossible dates and times, and times skipped by DST', () => {
    expect(() => parseLocalDate('2026-02-30')).toThrow(expect.objectContaining({ code: 'INVALID_DATE' }));
    expect(() => parseLocalDate('tomorrow')).toThrow(expect.objectContaining({ code: 'INVALID_DATE' }));
    expect(() => localToUtc('2026-11-24T25:00', TZ)).toThrow(
      expect.objectContaining({ code: 'INVALID_DATETIME' }),
    );
    expect(() => localToUtc('2026-03-08T02:30', TZ)).toThrow(
      expect.objectContaining({ code: 'INVALID_DATETIME' }),
    );
  });

  it('does calendar arithmetic', () => {
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(weekdayOf('2026-11-23')).toBe('mon');
    expect(weekdayOf('2026-11-29')).toBe('sun');
  });
});
