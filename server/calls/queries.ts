/**
 * The read side of call records for staff: lists by time range and one call with its transcript
 * (decrypted here, so callers never see ciphertext). Writes stay in repository.ts.
 */
import type { Db } from '../platform/postgres';
import type { PiiCipher } from '../platform/crypto';
import type { CallLatency } from './repository';

export const CALL_OUTCOMES = [
  'booked',
  'rescheduled',
  'cancelled',
  'info',
  'transferred',
  'message',
  'abandoned',
  'failed',
] as const;
export type CallOutcome = (typeof CALL_OUTCOMES)[number];

export interface CallRecord {
  callSid: string;
  status: 'in_progress' | 'completed';
  startedAt: Date;
  endedAt: Date | null;
  fromMasked: string | null;
  customerId: string | null;
  outcome: CallOutcome | null;
  latency: CallLatency[];
  turnCount: number;
}

export interface StoredTurn {
  role: 'caller' | 'agent';
  text: string;
  at: Date;
  interrupted: boolean;
}

interface Row {
  call_sid: string;
  status: 'in_progress' | 'completed';
  started_at: Date;
  ended_at: Date | null;
  from_masked: string | null;
  customer_id: string | null;
  outcome: CallOutcome | null;
  latency: unknown;
  turn_count: number;
}

const LATENCY_KEYS = ['sttMs', 'llmFirstTokenMs', 'ttsFirstByteMs', 'firstFrameMs', 'totalMs'] as const;

/** Exactly the contract's keys, numbers rounded to 0.1 ms, anything else null. */
export function normalizeLatency(raw: unknown): CallLatency[] {
  if (!Array.isArray(raw)) return [];
  return raw.map((entry: unknown) => {
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    const out = {} as CallLatency;
    for (const k of LATENCY_KEYS) {
      const v = e[k];
      out[k] = typeof v === 'number' && Number.isFinite(v) ? Math.round(v * 10) / 10 : null;
    }
    return out;
  });
}

const COLUMNS = `c.call_sid, c.status, c.started_at, c.ended_at, c.from_masked, c.customer_id, c.outcome,
       c.latency, (SELECT count(*)::int FROM call_turns t WHERE t.call_sid = c.call_sid) AS turn_count`;
const SELECT = `SELECT ${COLUMNS} FROM calls c`;

// started_at to the microsecond: a JavaScript Date keeps milliseconds only, and a page boundary
// rounded to them would skip or repeat calls that rang within the same millisecond.
const PAGE = `SELECT ${COLUMNS},
       to_char(c.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS started_key
  FROM calls c
 WHERE c.started_at >= $1 AND c.started_at < $2
   AND ($4::timestamptz IS NULL OR c.started_at < $4 OR (c.started_at = $4 AND c.call_sid > $5))
 ORDER BY c.started_at DESC, c.call_sid
 LIMIT $3`;

/**
 * Where a page of calls ends, in list order (newest first, then by CallSid): the last call's
 * started_at, exact to the microsecond in UTC (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), and its CallSid.
 */
export interface CallCursor {
  startedAt: string;
  callSid: string;
}

export interface CallPage {
  records: CallRecord[];
  /** Where the next page starts; null when this page holds the last call of the range. */
  next: CallCursor | null;
}

function toRecord(r: Row): CallRecord {
  return {
    callSid: r.call_sid,
    status: r.status,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    fromMasked: r.from_masked,
    customerId: r.customer_id,
    outcome: r.outcome,
    latency: normalizeLatency(r.latency),
    turnCount: r.turn_count,
  };
}

export class CallQueries {
  readonly #db: Db;
  readonly #cipher: PiiCipher;

  constructor(db: Db, cipher: PiiCipher) {
    this.#db = db;
    this.#cipher = cipher;
  }

  /** Calls that rang in [from, to), newest first: at most `limit` of them, after `after` when given. */
  async page(from: Date, to: Date, limit: number, after?: CallCursor): Promise<CallPage> {
    // One row more than asked says whether another page exists.
    const { rows } = await this.#db.query<Row & { started_key: string }>(PAGE, [
      from,
      to,
      limit + 1,
      after?.startedAt ?? null,
      after?.callSid ?? null,
    ]);
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    const last = page.at(-1);
    return {
      records: page.map(toRecord),
      next: more && last ? { startedAt: last.started_key, callSid: last.call_sid } : null,
    };
  }

  async get(callSid: string): Promise<CallRecord | null> {
    const { rows } = await this.#db.query<Row>(`${SELECT} WHERE c.call_sid = $1`, [callSid]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /** Transcripts of several calls in one query, decrypted, each in order. */
  async turnsOf(callSids: readonly string[]): Promise<Map<string, StoredTurn[]>> {
    const out = new Map<string, StoredTurn[]>(callSids.map((sid) => [sid, []]));
    if (callSids.length === 0) return out;
    const { rows } = await this.#db.query<{
      call_sid: string;
      role: 'caller' | 'agent';
      text_enc: string;
      at: Date;
      interrupted: boolean;
    }>(
      'SELECT call_sid, role, text_enc, at, interrupted FROM call_turns WHERE call_sid = ANY($1) ORDER BY call_sid, seq',
      [callSids],
    );
    for (const r of rows) {
      out.get(r.call_sid)?.push({
        role: r.role,
        text: this.#cipher.decrypt(r.text_enc),
        at: r.at,
        interrupted: r.interrupted,
      });
    }
    return out;
  }

  /** The stored transcript (written when the call ends), decrypted, in order. */
  async turns(callSid: string): Promise<StoredTurn[]> {
    const { rows } = await this.#db.query<{
      role: 'caller' | 'agent';
      text_enc: string;
      at: Date;
      interrupted: boolean;
    }>('SELECT role, text_enc, at, interrupted FROM call_turns WHERE call_sid = $1 ORDER BY seq', [callSid]);
    return rows.map((r) => ({
      role: r.role,
      text: this.#cipher.decrypt(r.text_enc),
      at: r.at,
      interrupted: r.interrupted,
    }));
  }
}
