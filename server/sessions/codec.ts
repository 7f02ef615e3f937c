import { ValidationError } from '../platform/errors';
import type { PiiCipher } from '../platform/crypto';
import type { Session, SessionInit, SessionPatch, Turn } from './types';

/** Hash field values are strings in Redis; this is the one place that converts both ways. */
/** Every contract field exists from ring time, so readers never meet a half-shaped hash. */
export const SESSION_DEFAULTS = {
  streamSid: '',
  customerId: '',
  state: 'ringing',
  intent: '',
  collected: {},
  speaking: false,
  owner: '',
};

export function toHash(fields: SessionPatch | SessionInit): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    if (k === 'collected') out[k] = JSON.stringify(v);
    else if (k === 'speaking') out[k] = v ? '1' : '0';
    else out[k] = String(v);
  }
  return out;
}

export function fromHash(h: Record<string, string>): Session | null {
  if (!h.callSid) return null;
  let collected: Record<string, unknown> = {};
  try {
    collected = h.collected ? (JSON.parse(h.collected) as Record<string, unknown>) : {};
  } catch {
    collected = {};
  }
  return {
    callSid: h.callSid,
    streamSid: h.streamSid ?? '',
    customerId: h.customerId ?? '',
    state: h.state ?? '',
    intent: h.intent ?? '',
    collected,
    speaking: h.speaking === '1',
    createdAt: h.createdAt ?? '',
    updatedAt: h.updatedAt ?? '',
    owner: h.owner ?? '',
  };
}

export function encodeTurn(cipher: PiiCipher, turn: Turn): string {
  return cipher.encrypt(JSON.stringify(turn));
}

export function decodeTurn(cipher: PiiCipher, value: string): Turn {
  return JSON.parse(cipher.decrypt(value)) as Turn;
}

/** CONTRACT.md key names. The braces are Redis Cluster hash tags: one slot per call. */
export function callKeys(prefix: string, callSid: string) {
  const base = `${prefix}call:{${callSid}}`;
  return { session: base, turns: `${base}:turns`, lock: `${base}:lock` };
}

export const liveIndexKey = (prefix: string) => `${prefix}calls:live`;

/** Twilio SIDs are alphanumeric; anything else (braces, colons, spaces) never reaches a key name. */
export function assertCallSid(callSid: string): void {
  if (!/^[A-Za-z0-9]{2,64}$/.test(callSid)) throw new ValidationError('INVALID_CALL_SID', 'Invalid CallSid');
}
