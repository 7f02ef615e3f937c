/**
 * What staff read and change, for the API and the pages alike, each read of personal data and each
 * change written to the audit log before the data goes out (if the audit write fails, nothing does).
 */
import { BookingRepository, type BookingService, type Dealership, type StaffAppointment } from '../bookings';
import { toStaffAppointment } from '../bookings/repository';
import { addDays, formatLocalDate, localToUtc, parseLocalDate } from '../bookings/time';
import type { CallCursor, CallQueries } from '../calls/queries';
import type { PiiCipher } from '../platform/crypto';
import type { Db } from '../platform/postgres';
import { NotFoundError, ValidationError } from '../platform/errors';
import type { SessionStore } from '../sessions';
import type { Actor, AuditLog } from './audit';
import {
  callJson,
  callSummaryJson,
  liveCallJson,
  type CallJson,
  type CallSummaryJson,
  type LiveCallJson,
} from './present';
import { isUuid } from './accounts';

export interface Who {
  actor: Actor;
  ip: string;
  via: 'api' | 'dashboard';
}

const CALL_SID_RE = /^CA[0-9a-fA-F]{32}$/;
const MAX_CALL_DAYS = 92;
const MAX_CALLS = 1000;
const CURSOR_RE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z) (CA[0-9a-fA-F]{32})$/;

/** A range of days and, past the first page, where the previous page ended (`nextCursor`). */
export interface CallRange {
  from: string;
  to: string;
  cursor?: string | undefined;
}

/** One page of a call list: `truncated` when the range holds more calls, fetched with `nextCursor`. */
export interface CallsPage<T> {
  calls: T[];
  truncated: boolean;
  nextCursor: string | null;
}

/** Opaque to clients; only this module reads it back. */
export function encodeCallCursor(c: CallCursor): string {
  return Buffer.from(`${c.startedAt} ${c.callSid}`, 'utf8').toString('base64url');
}

export function decodeCallCursor(cursor: string): CallCursor {
  const invalid = () =>
    new ValidationError('INVALID_CURSOR', '`cursor` must be a `nextCursor` returned by this list, unchanged');
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  const m = CURSOR_RE.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  const startedAt = m?.[1];
  const callSid = m?.[2];
  // A real instant (not 02-30, 25:00 or year 0), which Postgres would otherwise refuse as a server error.
  const ms = startedAt ? Date.parse(startedAt) : Number.NaN;
  if (
    !startedAt ||
    startedAt.startsWith('0000') ||
    !callSid ||
    Number.isNaN(ms) ||
    new Date(ms).toISOString().slice(0, 23) !== startedAt.slice(0, 23)
  )
    throw invalid();
  return { startedAt, callSid };
}

export function assertCallSid(callSid: string): void {
  if (!CALL_SID_RE.test(callSid))
    throw new ValidationError('INVALID_CALL_SID', 'A call id is CA followed by 32 hexadecimal digits');
}

export function assertAppointmentId(id: string): void {
  if (!isUuid(id)) throw new ValidationError('INVALID_ID', 'An appointment id is a UUID');
}

/** Local midnight as an instant; where a clock change skips midnight, the day starts at 01:00. */
function startOfDay(date: string, tz: string): Date {
  try {
    return localToUtc(`${date}T00:00`, tz);
  } catch {
    return localToUtc(`${date}T01:00`, tz);
  }
}

const pageOf = <T>(calls: T[], next: CallCursor | null): CallsPage<T> => ({
  calls,
  truncated: next !== null,
  nextCursor: next && encodeCallCursor(next),
});

export class StaffData {
  readonly #bookings: BookingService;
  readonly #calls: CallQueries;
  readonly #sessions: SessionStore;
  readonly #audit: AuditLog;
  readonly #db: Db;
  readonly #cipher: PiiCipher;
  readonly #repo = new BookingRepository();

  constructor(opts: {
    db: Db;
    cipher: PiiCipher;
    bookings: BookingService;
    calls: CallQueries;
    sessions: SessionStore;
    audit: AuditLog;
  }) {
    this.#db = opts.db;
    this.#cipher = opts.cipher;
    this.#bookings = opts.bookings;
    this.#calls = opts.calls;
    this.#sessions = opts.sessions;
    this.#audit = opts.audit;
  }

  dealership(): Promise<Dealership> {
    return this.#bookings.dealership();
  }

