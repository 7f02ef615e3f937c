/** The API's shapes (CONTRACT.md § Routes), built from records; pages render the same shapes. */
import { formatIsoOffset } from '../bookings/time';
import type { CallRecord } from '../calls/queries';
import type { CallLatency } from '../calls';
import type { Session } from '../sessions';

export interface CallTurnJson {
  role: 'caller' | 'agent';
  text: string;
  at: string;
  interrupted: boolean;
}

export interface CallSummaryJson {
  callSid: string;
  status: 'in_progress' | 'completed';
  startedAt: string;
  endedAt: string | null;
  fromMasked: string | null;
  customerId: string | null;
  outcome: CallRecord['outcome'];
  latency: CallLatency[];
  turnCount: number;
}

export interface CallJson {
  callSid: string;
  status: 'in_progress' | 'completed';
  startedAt: string;
  endedAt: string | null;
  fromMasked: string | null;
  customerId: string | null;
  outcome: CallRecord['outcome'];
  turns: CallTurnJson[];
  latency: CallLatency[];
}

export interface LiveCallJson {
  callSid: string;
  state: string;
  intent: string | null;
  customerKnown: boolean;
  speaking: boolean;
  startedAt: string | null;
  updatedAt: string | null;
}

function iso(d: Date | string | null, tz: string): string | null {
  if (d === null) return null;
  const date = typeof d === 'string' ? new Date(d) : d;
  return Number.isNaN(date.getTime()) ? null : formatIsoOffset(date, tz);
}

/** The fields every call shape starts with, in CONTRACT.md's order. */
function callHead(r: CallRecord, tz: string) {
  return {
    callSid: r.callSid,
    status: r.status,
    startedAt: iso(r.startedAt, tz) as string,
    endedAt: iso(r.endedAt, tz),
    fromMasked: r.fromMasked,
    customerId: r.customerId,
    outcome: r.outcome,
  };
}

export function callSummaryJson(r: CallRecord, tz: string): CallSummaryJson {
  return { ...callHead(r, tz), latency: r.latency, turnCount: r.turnCount };
}

export function callJson(
  r: CallRecord,
  turns: Array<{ role: 'caller' | 'agent'; text: string; at: Date | string; interrupted: boolean }>,
  tz: string,
): CallJson {
  return {
    ...callHead(r, tz),
    turns: turns.map((t) => ({
      role: t.role,
      text: t.text,
      at: iso(t.at, tz) ?? String(t.at),
      interrupted: t.interrupted,
    })),
    latency: r.latency,
  };
}

/** Only what the session store holds that is not personal: no number, no name. */
export function liveCallJson(s: Session, tz: string): LiveCallJson {
  return {
    callSid: s.callSid,
    state: s.state,
    intent: s.intent || null,
    customerKnown: Boolean(s.customerId),
    speaking: s.speaking,
    startedAt: iso(s.createdAt || null, tz),
    updatedAt: iso(s.updatedAt || null, tz),
  };
}
