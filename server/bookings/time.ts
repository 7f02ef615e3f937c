/**
 * Dealership-local wall time ⇄ UTC instants with nothing but Intl, so DST transitions follow the
 * IANA database Node ships with.
 */
import { ValidationError } from '../platform/errors';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      weekday: 'short',
    });
    formatters.set(tz, f);
  }
  return f;
}

export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: 'sun' | 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat';
}

export function toWallTime(instant: Date, tz: string): WallTime {
  const parts: Record<string, string> = {};
  for (const p of formatter(tz).formatToParts(instant)) parts[p.type] = p.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: (parts.weekday ?? 'Sun').toLowerCase().slice(0, 3) as WallTime['weekday'],
  };
}

/** Offset of `tz` from UTC at `instant`, in minutes (Chicago winter: -360). */
export function offsetMinutes(instant: Date, tz: string): number {
  const w = toWallTime(instant, tz);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return Math.round((asUtc - Math.floor(instant.getTime() / 1000) * 1000) / 60_000);
}

const LOCAL_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** `YYYY-MM-DD` that is a real calendar date, or a ValidationError. */
export function parseLocalDate(date: string): { year: number; month: number; day: number } {
  const m = DATE_RE.exec(date);
  if (!m) throw new ValidationError('INVALID_DATE', 'Dates look like YYYY-MM-DD');
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const d = new Date(Date.UTC(year, month - 1, day));
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) {
    throw new ValidationError('INVALID_DATE', `${date} is not a calendar date`);
  }
  return { year, month, day };
}

/** `YYYY-MM-DDTHH:mm` dealership-local → the UTC instant. Rejects impossible and skipped (DST) times. */
export function localToUtc(local: string, tz: string): Date {
  const m = LOCAL_RE.exec(local);
  if (!m) throw new ValidationError('INVALID_DATETIME', 'Times look like YYYY-MM-DDTHH:mm');
  const { year, month, day } = parseLocalDate(local.slice(0, 10));
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  if (hour > 23 || minute > 59)
    throw new ValidationError('INVALID_DATETIME', `${local} is not a time of day`);
  const guess = Date.UTC(year, month - 1, day, hour, minute);
  // Two passes settle the offset on either side of a DST change.
  let instant = new Date(guess - offsetMinutes(new Date(guess), tz) * 60_000);
  instant = new Date(guess - offsetMinutes(instant, tz) * 60_000);
  if (formatLocal(instant, tz) !== local) {
    throw new ValidationError('INVALID_DATETIME', `${local} does not exist in ${tz} (clock change)`);
  }
  return instant;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** The instant as `YYYY-MM-DDTHH:mm` dealership-local (the tools' format). */
export function formatLocal(instant: Date, tz: string): string {
  const w = toWallTime(instant, tz);
  return `${w.year}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}`;
}

export function formatLocalDate(instant: Date, tz: string): string {
  return formatLocal(instant, tz).slice(0, 10);
}

/** ISO 8601 with the dealership's offset: `2026-11-24T09:00:00-06:00` (the API's format). */
export function formatIsoOffset(instant: Date, tz: string): string {
  const w = toWallTime(instant, tz);
  const off = offsetMinutes(instant, tz);
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  return `${w.year}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** Adds whole days to a `YYYY-MM-DD` date. */
export function addDays(date: string, days: number): string {
  const { year, month, day } = parseLocalDate(date);
  const d = new Date(Date.UTC(year, month - 1, day + days));
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

export function weekdayOf(date: string): WallTime['weekday'] {
  const { year, month, day } = parseLocalDate(date);
  return (['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const)[
    new Date(Date.UTC(year, month - 1, day)).getUTCDay()
  ] as WallTime['weekday'];
}
