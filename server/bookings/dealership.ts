/**
 * The dealership's own facts: opening hours, services, bays. They change a few times a year, so
 * they are kept in memory and refreshed in the background instead of being queried on every call.
 */
import { AppError, ValidationError } from '../platform/errors';
import type { Queryable } from '../platform/postgres';
import type { WallTime } from './time';

export type Weekday = WallTime['weekday'];

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const WEEKDAY_NAMES: Record<Weekday, string> = {
  sun: 'Sunday',
  mon: 'Monday',
  tue: 'Tuesday',
  wed: 'Wednesday',
  thu: 'Thursday',
  fri: 'Friday',
  sat: 'Saturday',
};

/** Opening and closing as minutes after local midnight. */
export interface DayHours {
  open: string;
  close: string;
  openMinutes: number;
  closeMinutes: number;
}

export interface ServiceType {
  code: string;
  name: string;
  durationMinutes: number;
  priceCents: number;
  active: boolean;
}

export interface Bay {
  id: number;
  name: string;
}

export interface Dealership {
  name: string;
  timezone: string;
  address: string;
  phone: string;
  hours: Record<Weekday, DayHours | null>;
  slotMinutes: number;
  /** Every service type, inactive ones too: old appointments still name them. */
  services: ServiceType[];
  /** Active bays, in id order (the order free bays are handed out). */
  bays: Bay[];
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

function parseHours(raw: unknown): Record<Weekday, DayHours | null> {
  const source = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Record<string, unknown> | null;
  const out = {} as Record<Weekday, DayHours | null>;
  for (const day of WEEKDAYS) {
    const v = source?.[day];
    const open = Array.isArray(v) ? HHMM.exec(String(v[0])) : null;
    const close = Array.isArray(v) ? HHMM.exec(String(v[1])) : null;
    if (!open || !close) {
      out[day] = null;
      continue;
    }
    const openMinutes = Number(open[1]) * 60 + Number(open[2]);
    const closeMinutes = Number(close[1]) * 60 + Number(close[2]);
    out[day] =
      closeMinutes > openMinutes ? { open: open[0], close: close[0], openMinutes, closeMinutes } : null;
  }
  return out;
}

/** Reads the dealership row, its service types and active bays (no cache). */
export async function loadDealership(db: Queryable): Promise<Dealership> {
  const [d, s, b] = await Promise.all([
    db.query<{
      name: string;
      timezone: string;
      address: string;
      phone: string;
      hours: unknown;
      slot_minutes: number;
    }>('SELECT name, timezone, address, phone, hours, slot_minutes FROM dealership WHERE id = 1'),
    db.query<{ code: string; name: string; duration_minutes: number; price_cents: number; active: boolean }>(
      'SELECT code, name, duration_minutes, price_cents, active FROM service_types ORDER BY code',
    ),
    db.query<Bay>('SELECT id, name FROM bays WHERE active ORDER BY id'),
  ]);
  const row = d.rows[0];
  if (!row) throw new AppError('DEALERSHIP_MISSING', 'The dealership has not been set up (run the seed)');
  return {
    name: row.name,
    timezone: row.timezone,
    address: row.address,
    phone: row.phone,
    hours: parseHours(row.hours),
    slotMinutes: row.slot_minutes,
    services: s.rows.map((r) => ({
      code: r.code,
      name: r.name,
      durationMinutes: r.duration_minutes,
      priceCents: r.price_cents,
      active: r.active,
    })),
    bays: b.rows.map((r) => ({ id: Number(r.id), name: r.name })),
  };
}

/**
 * loadDealership behind an in-memory cache that never goes cold once warm. Past `ttlMs` a read still
 * answers at once with the value it has and refreshes it in the background; a failed refresh keeps
 * the last good value (Postgres down: calls continue) and is tried again on a read after `retryMs`.
 * Only a read with nothing loaded yet, or right after invalidate(), waits on Postgres; concurrent
 * loads are one.
 */
export class DealershipRepository {
  readonly #db: Queryable;
  readonly #ttlMs: number;
  readonly #retryMs: number;
  #value: Dealership | undefined;
  /** Until then the value is served without asking Postgres. */
  #freshUntil = 0;
  /** Set by invalidate(): the next read waits for a fresh load (the last value if that fails). */
  #mustReload = false;
  #inflight: Promise<Dealership> | undefined;

  constructor(db: Queryable, opts: { ttlMs?: number; retryMs?: number } = {}) {
    this.#db = db;
    this.#ttlMs = opts.ttlMs ?? 60_000;
    this.#retryMs = opts.retryMs ?? 5_000;
  }

