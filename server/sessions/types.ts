/** A call's session as it lives in the store (CONTRACT.md § Redis keys). */
export interface Session {
  callSid: string;
  streamSid: string;
  customerId: string;
  state: string;
  intent: string;
  collected: Record<string, unknown>;
  speaking: boolean;
  createdAt: string;
  updatedAt: string;
  owner: string;
}

export type SessionInit = Pick<Session, 'callSid'> &
  Partial<Omit<Session, 'callSid' | 'createdAt' | 'updatedAt'>>;
export type SessionPatch = Partial<Omit<Session, 'callSid' | 'createdAt' | 'updatedAt'>>;

export interface Turn {
  role: 'caller' | 'agent';
  text: string;
  at: string;
  interrupted: boolean;
}

/**
 * Writes of a live call (create, update, appendTurn, delete) never fail for want of Redis: the Redis
 * store queues them in process and replays them in order once it answers (write-behind.ts). A
 * queued create or update resolves true, a queued turn -1 (its place in the list is not known yet).
 */
export interface SessionStore {
  readonly backend: 'redis' | 'memory';
  /** Creates the session hash with the configured TTL. Overwrites nothing if it exists (returns false). */
  create(init: SessionInit): Promise<boolean>;
  get(callSid: string): Promise<Session | null>;
  /**
   * Atomic, one round trip; never changes the TTL; false if the session does not exist (expired).
   * `collected` is merged key by key into what is there, not replaced.
   */
  update(callSid: string, patch: SessionPatch): Promise<boolean>;
  /** Appends an encrypted turn; the list shares the session's expiry. Returns the new length (0: no session). */
  appendTurn(callSid: string, turn: Turn): Promise<number>;
  turns(callSid: string): Promise<Turn[]>;
  delete(callSid: string): Promise<void>;
  /** Per-CallSid lock: true for the first holder only, until released or expired. */
  acquireLock(callSid: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLock(callSid: string, owner: string): Promise<void>;
  /** Whether some stream (on any instance) holds the call's lock now. */
  isLocked(callSid: string): Promise<boolean>;
  /** Sessions of calls in progress, newest first. */
  listLive(limit?: number): Promise<Session[]>;
  /** Remaining TTL of the session in ms (-2 absent), for ops and tests. */
  ttlMs(callSid: string): Promise<number>;
  /** Round trip to the backend, in ms. */
  ping(): Promise<number>;
  close(): Promise<void>;
}

export const SESSION_STATES = {
  ringing: 'ringing',
  connected: 'connected',
  listening: 'listening',
  thinking: 'thinking',
  speaking: 'speaking',
  transferring: 'transferring',
  ending: 'ending',
  ended: 'ended',
} as const;
