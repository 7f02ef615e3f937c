/**
 * DEALERSHIP_TIMEZONE: set, it is the dealership's zone whatever the row says (and seeding writes
 * it there); unset, the row's zone holds. Slots and stored times follow that zone.
 */
import { BookingService } from '../../../server/bookings';
import { addDays, formatLocalDate, localToUtc, weekdayOf } from '../../../server/bookings/time';
import { CustomerDirectory, CustomerRepository } from '../../../server/customers';
import { MemoryKv } from '../../../server/platform/kv';
import { seedDemo } from '../../../server/platform/seed';
import { warnOnZoneMismatch } from '../../../server/voice';
import { createTestDb, type TestDb } from '../../support/pg';
import { testCipher } from '../../support/keys';

const cipher = testCipher();
let tdb: TestDb;

// A Tuesday a week or more ahead, so every slot of the day is in the future in any US zone.
const TUE = (() => {
  let d = addDays(formatLocalDate(new Date(), 'America/Chicago'), 7);
  while (weekdayOf(d) !== 'tue') d = addDays(d, 1);
  return d;
})();

function service(timezone?: string): BookingService {
  const customerRepo = new CustomerRepository(tdb.db, cipher);
  return new BookingService({
    db: tdb.db,
    cipher,
    customers: new CustomerDirectory({ repo: customerRepo, kv: new MemoryKv(), cipher, ttlSeconds: 300 }),
    customerRepo,
    ...(timezone ? { timezone } : {}),
  });
}

async function rowZone(): Promise<string> {
  const { rows } = await tdb.db.query<{ timezone: string }>('SELECT timezone FROM dealership WHERE id = 1');
  return rows[0]?.timezone as string;
}

beforeAll(async () => {
  tdb = await createTestDb();
});
afterAll(async () => {
  await tdb.drop();
});

describe('the dealership time zone', () => {
  it('seeding writes DEALERSHIP_TIMEZONE, or the demo zone without it, and the row holds when unset', async () => {
    await seedDemo(tdb.db, cipher, { timezone: 'America/New_York' });
    expect(await rowZone()).toBe('America/New_York');
    expect((await service().dealership()).timezone).toBe('America/New_York');

    await seedDemo(tdb.db, cipher);
    expect(await rowZone()).toBe('America/Chicago');
    expect((await service().dealership()).timezone).toBe('America/Chicago');
  });

  it('set, it wins over the row: hours, stored times and facts are in its zone', async () => {
    await seedDemo(tdb.db, cipher);
    const denver = service('America/Denver');
    expect((await denver.dealership()).timezone).toBe('America/Denver');

    const slots = (await denver.findAvailability('OIL', TUE, 'any')).slots.map((s) => s.startsAt);
    expect(slots[0]).toBe(`${TUE}T07:00`);
    const customer = await new CustomerRepository(tdb.db, cipher).findViewByPhoneIndex(
      cipher.blindIndex('+13125550142'),
    );
    const { appointment } = await denver.book({
      customerId: customer?.id as string,
      serviceCode: 'OIL',
      startsAt: `${TUE}T07:00`,
      source: 'staff',
    });
    const { rows } = await tdb.db.query<{ starts_at: Date }>(
      'SELECT starts_at FROM appointments WHERE id = $1',
      [appointment.id],
    );
    // 07:00 in Denver, one hour after 07:00 in Chicago.
    expect(rows[0]?.starts_at.toISOString()).toBe(localToUtc(`${TUE}T07:00`, 'America/Denver').toISOString());
    expect(rows[0]?.starts_at.getTime()).toBe(
      localToUtc(`${TUE}T07:00`, 'America/Chicago').getTime() + 3_600_000,
    );
    // The row is not rewritten by a service's zone.
    expect(await rowZone()).toBe('America/Chicago');
  });

  it('set and unlike the row, the start says so; like it, or unset, nothing is said', async () => {
    await seedDemo(tdb.db, cipher);
    const warned: unknown[] = [];
    const log = { warn: (...args: unknown[]) => void warned.push(args) } as never;
    await warnOnZoneMismatch('America/Denver', tdb.db, log);
    expect(warned).toEqual([
      [
        { dealershipRow: 'America/Chicago', DEALERSHIP_TIMEZONE: 'America/Denver' },
        'DEALERSHIP_TIMEZONE differs from the dealership row; DEALERSHIP_TIMEZONE holds',
      ],
    ]);
    await warnOnZoneMismatch('America/Chicago', tdb.db, log);
    await warnOnZoneMismatch(undefined, tdb.db, log);
    expect(warned).toHaveLength(1);
  });
});
