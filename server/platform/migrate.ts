import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { AppError } from './errors';

export const LOCK_KEY = 7_411_202_611; // pg_advisory_lock key shared by every migrator of this product

export interface MigrationResult {
  applied: string[];
  skipped: string[];
}

/** The longest timer Node keeps (≈ 24.8 days): pg takes 0 for "the pool's default". */
const NO_QUERY_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Applies numbered SQL files in order, each in its own transaction, under a session advisory lock,
 * so two migrators at once are safe: the second waits, then finds nothing left to do.
 */
export async function migrate(pool: pg.Pool, dir = resolveDir()): Promise<MigrationResult> {
  const files = (await readdir(dir)).filter((f) => /^\d{3}_.+\.sql$/.test(f)).sort();
  const pooled = await pool.connect();
  // The pool's query timeout is for the product's short queries: waiting on another migrator's
  // lock, or a migration over a large table, may take longer.
  const client = {
    query: <R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> =>
      // query_timeout per query is read by pg's client; @types/pg does not list it.
      pooled.query<R>({ text, values, query_timeout: NO_QUERY_TIMEOUT_MS } as pg.QueryConfig),
  };
  try {
    // Nor the server's statement timeout (the pool's connections may carry one); reset below.
    await client.query('SET statement_timeout = 0');
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Map(
      (
        await client.query<{ version: string; checksum: string }>(
          'SELECT version, checksum FROM schema_migrations',
        )
      ).rows.map((r) => [r.version, r.checksum]),
    );
    const result: MigrationResult = { applied: [], skipped: [] };
    for (const file of files) {
      const sql = await readFile(path.join(dir, file), 'utf8');
      const checksum = createHash('sha256').update(sql).digest('hex');
      const prior = done.get(file);
      if (prior !== undefined) {
        if (prior !== checksum)
          throw new AppError('MIGRATION_CHANGED', `Migration ${file} was edited after it was applied`);
        result.skipped.push(file);
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)', [
          file,
          checksum,
        ]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
      result.applied.push(file);
    }
    return result;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    const reset = await client.query('RESET statement_timeout').then(
      () => true,
      () => false,
    );
    // A connection whose settings could not be put back is not handed out again.
    pooled.release(!reset || undefined);
  }
}

/** The SQL lives in <root>/infra/migrations, whether this runs from server/ or from dist/server/. */
export function resolveDir(): string {
  const fromSource = path.resolve(__dirname, '../../infra/migrations');
  return fromSource.includes(`${path.sep}dist${path.sep}`)
    ? path.resolve(__dirname, '../../../infra/migrations')
    : fromSource;
}
