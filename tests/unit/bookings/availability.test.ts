import {
  checkBookable,
  findSlots,
  freeBays,
  type BookedInterval,
  type PartOfDay,
} from '../../../server/bookings/availability';
import type { Dealership, DayHours } from '../../../server/bookings/dealership';
import { localToUtc } from '../../../server/bookings/time';

const TZ = 'America/Chicago';
// Monday 2026-11-23, 09:00 in Chicago (CST, UTC-6).
const NOW = new Date('2026-11-23T15:00:00Z');

const hours = (open: string, close: string): DayHours => ({
  open,
  close,
  openMinutes: Number(open.slice(0, 2)) * 60 + Number(open.slice(3)),
  closeMinutes: Number(close.slice(0, 2)) * 60 + Number(close.slice(3)),
});

const weekday = hours('07:00', '18:00');
const DEALER: Dealership = {
  name: 'Bayline Motors',
  timezone: TZ,
  address: '1200 W Lake St',
  phone: '+13125550100',
  hours: {
    mon: weekday,
    tue: weekday,
    wed: weekday,
    thu: weekday,
    fri: weekday,
    sat: hours('08:00', '14:00'),
    sun: null,
  },
  slotMinutes: 30,
  services: [],
  bays: [1, 2, 3, 4].map((id) => ({ id, name: `Bay ${id}` })),
};
const OIL = { durationMinutes: 30 };
const BRAKES = { durationMinutes: 60 };

function slots(
  date: string,
  opts: {
    partOfDay?: PartOfDay;
    service?: { durationMinutes: number };
    booked?: BookedInterval[];
    now?: Date;
    dealership?: Dealership;
  } = {},
) {
  return findSlots({
    dealership: opts.dealership ?? DEALER,
    service: opts.service ?? OIL,
    date,
    partOfDay: opts.partOfDay ?? 'any',
    booked: opts.booked ?? [],
    now: opts.now ?? NOW,
  });
}

const at = (local: string, minutes: number, bayId: number): BookedInterval => {
  const startsAt = localToUtc(local, TZ);
  return { bayId, startsAt, endsAt: new Date(startsAt.getTime() + minutes * 60_000) };
};

describe('findSlots: opening hours', () => {
  it('a weekday offers every 30 minutes from opening until the service no longer fits before closing', () => {
    const tue = slots('2026-11-24');
    expect(tue).toHaveLength(22);
    expect(tue[0]).toBe('2026-11-24T07:00');
    expect(tue.at(-1)).toBe('2026-11-24T17:30');
  });

  it('a 60-minute service cannot start at 17:30 on a weekday', () => {
    const tue = slots('2026-11-24', { service: BRAKES });
    expect(tue.at(-1)).toBe('2026-11-24T17:00');
    expect(tue).not.toContain('2026-11-24T17:30');
    expect(tue).toHaveLength(21);
  });

  it('Saturday has short hours and Sunday is closed', () => {
    const sat = slots('2026-11-28');
    expect(sat[0]).toBe('2026-11-28T08:00');
    expect(sat.at(-1)).toBe('2026-11-28T13:30');
    expect(sat).toHaveLength(12);
    expect(slots('2026-11-28', { service: BRAKES }).at(-1)).toBe('2026-11-28T13:00');
    expect(slots('2026-11-29')).toEqual([]);
  });

  it('morning is opening to 12:00, afternoon 12:00 to closing', () => {
    const morning = slots('2026-11-24', { partOfDay: 'morning' });
    const afternoon = slots('2026-11-24', { partOfDay: 'afternoon' });
    expect(morning[0]).toBe('2026-11-24T07:00');
    expect(morning.at(-1)).toBe('2026-11-24T11:30');
    expect(afternoon[0]).toBe('2026-11-24T12:00');
    expect(afternoon.at(-1)).toBe('2026-11-24T17:30');
    expect([...morning, ...afternoon]).toEqual(slots('2026-11-24'));
    expect(slots('2026-11-28', { partOfDay: 'afternoon' })).toEqual([
      '2026-11-28T12:00',
      '2026-11-28T12:30',
      '2026-11-28T13:00',
      '2026-11-28T13:30',
    ]);
  });

  it('never offers the past, nor the next 30 minutes', () => {
    const today = slots('2026-11-23');
    expect(today[0]).toBe('2026-11-23T09:30');
    expect(slots('2026-11-23', { now: new Date('2026-11-23T15:10:00Z') })[0]).toBe('2026-11-23T10:00');
    expect(slots('2026-11-20')).toEqual([]);
    expect(slots('2026-11-23', { now: new Date('2026-11-24T00:30:00Z') })).toEqual([]);
  });

  it('rejects a date that does not exist', () => {
    expect(() => slots('2026-02-30')).toThrow(expect.objectContaining({ code: 'INVALID_DATE' }));
  });
});

