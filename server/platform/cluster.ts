/**
 * One server process per core (WORKERS > 1). Node's cluster primary accepts connections and hands
 * them to the workers in turn; it runs no call itself. It keeps what no worker sees alone:
 * - which worker took each ring. Twilio's stream URL is fixed and carries no query, so the media
 *   stream may land on another worker; that worker claims the call, and the greeting prepared at
 *   ring time is relayed here instead of being synthesised again;
 * - the metrics of all workers, aggregated, for whichever worker a scrape reaches;
 * - how many calls each worker holds, so each admits against the whole server's limit;
 * - shutdown: a signal to the primary drains every worker once.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from './logger';

/** Every message of ours carries a type with this prefix; prom-client's have their own. */
export const MESSAGE_PREFIX = 'bayline:';

export interface RoutedMessage {
  type: string;
  id?: number;
  /** The worker a relayed message is for. */
  to?: number;
  callSid?: string;
  /** The rest (a call's facts, an audio chunk) is relayed untouched. */
  [field: string]: unknown;
}

export interface WorkerPort {
  send(msg: object): void;
}

/**
 * How long to wait before replacing a worker that died: 1 s, then twice as long for each worker
 * in a row that died within 10 s of its start (a crash at start-up would otherwise loop every
 * second), up to 30 s. A worker that lived longer starts the count again.
 */
export class RestartBackoff {
  static readonly BASE_MS = 1_000;
  static readonly MAX_MS = 30_000;
  static readonly HEALTHY_MS = 10_000;
  #youngDeaths = 0;

  next(livedMs: number): number {
    if (livedMs >= RestartBackoff.HEALTHY_MS) this.#youngDeaths = 0;
    const delay = Math.min(RestartBackoff.MAX_MS, RestartBackoff.BASE_MS * 2 ** this.#youngDeaths);
    this.#youngDeaths++;
    return delay;
  }
}

/** In a worker: answer the primary's metric requests from this registry (prom-client's protocol). */
export function exposeWorkerMetrics(registry: Registry): void {
  AggregatorRegistry.setRegistries(registry);
  // Constructing one installs prom-client's worker-side listener.
  new AggregatorRegistry();
}

/**
 * The primary's message routing, apart from processes so it can be tested. Rings are recorded
 * against the worker that took them; a claim goes to that worker, and its answer and greeting
 * audio are relayed back to the claimant.
 */
export class ClusterRouter {
  readonly #workers = new Map<number, WorkerPort>();
  readonly #owners = new Map<string, number>();
  /** Calls each worker holds (ringing or streaming), as it last reported. */
  readonly #active = new Map<number, number>();
  readonly #metrics: () => Promise<string>;

  constructor(opts: { metrics: () => Promise<string> }) {
    this.#metrics = opts.metrics;
  }

  /** Calls rung on a worker and not yet streaming or gone. */
  get ringing(): number {
    return this.#owners.size;
  }

  add(id: number, port: WorkerPort): void {
    this.#workers.set(id, port);
  }

  /** A worker has exited: its rings and calls are gone with it. */
  remove(id: number): void {
    this.#workers.delete(id);
    for (const [sid, owner] of this.#owners) if (owner === id) this.#owners.delete(sid);
    if (this.#active.delete(id)) this.#tellActive();
  }

  broadcast(msg: object): void {
    for (const port of this.#workers.values()) port.send(msg);
  }

  receive(from: number, msg: RoutedMessage): void {
    switch (msg.type) {
      case 'bayline:ring':
        if (msg.callSid) this.#owners.set(msg.callSid, from);
        return;
      case 'bayline:gone':
        if (msg.callSid && this.#owners.get(msg.callSid) === from) this.#owners.delete(msg.callSid);
        return;
      case 'bayline:claim': {
        const owner = msg.callSid === undefined ? undefined : this.#owners.get(msg.callSid);
        const port = owner === undefined || owner === from ? undefined : this.#workers.get(owner);
        if (port) port.send({ ...msg, from });
        else this.#workers.get(from)?.send({ type: 'bayline:claimed', id: msg.id, call: null });
        return;
      }
      case 'bayline:claimed':
      case 'bayline:audio':
      case 'bayline:audio-end':
        if (msg.to !== undefined) this.#workers.get(msg.to)?.send(msg);
        return;
      case 'bayline:active':
        if (typeof msg.active !== 'number') return;
        this.#active.set(from, msg.active);
        this.#tellActive();
        return;
      case 'bayline:metrics':
        void this.#metrics().then(
          (text) => this.#workers.get(from)?.send({ type: 'bayline:metrics', id: msg.id, text }),
          () => this.#workers.get(from)?.send({ type: 'bayline:metrics', id: msg.id, text: null }),
        );
        return;
      default:
    }
  }

  /** Tells each worker how many calls the others hold. */
  #tellActive(): void {
    let total = 0;
    for (const n of this.#active.values()) total += n;
    for (const [id, port] of this.#workers)
      port.send({ type: 'bayline:others-active', active: total - (this.#active.get(id) ?? 0) });
  }
}

/**
 * Runs the primary: forks `workers` copies of this program, restarts one that dies, and on
 * SIGTERM or SIGINT asks each to drain once (the signal may reach the workers too, from systemd's
 * control group or the terminal; they ignore it and wait for this message, so no worker sees a
 * second signal and exits mid-call).
 */
export function runPrimary(opts: { workers: number; logger: Logger; drainTimeoutMs: number }): void {
  const { logger } = opts;
  // Buffers (greeting audio) cross the channel as bytes, not as JSON arrays of numbers.
  cluster.setupPrimary({ serialization: 'advanced' });
  const aggregator = new AggregatorRegistry();
  const router = new ClusterRouter({ metrics: () => aggregator.clusterMetrics() });
  let stopping = false;
  const backoff = new RestartBackoff();
  const startedAt = new Map<number, number>();

  const fork = (): Worker => {
    const worker = cluster.fork();
    startedAt.set(worker.id, Date.now());
    router.add(worker.id, { send: (msg) => worker.isConnected() && worker.send(msg) });
    worker.on('message', (msg: RoutedMessage) => {
      if (typeof msg === 'object' && msg !== null && msg.type?.startsWith(MESSAGE_PREFIX))
        router.receive(worker.id, msg);
    });
    return worker;
  };

  cluster.on('exit', (worker, code, signal) => {
    router.remove(worker.id);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        logger.info('all workers stopped');
        process.exit(0);
      }
      return;
    }
    const delayMs = backoff.next(Date.now() - (startedAt.get(worker.id) ?? 0));
    startedAt.delete(worker.id);
    logger.error({ worker: worker.id, code, signal, restartInMs: delayMs }, 'worker died; starting another');
    // Not unref'd: when every worker has died, this timer is what keeps the primary alive.
    setTimeout(() => {
      if (!stopping) fork();
    }, delayMs);
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: opts.workers }, 'shutting down: draining workers');
    router.broadcast({ type: 'bayline:drain' });
    setTimeout(() => {
      logger.error('workers did not stop in time');
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      process.exit(1);
    }, opts.drainTimeoutMs).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  for (let i = 0; i < opts.workers; i++) fork();
  logger.info({ workers: opts.workers }, 'cluster primary started');
}
