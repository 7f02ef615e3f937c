import type { Metrics } from '../platform/metrics';

/** One write of a live call, as the store hands it over (hash fields already encoded, turn encrypted). */
export type SessionWrite =
  | { op: 'create'; fields: string[]; expiresAtMs: number }
  | { op: 'update'; fields: Record<string, string>; collected: Record<string, unknown> | null }
  | { op: 'append'; value: string };

type Op = SessionWrite['op'] | 'delete';
const OPS: readonly Op[] = ['create', 'update', 'append', 'delete'];

/** A call's writes merged for one round trip: create first, then the hash, then the turns in order. */
export interface SessionBatch {
  create: { fields: string[]; expiresAtMs: number } | null;
  fields: Record<string, string>;
  collected: Record<string, unknown> | null;
  turns: string[];
  remove: boolean;
}

/** How the store writes to Redis; the write-behind layer only decides when and in what order. */
export interface WriteIo {
  /** The single write, as the store does it with Redis up (create/update: 1 or 0; append: length). */
  single(callSid: string, write: SessionWrite): Promise<number>;
  /** Idempotent replay of a batch (turns already in the list are not pushed twice): -1 no session. */
  replay(callSid: string, batch: SessionBatch): Promise<number>;
  remove(callSid: string): Promise<void>;
}

export const WRITE_BEHIND_LIMITS = {
  turnsPerCall: 200,
  calls: 1000,
  firstRetryMs: 250,
  maxRetryMs: 5000,
} as const;
export type WriteBehindLimits = { [K in keyof typeof WRITE_BEHIND_LIMITS]: number };

/** What a queued write resolves to: accepted. A queued turn's place in the list is not known yet. */
export const QUEUED = { create: 1, update: 1, append: -1 } as const;

interface Waiter {
  resolve(n: number): void;
  reject(err: unknown): void;
  /** For a turn: how many turns of the batch were queued before it. */
  turn: number | null;
}

interface Pending {
  batch: SessionBatch;
  /** Writes in the batch, and those of them counted as queued (they went through an outage). */
  ops: Record<Op, number>;
  queued: Record<Op, number>;
}

interface Lane {
  callSid: string;
  busy: Promise<unknown> | null;
  /** Failed: waits for the replay timer; the call's new writes join the queue meanwhile. */
  parked: boolean;
  /** Dropped (call ended, lock released, cap): completions of its writes change nothing more. */
  gone: boolean;
  pending: Pending | null;
  waiters: Waiter[];
}

const counts = (): Record<Op, number> => ({ create: 0, update: 0, append: 0, delete: 0 });

/** Redis answered, with an error that a retry would not change; anything else may pass. */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof Error)) return true;
  if (err.name !== 'ReplyError') return true;
  return /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|NOREPLICAS)\b/.test(err.message);
}

/**
 * A live call's session writes go straight to Redis; one that fails for want of Redis is queued in
 * process, with every later write of that call behind it (so an older patch never lands over a
 * newer one, nor a turn before an earlier one), and replayed in order once Redis answers. Writes of
 * one call never overlap: one in flight, the rest merged into the next round trip.
 */
export class SessionWriteBehind {
  readonly #io: WriteIo;
  readonly #metrics: Metrics | undefined;
  readonly #limits: WriteBehindLimits;
  readonly #lanes = new Map<string, Lane>();
  /** Lanes with queued writes, oldest first: the global cap drops from the front. */
  readonly #parked = new Set<Lane>();
  #timer: NodeJS.Timeout | null = null;
  #delayMs: number;
  #closed = false;

  constructor(opts: { io: WriteIo; metrics?: Metrics; limits?: Partial<WriteBehindLimits> }) {
    this.#io = opts.io;
    this.#metrics = opts.metrics;
    this.#limits = { ...WRITE_BEHIND_LIMITS, ...opts.limits };
    this.#delayMs = this.#limits.firstRetryMs;
  }

  /** Calls with queued writes, and their queued turns (for tests and ops). */
  get queuedCalls(): number {
    return this.#parked.size;
  }

  queuedTurns(callSid: string): number {
    return this.#lanes.get(callSid)?.pending?.batch.turns.length ?? 0;
  }

  submit(callSid: string, write: SessionWrite): Promise<number> {
    const lane = this.#lanes.get(callSid);
    if (!lane) return this.#direct(callSid, write);
    // The call has ended here and its keys are being deleted: nothing more is written for it.
    if (lane.pending?.batch.remove) return Promise.resolve(0);
    const turn = this.#add(lane, write, false);
    if (lane.parked) {
      this.#countQueued(lane);
      return Promise.resolve(QUEUED[write.op]);
    }
    return new Promise((resolve, reject) => lane.waiters.push({ resolve, reject, turn }));
  }