describe('findSlots: bays and existing bookings', () => {
  it('4 bookings at 9:00 make 9:00 unavailable; 3 do not', () => {
    const three = [1, 2, 3].map((bay) => at('2026-11-24T09:00', 30, bay));
    expect(slots('2026-11-24', { booked: three })).toContain('2026-11-24T09:00');
    const four = [...three, at('2026-11-24T09:00', 30, 4)];
    const offered = slots('2026-11-24', { booked: four });
    expect(offered).not.toContain('2026-11-24T09:00');
    expect(offered).toContain('2026-11-24T08:30');
    expect(offered).toContain('2026-11-24T09:30');
  });

  it('a longer service needs one bay free for its whole duration', () => {
    const full = [1, 2, 3, 4].map((bay) => at('2026-11-24T09:00', 30, bay));
    const brakes = slots('2026-11-24', { service: BRAKES, booked: full });
    expect(brakes).not.toContain('2026-11-24T08:30');
    expect(brakes).not.toContain('2026-11-24T09:00');
    expect(brakes).toContain('2026-11-24T08:00');
    expect(brakes).toContain('2026-11-24T09:30');
  });

  it('staggered bookings on different bays still leave a continuous free bay', () => {
    const booked = [
      at('2026-11-24T10:00', 60, 1),
      at('2026-11-24T10:30', 60, 2),
      at('2026-11-24T10:00', 30, 3),
    ];
    expect(slots('2026-11-24', { service: BRAKES, booked })).toContain('2026-11-24T10:00');
    const busy = [...booked, at('2026-11-24T10:30', 30, 4), at('2026-11-24T10:30', 30, 3)];
    expect(slots('2026-11-24', { service: BRAKES, booked: busy })).not.toContain('2026-11-24T10:00');
  });

  it('bookings on a bay that is no longer active do not block anything', () => {
    const booked = [1, 2, 3, 4].map((bay) => at('2026-11-24T09:00', 30, bay));
    const threeBays = { ...DEALER, bays: DEALER.bays.slice(0, 3) };
    expect(slots('2026-11-24', { booked, dealership: threeBays })).not.toContain('2026-11-24T09:00');
    const fifth = { ...DEALER, bays: [...DEALER.bays, { id: 5, name: 'Bay 5' }] };
    expect(slots('2026-11-24', { booked, dealership: fifth })).toContain('2026-11-24T09:00');
  });

  it('freeBays hands bays out in order and treats touching bookings as free', () => {
    const booked = [at('2026-11-24T09:00', 30, 1), at('2026-11-24T08:30', 30, 2)];
    const start = localToUtc('2026-11-24T09:00', TZ);
    const end = localToUtc('2026-11-24T09:30', TZ);
    expect(freeBays(DEALER.bays, booked, start, end).map((b) => b.id)).toEqual([2, 3, 4]);
  });
});

