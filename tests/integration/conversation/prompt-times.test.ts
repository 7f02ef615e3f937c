import { BookingService } from '../../../server/bookings';
import { addDays, formatLocalDate, localToUtc, weekdayOf } from '../../../server/bookings/time';
import { systemPrompt } from '../../../server/conversation/prompts';
import { CustomerDirectory, CustomerRepository, type CustomerView } from '../../../server/customers';
import { RedisKv } from '../../../server/platform/kv';
import { seedDemo } from '../../../server/platform/seed';
import { toFacts } from '../../../server/voice';
import { createTestDb, type TestDb } from '../../support/pg';
import { createTestRedis, type TestRedis } from '../../support/redis';
import { testCipher } from '../../support/keys';

const TZ = 'America/Chicago';
// A Monday at least a week after the real date, 09:00 local, is the service's "now".
const MON = (() => {
  let d = addDays(formatLocalDate(new Date(), TZ), 7);
  while (weekdayOf(d) !== 'mon') d = addDays(d, 1);
  return d;
})();
const DANA = '+13125550142';

const cipher = testCipher();
let tdb: TestDb;
let tr: TestRedis;

beforeAll(async () => {
  tdb = await createTestDb();
  tr = await createTestRedis();
  await seedDemo(tdb.db, cipher);
});
afterAll(async () => {
  await tr.cleanup();
  await tdb.drop();
});

it("puts a known caller's appointments in the prompt as dealership-local tool times, fresh or cached", async () => {
  const repo = new CustomerRepository(tdb.db, cipher);
  const directory = new CustomerDirectory({
    repo,
    kv: new RedisKv(tr.redis, tr.prefix),
    cipher,
    ttlSeconds: 300,
  });
  const bookings = new BookingService({
    db: tdb.db,
    cipher,
    customers: directory,
    customerRepo: repo,
    now: () => localToUtc(`${MON}T09:00`, TZ),
  });
  const dana = (await directory.lookupByPhone(DANA)) as CustomerView;
  // Half a year apart, so one of the two is on the other side of a DST change from the other or from now.
  const dates = [addDays(MON, 1), addDays(MON, 1 + 7 * 26)];
  for (const date of dates) {
    await bookings.book({
      customerId: dana.id,
      vehicleId: dana.vehicles[0]?.id ?? null,
      serviceCode: 'OIL',
      startsAt: `${date}T09:00`,
      source: 'phone',
    });
  }
  const facts = toFacts(await bookings.dealership());
  // The first lookup reads Postgres and fills the cache; the second is served from Redis.
  const fresh = await directory.lookupByPhone(DANA);
  expect((await tr.keys()).some((k) => k.startsWith(`${tr.prefix}cust:`))).toBe(true);
  const cached = await directory.lookupByPhone(DANA);
  for (const view of [fresh, cached]) {
    const prompt = systemPrompt(facts, view, new Date());
    const line = prompt.split('\n').find((l) => l.startsWith('Upcoming appointments')) ?? '';
    for (const date of dates) expect(line).toContain(`(startsAt ${date}T09:00, id `);
    expect(line).toMatch(/Oil change on \w+day, \w+ \d+ at 9:00 AM/);
    expect(prompt).not.toMatch(/T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z/);
    expect(prompt).toContain(`times are ${TZ} local time`);
  }
});