  /** Call end: the call's queue is dropped, and its keys deleted now or, Redis down, on replay. */
  async remove(callSid: string): Promise<void> {
    const lane = this.#lanes.get(callSid);
    if (lane) this.#drop(lane, 'call_ended');
    try {
      await this.#io.remove(callSid);
    } catch (err) {
      if (!isTransient(err) || this.#closed || this.#lanes.has(callSid)) throw err;
      const parked = this.#lane(callSid);
      parked.pending = { batch: emptyBatch(), ops: counts(), queued: counts() };
      parked.pending.batch.remove = true;
      parked.pending.ops.delete = 1;
      this.#park(parked);
    }
  }

  /**
   * Before the call's lock is let go: its queued writes are tried once more, so they land before a
   * new holder's; whatever is still queued once the lock is released is dropped, never replayed
   * over the new holder's writes.
   */
  async settle(callSid: string, release: () => Promise<void>): Promise<void> {
    for (let i = 0; i < 3; i++) {
      const lane = this.#lanes.get(callSid);
      if (!lane || lane.gone || lane.pending?.batch.remove) break;
      if (lane.busy) await lane.busy.catch(() => undefined);
      else if (!lane.pending || !(await this.#flush(lane))) break;
    }
    await release();
    const lane = this.#lanes.get(callSid);
    if (lane && !lane.pending?.batch.remove) this.#drop(lane, 'lock_released');
  }

  /** Stops the timer and tries the queue once more: a best effort at shutdown. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await Promise.all([...this.#parked].filter((l) => !l.busy).map((l) => this.#flush(l)));
    for (const lane of [...this.#lanes.values()]) this.#drop(lane, 'closed');
  }

  #lane(callSid: string): Lane {
    const lane: Lane = { callSid, busy: null, parked: false, gone: false, pending: null, waiters: [] };
    this.#lanes.set(callSid, lane);
    return lane;
  }

  /** Nothing queued or in flight for the call: the write goes straight out, as without this layer. */
  #direct(callSid: string, write: SessionWrite): Promise<number> {
    const lane = this.#lane(callSid);
    const sent = this.#io.single(callSid, write);
    lane.busy = sent;
    return sent.then(
      (n) => {
        this.#settled(lane);
        return n;
      },
      (err: unknown) => {
        if (lane.gone || this.#closed || !isTransient(err)) {
          this.#settled(lane);
          throw err;
        }
        lane.busy = null;
        this.#add(lane, write, true);
        this.#park(lane);
        return QUEUED[write.op];
      },
    );
  }

  /** Merges a write into the lane's queue; `first`: it was issued before what is queued already. */
  #add(lane: Lane, write: SessionWrite, first: boolean): number | null {
    const single: Pending = { batch: emptyBatch(), ops: counts(), queued: counts() };
    single.ops[write.op] = 1;
    if (write.op === 'create') single.batch.create = { fields: write.fields, expiresAtMs: write.expiresAtMs };
    else if (write.op === 'update') {
      single.batch.fields = write.fields;
      single.batch.collected = write.collected;
    } else single.batch.turns = [write.value];
    const before = lane.pending;
    lane.pending = !before ? single : first ? merge(single, before) : merge(before, single);
    const turn = write.op === 'append' ? lane.pending.batch.turns.length - 1 : null;
    const over = lane.pending.batch.turns.length - this.#limits.turnsPerCall;
    if (over > 0) {
      // The oldest turns go first; a waiter's turn index is counted from the batch's start.
      lane.pending.batch.turns.splice(0, over);
      lane.pending.ops.append -= over;
      lane.pending.queued.append = Math.max(0, lane.pending.queued.append - over);
      for (const w of lane.waiters) if (w.turn !== null) w.turn -= over;
      this.#metrics?.sessionWritesDropped.inc({ op: 'append', reason: 'call_cap' }, over);
      return turn === null ? null : turn - over;
    }
    return turn;
  }

  #countQueued(lane: Lane): void {
    const p = lane.pending;
    if (!p) return;
    for (const op of OPS) {
      const fresh = p.ops[op] - p.queued[op];
      if (fresh > 0) this.#metrics?.sessionWritesQueued.inc({ op }, fresh);
      p.queued[op] = p.ops[op];
    }
  }

  #park(lane: Lane): void {
    lane.parked = true;
    this.#countQueued(lane);
    // Accepted, not written: whoever waited on these writes goes on.
    for (const w of lane.waiters.splice(0)) w.resolve(w.turn === null ? 1 : QUEUED.append);
    if (!this.#parked.has(lane)) {
      this.#parked.add(lane);
      for (const oldest of this.#parked) {
        if (this.#parked.size <= this.#limits.calls) break;
        if (oldest !== lane) this.#drop(oldest, 'calls_cap');
      }
    }
    this.#metrics?.sessionWriteQueueCalls.set(this.#parked.size);
    this.#schedule();
  }

