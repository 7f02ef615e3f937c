import { BookingRepository } from '../../../server/bookings/repository';
import { CustomerRepository } from '../../../server/customers';
import { seedDemo } from '../../../server/platform/seed';
import { createTestDb, type TestDb } from '../../support/pg';
import { testCipher } from '../../support/keys';

const cipher = testCipher();
let tdb: TestDb;
let customerId: string;

beforeAll(async () => {
  tdb = await createTestDb();
  await seedDemo(tdb.db, cipher);
  const view = await new CustomerRepository(tdb.db, cipher).findViewByPhoneIndex(
    cipher.blindIndex('+13125550142'),
  );
  customerId = view?.id as string;
});
afterAll(async () => {
  await tdb.drop();
});

const slot = (start: string, minutes: number) => ({
  startsAt: new Date(start),
  endsAt: new Date(new Date(start).getTime() + minutes * 60_000),
});

describe('appointments: the database refuses overlaps', () => {
  it('50 parallel bookings of one bay and slot: exactly one succeeds, the rest get SLOT_TAKEN', async () => {
    const repo = new BookingRepository();
    const pools = [tdb.newDb(25), tdb.newDb(25)];
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        (pools[i % 2] ?? tdb.db).tx((q) =>
          repo.insert(q, {
            customerId,
            vehicleId: null,
            serviceCode: 'OIL',
            bayId: 1,
            ...slot('2030-01-07T15:00:00Z', 30),
            source: 'phone',
            callSid: null,
            notesEnc: null,
            idempotencyKey: null,
          }),
        ),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(1);
    expect(failed).toHaveLength(49);
    expect(failed.every((r) => (r.reason as { code?: string }).code === 'SLOT_TAKEN')).toBe(true);
    const { rows } = await tdb.db.query<{ n: string }>(
      "SELECT count(*) AS n FROM appointments WHERE bay_id = 1 AND status = 'booked'",
    );
    expect(Number(rows[0]?.n)).toBe(1);
  });

  it('overlapping but not identical times collide; adjacent ones and other bays do not; cancelled frees the slot', async () => {
    const repo = new BookingRepository();
    const base = {
      customerId,
      vehicleId: null,
      serviceCode: 'BRAKES',
      source: 'staff' as const,
      callSid: null,
      notesEnc: null,
      idempotencyKey: null,
    };
    const first = await tdb.db.tx((q) =>
      repo.insert(q, { ...base, bayId: 2, ...slot('2030-01-08T15:00:00Z', 60) }),
    );
    await expect(
      tdb.db.tx((q) => repo.insert(q, { ...base, bayId: 2, ...slot('2030-01-08T15:30:00Z', 60) })),
    ).rejects.toMatchObject({ code: 'SLOT_TAKEN' });
    await expect(
      tdb.db.tx((q) => repo.insert(q, { ...base, bayId: 2, ...slot('2030-01-08T16:00:00Z', 30) })),
    ).resolves.toBeDefined();
    await expect(
      tdb.db.tx((q) => repo.insert(q, { ...base, bayId: 3, ...slot('2030-01-08T15:00:00Z', 60) })),
    ).resolves.toBeDefined();
    await tdb.db.query("UPDATE appointments SET status = 'cancelled' WHERE id = $1", [first.row.id]);
    await expect(
      tdb.db.tx((q) => repo.insert(q, { ...base, bayId: 2, ...slot('2030-01-08T15:00:00Z', 60) })),
    ).resolves.toBeDefined();
  });

  it('an idempotency key books once', async () => {
    const repo = new BookingRepository();
    const a = {
      customerId,
      vehicleId: null,
      serviceCode: 'OIL',
      bayId: 4,
      ...slot('2030-01-09T15:00:00Z', 30),
      source: 'phone' as const,
      callSid: 'CA1',
      notesEnc: null,
      idempotencyKey: 'CA1:book:abc',
    };
    const [x, y] = await Promise.all(
      [tdb.db.tx((q) => repo.insert(q, a)), tdb.db.tx((q) => repo.insert(q, a))].map((p) =>
        p.catch((e: unknown) => e),
      ),
    );
    const ids = [x, y].map((r) => (r as { row?: { id: string } }).row?.id).filter(Boolean);
    expect(new Set(ids).size).toBe(1);
  });
});
