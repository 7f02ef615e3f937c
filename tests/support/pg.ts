import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDb, type Db } from '../../server/platform/postgres';
import { migrate } from '../../server/platform/migrate';
import type { Metrics } from '../../server/platform/metrics';

// Without a user name, pg falls back to $USER, which CI shells may not set: name the default role.
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDb {
  db: Db;
  schema: string;
  searchPath: string;
  /** A second pool on the same schema, for concurrency tests. */
  newDb(max?: number): Db;
  drop(): Promise<void>;
}

/** A fresh schema per test file on the real PostgreSQL, migrated; dropped with everything in it. */
export async function createTestDb(opts: { migrate?: boolean; metrics?: Metrics } = {}): Promise<TestDb> {
  const schema = `t_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const searchPath = `${schema},public`;
  const extra: Db[] = [];
  const db = createDb({
    url: DATABASE_URL,
    searchPath,
    max: 20,
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
  });
  if (opts.migrate !== false) await migrate(db.pool);
  return {
    db,
    schema,
    searchPath,
    newDb(max = 10) {
      const d = createDb({ url: DATABASE_URL, searchPath, max });
      extra.push(d);
      return d;
    },
    async drop() {
      await Promise.all([db, ...extra].map((d) => d.close().catch(() => undefined)));
      const c = new pg.Client({ connectionString: DATABASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}