  /** A write or batch finished: the writes queued behind it go next, or the lane is done. */
  #settled(lane: Lane): void {
    lane.busy = null;
    if (lane.gone) return;
    if (lane.pending && !lane.parked) void this.#flush(lane);
    else if (!lane.pending) this.#forget(lane);
  }

  /** Sends the lane's queue as one round trip. Resolves false when Redis is still unavailable. */
  async #flush(lane: Lane): Promise<boolean> {
    const pending = lane.pending;
    if (!pending || lane.busy || lane.gone) return true;
    lane.pending = null;
    lane.parked = false;
    const waiters = lane.waiters.splice(0);
    const { batch } = pending;
    if (batch.create && batch.create.expiresAtMs <= Date.now()) {
      this.#metrics?.sessionWritesDropped.inc({ op: 'create', reason: 'expired' }, pending.queued.create);
      batch.create = null;
    }
    const sent = batch.remove
      ? this.#io.remove(lane.callSid).then(() => 0)
      : this.#io.replay(lane.callSid, batch);
    lane.busy = sent;
    try {
      const n = await sent;
      for (const op of OPS)
        if (pending.queued[op] > 0) this.#metrics?.sessionWritesReplayed.inc({ op }, pending.queued[op]);
      const last = batch.turns.length - 1;
      for (const w of waiters) w.resolve(n < 0 ? 0 : w.turn === null ? 1 : n - (last - w.turn));
      this.#parked.delete(lane);
      this.#metrics?.sessionWriteQueueCalls.set(this.#parked.size);
      this.#settled(lane);
      return true;
    } catch (err) {
      if (lane.gone || this.#closed || !isTransient(err)) {
        for (const w of waiters) w.reject(err);
        if (!lane.gone) {
          this.#parked.delete(lane);
          const reason = isTransient(err) ? 'closed' : 'rejected';
          for (const op of OPS)
            if (pending.queued[op] > 0)
              this.#metrics?.sessionWritesDropped.inc({ op, reason }, pending.queued[op]);
        }
        this.#settled(lane);
        return isTransient(err) ? false : true;
      }
      lane.busy = null;
      lane.waiters = waiters.concat(lane.waiters);
      lane.pending = lane.pending ? merge(pending, lane.pending) : pending;
      this.#park(lane);
      return false;
    }
  }

  /** Drops the lane's queue: ended call, released lock, cap, or shutdown. */
  #drop(lane: Lane, reason: string): void {
    lane.gone = true;
    const p = lane.pending;
    lane.pending = null;
    if (p) {
      for (const op of OPS)
        if (p.queued[op] > 0) this.#metrics?.sessionWritesDropped.inc({ op, reason }, p.queued[op]);
    }
    for (const w of lane.waiters.splice(0)) w.resolve(0);
    this.#forget(lane);
  }

  #forget(lane: Lane): void {
    if (this.#lanes.get(lane.callSid) === lane) this.#lanes.delete(lane.callSid);
    if (this.#parked.delete(lane)) this.#metrics?.sessionWriteQueueCalls.set(this.#parked.size);
  }

  #schedule(): void {
    if (this.#timer || this.#closed || this.#parked.size === 0) return;
    this.#timer = setTimeout(() => void this.#tick(), this.#delayMs).unref();
  }

  /** One call's queue probes Redis; when it lands, every other queue follows at once. */
  async #tick(): Promise<void> {
    this.#timer = null;
    const ready = [...this.#parked].filter((l) => l.parked && !l.busy);
    const first = ready.shift();
    if (first && !(await this.#flush(first))) {
      this.#delayMs = Math.min(this.#delayMs * 2, this.#limits.maxRetryMs);
    } else {
      this.#delayMs = this.#limits.firstRetryMs;
      await Promise.all(ready.map((l) => this.#flush(l)));
    }
    this.#schedule();
  }
}

function emptyBatch(): SessionBatch {
  return { create: null, fields: {}, collected: null, turns: [], remove: false };
}

/** `a` then `b`: later hash fields and `collected` keys win; turns keep their order. */
function merge(a: Pending, b: Pending): Pending {
  const ops = counts();
  const queued = counts();
  for (const op of OPS) {
    ops[op] = a.ops[op] + b.ops[op];
    queued[op] = a.queued[op] + b.queued[op];
  }
  const collected =
    a.batch.collected || b.batch.collected ? { ...a.batch.collected, ...b.batch.collected } : null;
  return {
    batch: {
      create: a.batch.create ?? b.batch.create,
      fields: { ...a.batch.fields, ...b.batch.fields },
      collected,
      turns: a.batch.turns.concat(b.batch.turns),
      remove: a.batch.remove || b.batch.remove,
    },
    ops,
    queued,
  };
}
