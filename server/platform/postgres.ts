import pg from 'pg';
import type { Metrics } from './metrics';
import { AppError } from './errors';
import { within } from './within';

export type Row = Record<string, unknown>;

export interface QueryResult<R> {
  rows: R[];
  rowCount: number | null;
}

export interface Queryable {
  query<R = Row>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
}

/**
 * The database as the rest of the product sees it: timed queries and transactions that retry on
 * serialization failures and deadlocks. Never run a pool query while holding a transaction: the
 * embedded PGlite multiplexes one session, and it would wait on itself.
 */
export class Db implements Queryable {
  readonly pool: pg.Pool;
  readonly #metrics: Metrics | undefined;

  constructor(pool: pg.Pool, metrics?: Metrics) {
    this.pool = pool;
    this.#metrics = metrics;
  }

  async query<R = Row>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    const end = this.#metrics?.dbLatency.startTimer();
    try {
      return (await this.pool.query(text, params as unknown[] | undefined)) as unknown as QueryResult<R>;
    } finally {
      end?.();
    }
  }

  /** Runs `fn` in a transaction; retries it on 40001/40P01 with jittered backoff. */
  async tx<T>(
    fn: (q: Queryable) => Promise<T>,
    opts: { isolation?: 'serializable' | 'read committed'; attempts?: number } = {},
  ): Promise<T> {
    const attempts = opts.attempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      const end = this.#metrics?.dbLatency.startTimer();
      let broken = false;
      try {
        await client.query(
          opts.isolation === 'serializable' ? 'BEGIN ISOLATION LEVEL SERIALIZABLE' : 'BEGIN',
        );
        const result = await fn(client as unknown as Queryable);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        // A connection that cannot even roll back (timed out, dropped) is not given back to the
        // pool for the next caller to hang on: released with an error, the pool discards it.
        broken = await client.query('ROLLBACK').then(
          () => false,
          () => true,
        );
        if (isRetryableTxError(err) && attempt < attempts) {
          await sleep(5 * 2 ** attempt * Math.random());
          continue;
        }
        throw err;
      } finally {
        end?.();
        client.release(broken || undefined);
      }
    }
  }

  async ping(timeoutMs: number): Promise<number> {
    const started = performance.now();
    await withTimeout(this.query('SELECT 1'), timeoutMs, 'DB_TIMEOUT');
    return performance.now() - started;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * The pool every query goes through. A query gets `queryTimeoutMs` (10 s) to answer: a PostgreSQL
 * that is connected but silent (a black-holed network, a stuck failover) otherwise holds the
 * query, its caller and its pooled connection until TCP gives up, minutes later, and ten such
 * queries leave the pool with nothing to hand out. Timed out, the connection is discarded. Keep-
 * alive probes after 10 s idle find a dead peer of an idle connection. The client's timeout sends
 * no cancel: `statementTimeoutMs` (set by runtime.ts for a real PostgreSQL, 9.5 s) makes the server
 * end a slow statement itself, with its transaction and its locks, just before the client gives up.
 */
export function createDb(opts: {
  url: string;
  max?: number;
  searchPath?: string;
  metrics?: Metrics;
  queryTimeoutMs?: number;
  statementTimeoutMs?: number;
}): Db {
  const options = [
    ...(opts.searchPath ? [`-c search_path=${opts.searchPath}`] : []),
    ...(opts.statementTimeoutMs ? [`-c statement_timeout=${opts.statementTimeoutMs}`] : []),
  ].join(' ');
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30000,
    query_timeout: opts.queryTimeoutMs ?? 10_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    ...(options ? { options } : {}),
  });
  // An idle client's error (server restart) must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  return new Db(pool, opts.metrics);
}

export function pgErrorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

export function isRetryableTxError(err: unknown): boolean {
  const code = pgErrorCode(err);
  return code === '40001' || code === '40P01';
}

export function withTimeout<T>(promise: Promise<T>, ms: number, code: string): Promise<T> {
  return within(
    promise,
    ms,
    () => new AppError(code, `Timed out after ${ms} ms`, { statusCode: 503, retryable: true }),
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