describe('findSlots: DST', () => {
  it('weekdays right after a clock change still start at 07:00 local', () => {
    const spring = slots('2026-03-09', { now: new Date('2026-03-01T00:00:00Z') });
    const fall = slots('2026-11-02', { now: new Date('2026-10-25T00:00:00Z') });
    expect(spring).toHaveLength(22);
    expect(fall).toHaveLength(22);
    expect(localToUtc(spring[0] as string, TZ).toISOString()).toBe('2026-03-09T12:00:00.000Z');
    expect(localToUtc(fall[0] as string, TZ).toISOString()).toBe('2026-11-02T13:00:00.000Z');
  });

  it('skips wall times the spring-forward gap removes and never repeats fall-back times', () => {
    const night = { ...DEALER, hours: { ...DEALER.hours, sun: hours('00:00', '06:00') } };
    const now = new Date('2026-03-01T00:00:00Z');
    const spring = slots('2026-03-08', { dealership: night, now });
    expect(spring).not.toContain('2026-03-08T02:00');
    expect(spring).not.toContain('2026-03-08T02:30');
    expect(spring).toContain('2026-03-08T01:30');
    expect(spring).toContain('2026-03-08T03:00');
    expect(spring).toHaveLength(10);
    const fall = slots('2026-11-01', { dealership: night, now });
    expect(fall).toHaveLength(12);
    expect(new Set(fall).size).toBe(12);
  });
});

describe('checkBookable', () => {
  const check =
    (startsAt: string, service = OIL, now = NOW) =>
    () =>
      checkBookable(DEALER, service, startsAt, now);

  it('returns the UTC span of a valid booking', () => {
    const { start, end } = checkBookable(DEALER, BRAKES, '2026-11-24T09:00', NOW);
    expect(start.toISOString()).toBe('2026-11-24T15:00:00.000Z');
    expect(end.toISOString()).toBe('2026-11-24T16:00:00.000Z');
  });

  it('refuses times outside opening hours, including a service running past closing', () => {
    for (const t of ['2026-11-24T06:30', '2026-11-24T18:00', '2026-11-28T14:00', '2026-11-29T10:00']) {
      expect(check(t)).toThrow(expect.objectContaining({ code: 'OUTSIDE_HOURS' }));
    }
    expect(check('2026-11-24T17:30', BRAKES)).toThrow(expect.objectContaining({ code: 'OUTSIDE_HOURS' }));
    expect(check('2026-11-29T10:00')).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/Sunday/) }),
    );
    expect(check('2026-11-24T17:30')).not.toThrow();
  });

  it('refuses impossible, off-grid, past and too-soon times', () => {
    expect(check('2026-11-31T09:00')).toThrow(expect.objectContaining({ code: 'INVALID_DATE' }));
    expect(check('2026-11-24T24:00')).toThrow(expect.objectContaining({ code: 'INVALID_DATETIME' }));
    expect(check('2026-11-24 09:00')).toThrow(expect.objectContaining({ code: 'INVALID_DATETIME' }));
    expect(check('2026-11-24T09:10')).toThrow(expect.objectContaining({ code: 'NOT_A_SLOT' }));
    expect(check('2026-11-23T08:30')).toThrow(expect.objectContaining({ code: 'DATE_IN_PAST' }));
    expect(check('2026-11-23T09:00')).toThrow(expect.objectContaining({ code: 'DATE_IN_PAST' }));
    expect(check('2026-11-23T09:00', OIL, new Date('2026-11-23T14:45:00Z'))).toThrow(
      expect.objectContaining({ code: 'TOO_SOON' }),
    );
    expect(check('2026-11-23T09:30')).not.toThrow();
  });

  it('refuses a start beyond the 365-day horizon, as find_availability does, whatever the weekday', () => {
    // NOW is Monday 2026-11-23 in Chicago: the last bookable day is 2027-11-23.
    expect(check('2027-11-23T09:00')).not.toThrow();
    for (const t of ['2027-11-24T09:00', '2096-01-02T09:00', '2099-03-02T10:00', '2096-01-01T09:00']) {
      expect(check(t)).toThrow(expect.objectContaining({ code: 'DATE_TOO_FAR' }));
    }
    // The horizon counts in dealership days: at 23:30 on Nov 23 in Chicago it is already the 24th in UTC.
    const lateEvening = new Date('2026-11-24T05:30:00Z');
    expect(check('2027-11-23T09:00', OIL, lateEvening)).not.toThrow();
    expect(check('2027-11-24T09:00', OIL, lateEvening)).toThrow(
      expect.objectContaining({ code: 'DATE_TOO_FAR' }),
    );
  });
});