  async get(): Promise<Dealership> {
    const known = this.#value;
    if (known && !this.#mustReload && this.#freshUntil > Date.now()) return known;
    const load = this.#load();
    if (!known) return load;
    if (this.#mustReload) return load.catch(() => known);
    // Served stale while the refresh runs; its failure is the next read's concern, not this one's.
    load.catch(() => undefined);
    return known;
  }

  invalidate(): void {
    this.#mustReload = true;
  }

  #load(): Promise<Dealership> {
    this.#inflight ??= loadDealership(this.#db)
      .then(
        (value) => {
          this.#value = value;
          this.#freshUntil = Date.now() + this.#ttlMs;
          this.#mustReload = false;
          return value;
        },
        (err: unknown) => {
          // Keep serving what we have; a database that is down is not asked again on every read.
          if (this.#value) {
            this.#freshUntil = Date.now() + this.#retryMs;
            this.#mustReload = false;
          }
          throw err;
        },
      )
      .finally(() => {
        this.#inflight = undefined;
      });
    return this.#inflight;
  }
}

/** An active service by code; models say "oil" as often as "OIL". */
export function findService(d: Dealership, code: string): ServiceType {
  const wanted = code.trim().toUpperCase();
  const service = d.services.find((s) => s.active && s.code === wanted);
  if (!service) {
    const known = d.services
      .filter((s) => s.active)
      .map((s) => `${s.code} (${s.name})`)
      .join(', ');
    throw new ValidationError('UNKNOWN_SERVICE', `No service "${code}". Services: ${known}`);
  }
  return service;
}

export function weekdayName(day: Weekday): string {
  return WEEKDAY_NAMES[day];
}

export function closedDays(d: Dealership): string[] {
  return WEEKDAYS.filter((day) => d.hours[day] === null).map((day) => WEEKDAY_NAMES[day]);
}

export function closedMessage(d: Dealership, day: Weekday): string {
  const closed = closedDays(d);
  return `We are closed on ${WEEKDAY_NAMES[day]}s${closed.length > 0 ? ` (closed days: ${closed.join(', ')})` : ''}`;
}

export const INFO_TOPICS = ['hours', 'address', 'services', 'prices'] as const;
export type InfoTopic = (typeof INFO_TOPICS)[number];

const dollars = (cents: number) => `$${(cents / 100).toFixed(2)}`;

function clock(hhmm: string): string {
  const [h = 0, m = 0] = hhmm.split(':').map(Number);
  return `${h % 12 === 0 ? 12 : h % 12}:${String(m).padStart(2, '0')} ${h < 12 ? 'AM' : 'PM'}`;
}

function displayPhone(e164: string): string {
  const m = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(e164);
  return m ? `(${m[1]}) ${m[2]}-${m[3]}` : e164;
}

/** Facts for dealership_info, structured for the model plus a sentence it can say as is. */
export function dealershipFacts(d: Dealership, topic: InfoTopic): Record<string, unknown> {
  const services = d.services.filter((s) => s.active);
  switch (topic) {
    case 'hours': {
      // Keyed by full weekday name, Monday first, so "what time do you close Saturday" reads directly.
      const hours: Record<string, { open: string; close: string } | null> = {};
      for (const day of [...WEEKDAYS.slice(1), WEEKDAYS[0]]) {
        const h = d.hours[day];
        hours[WEEKDAY_NAMES[day].toLowerCase()] = h ? { open: h.open, close: h.close } : null;
      }
      const spoken = [...WEEKDAYS.slice(1), WEEKDAYS[0]].map((day) => {
        const h = d.hours[day];
        return `${WEEKDAY_NAMES[day]} ${h ? `${clock(h.open)} to ${clock(h.close)}` : 'closed'}`;
      });
      return { topic, timezone: d.timezone, hours, closedDays: closedDays(d), spoken: spoken.join('; ') };
    }
    case 'address':
      return {
        topic,
        name: d.name,
        address: d.address,
        phone: displayPhone(d.phone),
        summary: `${d.name} is at ${d.address}. Our phone number is ${displayPhone(d.phone)}.`,
      };
    case 'services':
      return {
        topic,
        services: services.map((s) => ({ code: s.code, name: s.name, durationMinutes: s.durationMinutes })),
        summary: `We offer: ${services.map((s) => `${s.name.toLowerCase()} (about ${s.durationMinutes} minutes)`).join(', ')}.`,
      };
    case 'prices':
      return {
        topic,
        currency: 'USD',
        prices: services.map((s) => ({ code: s.code, name: s.name, price: dollars(s.priceCents) })),
        summary: `Our prices: ${services.map((s) => `${s.name.toLowerCase()} ${dollars(s.priceCents)}`).join(', ')}.`,
      };
  }
}
