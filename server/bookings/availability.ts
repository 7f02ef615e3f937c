/**
 * Which start times can still be booked: pure functions over the dealership's hours, its bays and
 * the bookings already made. Times go in and out as dealership-local `YYYY-MM-DDTHH:mm`; every
 * comparison is done on UTC instants so a DST change never shifts or duplicates a slot.
 */
import { ValidationError } from '../platform/errors';
import { closedMessage, type Bay, type Dealership, type DayHours, type ServiceType } from './dealership';
import { addDays, formatLocalDate, localToUtc, parseLocalDate, weekdayOf } from './time';

export const PART_OF_DAY = { morning: 'morning', afternoon: 'afternoon', any: 'any' } as const;
export type PartOfDay = (typeof PART_OF_DAY)[keyof typeof PART_OF_DAY];

/** CONTRACT.md: morning is opening time to 12:00, afternoon 12:00 to closing. */
const NOON_MINUTES = 12 * 60;
/** A caller cannot be offered a slot that starts before they could reasonably get there. */
export const MIN_LEAD_MINUTES = 30;
/** How far ahead a caller may book; beyond it dates are almost always a mis-heard year. */
export const HORIZON_DAYS = 365;

export interface BookedInterval {
  bayId: number;
  startsAt: Date;
  endsAt: Date;
}

export type SlotDealership = Pick<Dealership, 'timezone' | 'hours' | 'slotMinutes' | 'bays'>;

export interface SlotQuery {
  dealership: SlotDealership;
  service: Pick<ServiceType, 'durationMinutes'>;
  date: string;
  partOfDay: PartOfDay;
  booked: readonly BookedInterval[];
  now: Date;
  leadMinutes?: number;
}

const pad = (n: number) => String(n).padStart(2, '0');
const hhmm = (minutes: number) => `${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;

export function hoursOn(d: Pick<Dealership, 'hours'>, date: string): DayHours | null {
  return d.hours[weekdayOf(date)];
}

/** The UTC instants a local day's opening hours span, or null on a closed day. */
export function openingWindow(
  d: Pick<Dealership, 'hours' | 'timezone'>,
  date: string,
): { open: Date; close: Date } | null {
  const h = hoursOn(d, date);
  if (!h) return null;
  return {
    open: localToUtc(`${date}T${h.open}`, d.timezone),
    close: localToUtc(`${date}T${h.close}`, d.timezone),
  };
}

/** Active bays with nothing booked anywhere in [start, end), in bay order. */
export function freeBays(
  bays: readonly Bay[],
  booked: readonly BookedInterval[],
  start: Date,
  end: Date,
): Bay[] {
  const s = start.getTime();
  const e = end.getTime();
  return bays.filter(
    (bay) => !booked.some((b) => b.bayId === bay.id && b.startsAt.getTime() < e && b.endsAt.getTime() > s),
  );
}

/**
 * Local start times on `date`, every slot_minutes from opening, where the whole service fits
 * before closing and one bay stays free for all of it. Closed days and past times give [].
 */
export function findSlots(q: SlotQuery): string[] {
  parseLocalDate(q.date);
  const h = hoursOn(q.dealership, q.date);
  if (!h) return [];
  const { timezone, slotMinutes, bays } = q.dealership;
  const durationMs = q.service.durationMinutes * 60_000;
  const close = localToUtc(`${q.date}T${h.close}`, timezone).getTime();
  const earliest = q.now.getTime() + (q.leadMinutes ?? MIN_LEAD_MINUTES) * 60_000;
  const slots: string[] = [];
  for (let m = h.openMinutes; m < h.closeMinutes; m += slotMinutes) {
    if (q.partOfDay === PART_OF_DAY.morning && m >= NOON_MINUTES) break;
    if (q.partOfDay === PART_OF_DAY.afternoon && m < NOON_MINUTES) continue;
    const local = `${q.date}T${hhmm(m)}`;
    let start: Date;
    try {
      start = localToUtc(local, timezone);
    } catch {
      continue; // a wall time the clock change skipped
    }
    const end = new Date(start.getTime() + durationMs);
    if (end.getTime() > close || start.getTime() < earliest) continue;
    if (freeBays(bays, q.booked, start, end).length > 0) slots.push(local);
  }
  return slots;
}

/** DATE_TOO_FAR past the booking horizon: the same local-date rule for searching and for writing. */
export function checkHorizon(date: string, now: Date, timezone: string): void {
  if (date > addDays(formatLocalDate(now, timezone), HORIZON_DAYS)) {
    throw new ValidationError('DATE_TOO_FAR', `Bookings open up to ${HORIZON_DAYS} days ahead`);
  }
}

/**
 * Checks that a booking may start at `startsAt` (local): a real time, within the booking horizon,
 * on the slot grid, inside opening hours for the whole service, and not in the past. Returns its
 * UTC span.
 */
export function checkBookable(
  d: Dealership,
  service: Pick<ServiceType, 'durationMinutes'>,
  startsAt: string,
  now: Date,
  leadMinutes = MIN_LEAD_MINUTES,
): { start: Date; end: Date } {
  const start = localToUtc(startsAt, d.timezone);
  const date = startsAt.slice(0, 10);
  // Before the hours check: a Sunday in 2096 is refused for its year, not for being a Sunday.
  checkHorizon(date, now, d.timezone);
  const h = hoursOn(d, date);
  if (!h) throw new ValidationError('OUTSIDE_HOURS', closedMessage(d, weekdayOf(date)));
  const end = new Date(start.getTime() + service.durationMinutes * 60_000);
  const minutes = Number(startsAt.slice(11, 13)) * 60 + Number(startsAt.slice(14, 16));
  const close = localToUtc(`${date}T${h.close}`, d.timezone);
  if (minutes < h.openMinutes || end.getTime() > close.getTime()) {
    throw new ValidationError(
      'OUTSIDE_HOURS',
      `That day we are open ${h.open}–${h.close}, and this service takes ${service.durationMinutes} minutes, so it must start between ${h.open} and ${hhmm(h.closeMinutes - service.durationMinutes)}`,
    );
  }
  if ((minutes - h.openMinutes) % d.slotMinutes !== 0) {
    throw new ValidationError(
      'NOT_A_SLOT',
      `Appointments start every ${d.slotMinutes} minutes from ${h.open}; use a time find_availability offered`,
    );
  }
  if (start.getTime() <= now.getTime())
    throw new ValidationError('DATE_IN_PAST', 'That time has already passed');
  if (start.getTime() < now.getTime() + leadMinutes * 60_000) {
    throw new ValidationError('TOO_SOON', `Appointments must start at least ${leadMinutes} minutes from now`);
  }
  return { start, end };
}
