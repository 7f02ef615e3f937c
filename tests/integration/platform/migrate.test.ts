import { migrate } from '../../../server/platform/migrate';
import { createTestDb, type TestDb } from '../../support/pg';

let tdb: TestDb;
beforeAll(async () => {
  tdb = await createTestDb({ migrate: false });
});
afterAll(async () => {
  await tdb.drop();
});

describe('migrations', () => {
  it('are safe to run concurrently and idempotent afterwards', async () => {
    const other = tdb.newDb(2);
    const [a, b] = await Promise.all([migrate(tdb.db.pool), migrate(other.pool)]);
    // One migrator applied everything; the other waited on the advisory lock, then found nothing to do.
    expect([a.applied.length, b.applied.length].sort()).toEqual([0, 1]);
    const again = await migrate(tdb.db.pool);
    expect(again.applied).toEqual([]);
    expect(again.skipped).toEqual(['001_init.sql']);
    const { rows } = await tdb.db.query<{ n: string }>('SELECT count(*) AS n FROM schema_migrations');
    expect(Number(rows[0]?.n)).toBe(1);
    const tables = await tdb.db.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1',
      [tdb.schema],
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining([
        'customers',
        'vehicles',
        'service_types',
        'bays',
        'appointments',
        'calls',
        'call_turns',
        'staff_users',
        'api_keys',
        'audit_log',
      ]),
    );
  });

  it('keeps the audit log append-only', async () => {
    await tdb.db.query("INSERT INTO audit_log (actor_type, action) VALUES ('system', 'test')");
    await expect(tdb.db.query('DELETE FROM audit_log')).rejects.toThrow(/append-only/);
    await expect(tdb.db.query("UPDATE audit_log SET action = 'x'")).rejects.toThrow(/append-only/);
  });
});