  async timezone(): Promise<string> {
    return (await this.#bookings.dealership()).timezone;
  }

  async today(): Promise<string> {
    return formatLocalDate(new Date(), await this.timezone());
  }

  async appointments(
    who: Who,
    q: { from: string; to: string; status?: string },
  ): Promise<StaffAppointment[]> {
    const list = await this.#bookings.listAppointments(q);
    await this.#audit.record({
      ...who,
      action: 'appointments.list',
      target: { type: 'appointment_range', id: `${q.from}..${q.to}` },
      details: { via: who.via, status: q.status ?? null, count: list.length },
    });
    return list;
  }

  /** One appointment with its customer's details (the cancel confirmation shows it). */
  async appointment(who: Who, id: string): Promise<StaffAppointment> {
    assertAppointmentId(id);
    const row = await this.#repo.findDetailed(this.#db, id);
    if (!row) throw new NotFoundError('APPOINTMENT_NOT_FOUND', 'No appointment with that id');
    const a = toStaffAppointment(await this.timezone(), this.#cipher, row);
    await this.#audit.record({
      ...who,
      action: 'appointment.read',
      target: { type: 'appointment', id },
      details: { via: who.via },
    });
    return a;
  }

  async cancel(who: Who, id: string): Promise<StaffAppointment> {
    assertAppointmentId(id);
    const { appointment: a } = await this.#bookings.cancelByStaff(id);
    await this.#audit.record({
      ...who,
      action: 'appointment.cancel',
      target: { type: 'appointment', id },
      details: { via: who.via, startsAt: a.startsAt, service: a.service.code, bay: a.bay.id },
    });
    return a;
  }

  async calls(who: Who, q: CallRange): Promise<CallsPage<CallSummaryJson>> {
    const { records, next, tz } = await this.#callsIn(q);
    await this.#audit.record({
      ...who,
      action: 'calls.list',
      target: { type: 'call_range', id: `${q.from}..${q.to}` },
      details: { via: who.via, count: records.length, cursor: q.cursor ?? null, truncated: next !== null },
    });
    return pageOf(
      records.map((r) => callSummaryJson(r, tz)),
      next,
    );
  }

  /**
   * The API's call list, in CONTRACT.md's shape: each call with its transcript. Reading them is a
   * transcript read, so the audit row names every call returned.
   */
  async callsWithTurns(who: Who, q: CallRange): Promise<CallsPage<CallJson>> {
    const { records, next, tz } = await this.#callsIn(q);
    const turns = await this.#calls.turnsOf(
      records.filter((r) => r.status === 'completed').map((r) => r.callSid),
    );
    for (const r of records.filter((c) => c.status === 'in_progress')) {
      const live = await this.#sessions.turns(r.callSid);
      turns.set(
        r.callSid,
        live.map((x) => ({ ...x, at: new Date(x.at) })),
      );
    }
    await this.#audit.record({
      ...who,
      action: 'calls.list',
      target: { type: 'call_range', id: `${q.from}..${q.to}` },
      details: {
        via: who.via,
        count: records.length,
        cursor: q.cursor ?? null,
        truncated: next !== null,
        transcripts: records.map((r) => r.callSid).join(','),
      },
    });
    return pageOf(
      records.map((r) => callJson(r, turns.get(r.callSid) ?? [], tz)),
      next,
    );
  }

  /**
   * Calls that rang on the days from..to (inclusive, dealership time), validated: at most
   * MAX_CALLS, newest first, starting after `cursor` when given.
   */
  async #callsIn(q: CallRange) {
    parseLocalDate(q.from);
    parseLocalDate(q.to);
    if (q.to < q.from) throw new ValidationError('INVALID_RANGE', '`to` is before `from`');
    if (q.to > addDays(q.from, MAX_CALL_DAYS - 1))
      throw new ValidationError('INVALID_RANGE', `At most ${MAX_CALL_DAYS} days at once`);
    const after = q.cursor === undefined ? undefined : decodeCallCursor(q.cursor);
    const tz = await this.timezone();
    const { records, next } = await this.#calls.page(
      startOfDay(q.from, tz),
      startOfDay(addDays(q.to, 1), tz),
      MAX_CALLS,
      after,
    );
    return { records, next, tz };
  }

  /** One call with its transcript: from Postgres once final, from the live session while in progress. */
  async call(who: Who, callSid: string): Promise<CallJson> {
    assertCallSid(callSid);
    const record = await this.#calls.get(callSid);
    if (!record) throw new NotFoundError('CALL_NOT_FOUND', 'No call with that id');
    const turns =
      record.status === 'in_progress'
        ? await this.#sessions.turns(callSid)
        : await this.#calls.turns(callSid);
    await this.#audit.record({
      ...who,
      action: 'call.read',
      target: { type: 'call', id: callSid },
      details: { via: who.via, turns: turns.length },
    });
    return callJson(record, turns, await this.timezone());
  }

  async liveCalls(): Promise<LiveCallJson[]> {
    const [sessions, tz] = await Promise.all([this.#sessions.listLive(), this.timezone()]);
    return sessions.map((s) => liveCallJson(s, tz));
  }
}
