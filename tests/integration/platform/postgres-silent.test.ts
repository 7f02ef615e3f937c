/**
 * A PostgreSQL that is connected but silent (a black-holed network, a stuck failover), through a
 * TCP proxy that holds every byte: queries and transactions fail within the query timeout instead
 * of hanging, the connections they held are not handed out again, and once the server answers the
 * same pool works. Migrations are exempt: waiting on another migrator's lock may take longer.
 */
import pg from 'pg';
import { createDb, type Db } from '../../../server/platform/postgres';
import { LOCK_KEY, migrate } from '../../../server/platform/migrate';
import { RedisProxy } from '../../support/tcp-proxy';
import { DATABASE_URL } from '../../support/pg';

jest.setTimeout(30_000);

let proxy: RedisProxy;
let db: Db;
let url: string;

beforeAll(async () => {
  const target = new URL(DATABASE_URL);
  // The proxy is plain TCP: it serves PostgreSQL as well as Redis.
  proxy = new RedisProxy({ host: target.hostname, port: Number(target.port || 5432) });
  const port = new URL(await proxy.listen()).port;
  const u = new URL(DATABASE_URL);
  u.hostname = '127.0.0.1';
  u.port = port;
  url = u.toString();
  db = createDb({ url, max: 2, queryTimeoutMs: 300 });
});
afterAll(async () => {
  proxy.thaw();
  await db.close().catch(() => undefined);
  await proxy.close();
});

describe('PostgreSQL connected but silent', () => {
  it('queries and transactions fail within the timeout; the held connections are discarded', async () => {
    // Two connections, both established before the silence.
    await Promise.all([db.query('SELECT pg_sleep(0.05)'), db.query('SELECT pg_sleep(0.05)')]);
    expect(db.pool.totalCount).toBe(2);
    proxy.freeze();
    const started = performance.now();
    await expect(db.query('SELECT 1')).rejects.toThrow(/timeout/i);
    await expect(db.tx((q) => q.query('SELECT 1'))).rejects.toThrow(/timeout/i);
    // The query, then the transaction's BEGIN and its ROLLBACK: each waits 300 ms at most.
    expect(performance.now() - started).toBeLessThan(2_000);
    // Neither connection went back to the pool to hang the next query.
    expect(db.pool.idleCount).toBe(0);
    proxy.thaw();
    // The server answers again: the same pool opens fresh connections and works.
    const { rows } = await db.query<{ n: number }>('SELECT 1 AS n');
    expect(rows).toEqual([{ n: 1 }]);
    expect(await db.tx(async (q) => (await q.query<{ n: number }>('SELECT 2 AS n')).rows[0]?.n)).toBe(2);
  });

  it("a slow statement is ended by the server's statement timeout, before the client's", async () => {
    const slow = createDb({ url: DATABASE_URL, max: 1, queryTimeoutMs: 5_000, statementTimeoutMs: 200 });
    try {
      const started = performance.now();
      // 57014: canceling statement due to statement timeout, from the server.
      await expect(slow.query('SELECT pg_sleep(2)')).rejects.toMatchObject({ code: '57014' });
      expect(performance.now() - started).toBeLessThan(1_500);
      expect((await slow.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
    } finally {
      await slow.close();
    }
  });

  it('a migration waiting longer than the query and statement timeouts on another migrator is not cut off', async () => {
    const schema = `t_silent_${process.pid}`;
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    const scoped = createDb({
      url,
      max: 2,
      queryTimeoutMs: 600,
      statementTimeoutMs: 200,
      searchPath: `${schema},public`,
    });
    // Another migrator holds the lock for 800 ms: longer than either of the pool's timeouts.
    const other = new pg.Client({ connectionString: DATABASE_URL });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
      const release = setTimeout(() => void other.query('SELECT pg_advisory_unlock_all()'), 800);
      const result = await migrate(scoped.pool);
      clearTimeout(release);
      expect(result.applied.length).toBeGreaterThan(0);
      // The pool's connections keep the server's statement timeout after the migration.
      await expect(scoped.query('SELECT pg_sleep(1)')).rejects.toMatchObject({ code: '57014' });
    } finally {
      await other.end();
      await scoped.close();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  });
});
