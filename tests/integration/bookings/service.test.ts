import { BookingService } from '../../../server/bookings';
import { addDays, formatLocalDate, localToUtc, weekdayOf } from '../../../server/bookings/time';
import { CustomerDirectory, CustomerRepository, type CustomerView } from '../../../server/customers';
import { RedisKv } from '../../../server/platform/kv';
import { seedDemo } from '../../../server/platform/seed';
import { createTestDb, type TestDb } from '../../support/pg';
import { createTestRedis, type TestRedis } from '../../support/redis';
import { callSid, testCipher } from '../../support/keys';

const TZ = 'America/Chicago';
// A Monday at least a week ahead of the real date, 09:00 local: the service's clock. Bookings then
// lie in the real future too, so the customer view (which uses the database's now()) lists them.
const MON = (() => {
  let d = addDays(formatLocalDate(new Date(), TZ), 7);
  while (weekdayOf(d) !== 'mon') d = addDays(d, 1);
  return d;
})();
const day = (offset: number) => addDays(MON, offset);
const NOW = localToUtc(`${MON}T09:00`, TZ);

const cipher = testCipher();
let tdb: TestDb;
let tr: TestRedis;
let directory: CustomerDirectory;
let customerRepo: CustomerRepository;
let service: BookingService;
let dana: CustomerView;
let luis: CustomerView;

beforeAll(async () => {
  tdb = await createTestDb();
  tr = await createTestRedis();
  await seedDemo(tdb.db, cipher);
  customerRepo = new CustomerRepository(tdb.db, cipher);
  directory = new CustomerDirectory({
    repo: customerRepo,
    kv: new RedisKv(tr.redis, tr.prefix),
    cipher,
    ttlSeconds: 300,
  });
  service = new BookingService({
    db: tdb.db,
    cipher,
    customers: directory,
    customerRepo,
    timezone: TZ,
    now: () => NOW,
  });
  dana = (await directory.lookupByPhone('+13125550142')) as CustomerView;
  luis = (await directory.lookupByPhone('+13125550199')) as CustomerView;
});
afterAll(async () => {
  await tr.cleanup();
  await tdb.drop();
});

const camry = () => dana.vehicles.find((v) => v.model === 'Camry')?.id as string;
const f150 = () => luis.vehicles[0]?.id as string;

function bookFor(customer: CustomerView, startsAt: string, extra: Record<string, unknown> = {}) {
  return service.book({
    customerId: customer.id,
    serviceCode: 'OIL',
    startsAt,
    source: 'staff',
    ...extra,
  });
}

async function row(id: string) {
  const { rows } = await tdb.db.query<Record<string, unknown>>('SELECT * FROM appointments WHERE id = $1', [
    id,
  ]);
  return rows[0] as Record<string, unknown>;
}

describe('availability', () => {
  it('honours weekday, Saturday and Sunday hours and the lead time today', async () => {
    const tue = (await service.findAvailability('OIL', day(1), 'any')).slots.map((s) => s.startsAt);
    expect(tue[0]).toBe(`${day(1)}T07:00`);
    expect(tue.at(-1)).toBe(`${day(1)}T17:30`);
    const brakes = (await service.findAvailability('BRAKES', day(1))).slots.map((s) => s.startsAt);
    expect(brakes.at(-1)).toBe(`${day(1)}T17:00`);
    const sat = (await service.findAvailability('oil', day(5))).slots.map((s) => s.startsAt);
    expect([sat[0], sat.at(-1)]).toEqual([`${day(5)}T08:00`, `${day(5)}T13:30`]);
    const today = (await service.findAvailability('OIL', MON)).slots;
    expect(today[0]?.startsAt).toBe(`${MON}T09:30`);
    await expect(service.findAvailability('OIL', day(6))).rejects.toMatchObject({
      code: 'CLOSED',
      message: expect.stringMatching(/Sunday/),
    });
  });

  it('splits morning and afternoon at 12:00', async () => {
    const morning = (await service.findAvailability('OIL', day(2), 'morning')).slots.map((s) => s.startsAt);
    const afternoon = (await service.findAvailability('OIL', day(2), 'afternoon')).slots.map(
      (s) => s.startsAt,
    );
    expect(morning.every((s) => s.slice(11) < '12:00')).toBe(true);
    expect(afternoon[0]).toBe(`${day(2)}T12:00`);
    expect(morning.length + afternoon.length).toBe(22);
  });

  it('rejects unknown services, impossible and past dates', async () => {
    await expect(service.findAvailability('CARWASH', day(1))).rejects.toMatchObject({
      code: 'UNKNOWN_SERVICE',
    });
    await expect(service.findAvailability('OIL', '2027-02-30')).rejects.toMatchObject({
      code: 'INVALID_DATE',
    });
    await expect(service.findAvailability('OIL', 'next tuesday')).rejects.toMatchObject({
      code: 'INVALID_DATE',
    });
    await expect(service.findAvailability('OIL', day(-3))).rejects.toMatchObject({ code: 'DATE_IN_PAST' });
  });

  it('4 bookings at 9:00 make 9:00 unavailable, 3 do not; a fifth booking gets SLOT_TAKEN', async () => {
    const at = `${day(3)}T09:00`;
    for (let i = 0; i < 3; i++) await bookFor(luis, at);
    expect((await service.findAvailability('OIL', day(3))).slots.map((s) => s.startsAt)).toContain(at);
    const fourth = await bookFor(luis, at);
    expect(fourth.appointment.bay.name).toBe('Bay 4');
    const after = (await service.findAvailability('OIL', day(3))).slots.map((s) => s.startsAt);
    expect(after).not.toContain(at);
    expect(after).toContain(`${day(3)}T09:30`);
    expect((await service.findAvailability('BRAKES', day(3))).slots.map((s) => s.startsAt)).not.toContain(
      `${day(3)}T08:30`,
    );
    await expect(bookFor(luis, at)).rejects.toMatchObject({ code: 'SLOT_TAKEN' });
  });

  it('parallel bookings of one slot fill the 4 bays and no more', async () => {
    const at = `${day(4)}T10:00`;
    const results = await Promise.allSettled(Array.from({ length: 7 }, () => bookFor(luis, at)));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(4);
    expect(failed.map((r) => (r.reason as { code?: string }).code)).toEqual([
      'SLOT_TAKEN',
      'SLOT_TAKEN',
      'SLOT_TAKEN',
    ]);
    const { rows } = await tdb.db.query<{ bay_id: number }>(
      "SELECT bay_id FROM appointments WHERE starts_at = $1 AND status = 'booked' ORDER BY bay_id",
      [localToUtc(at, TZ)],
    );
    expect(rows.map((r) => r.bay_id)).toEqual([1, 2, 3, 4]);
  });
});

describe('booking', () => {
  it("books Dana's Camry under her customer and vehicle, with encrypted notes", async () => {
    const { appointment, customerId } = await service.book({
      customerId: dana.id,
      serviceCode: 'OIL',
      startsAt: `${day(1)}T09:00`,
      vehicleId: camry(),
      notes: 'Squeak from the front left',
      source: 'phone',
      callSid: callSid(),
      idempotencyKey: null,
    });
    expect(customerId).toBe(dana.id);
    expect(appointment).toMatchObject({
      startsAt: `${day(1)}T09:00`,
      endsAt: `${day(1)}T09:30`,
      service: { code: 'OIL', name: 'Oil change' },
      vehicle: { id: camry(), year: 2019, make: 'Toyota', model: 'Camry' },
    });
    const r = await row(appointment.id);
    expect(r).toMatchObject({ customer_id: dana.id, vehicle_id: camry(), status: 'booked', source: 'phone' });
    expect((r.starts_at as Date).toISOString()).toBe(localToUtc(`${day(1)}T09:00`, TZ).toISOString());
    expect(r.notes_enc).not.toContain('Squeak');
    expect(cipher.decrypt(r.notes_enc as string)).toBe('Squeak from the front left');
  });

  it('refuses times outside opening hours, unknown services and impossible times', async () => {
    await expect(bookFor(dana, `${day(1)}T06:30`)).rejects.toMatchObject({ code: 'OUTSIDE_HOURS' });
    await expect(bookFor(dana, `${day(1)}T17:30`, { serviceCode: 'BRAKES' })).rejects.toMatchObject({
      code: 'OUTSIDE_HOURS',
    });
    await expect(bookFor(dana, `${day(5)}T14:00`)).rejects.toMatchObject({ code: 'OUTSIDE_HOURS' });
    await expect(bookFor(dana, `${day(6)}T10:00`)).rejects.toMatchObject({ code: 'OUTSIDE_HOURS' });
    await expect(bookFor(dana, `${day(1)}T10:00`, { serviceCode: 'WASH' })).rejects.toMatchObject({
      code: 'UNKNOWN_SERVICE',
    });
    await expect(bookFor(dana, '2027-02-29T10:00')).rejects.toMatchObject({ code: 'INVALID_DATE' });
    await expect(bookFor(dana, `${day(1)}T25:00`)).rejects.toMatchObject({ code: 'INVALID_DATETIME' });
    await expect(bookFor(dana, `${MON}T08:00`)).rejects.toMatchObject({ code: 'DATE_IN_PAST' });
  });

  it("refuses someone else's vehicle", async () => {
    await expect(bookFor(dana, `${day(1)}T11:00`, { vehicleId: f150() })).rejects.toMatchObject({
      code: 'VEHICLE_NOT_FOUND',
    });
    await expect(bookFor(dana, `${day(1)}T11:00`, { vehicleId: 'camry' })).rejects.toMatchObject({
      code: 'VEHICLE_NOT_FOUND',
    });
  });

  it('a repeated idempotency key books once', async () => {
    const key = `${callSid()}:book_appointment:abc`;
    const [a, b] = await Promise.all([
      bookFor(dana, `${day(1)}T13:00`, { idempotencyKey: key }),
      bookFor(dana, `${day(1)}T13:00`, { idempotencyKey: key }),
    ]);
    expect(a.appointment.id).toBe(b.appointment.id);
    const c = await bookFor(dana, `${day(1)}T13:00`, { idempotencyKey: key });
    expect(c).toMatchObject({ replayed: true, appointment: { id: a.appointment.id } });
  });

  it("a new caller's booking creates the customer (encrypted) and the cache sees it at once", async () => {
    const phone = '+13125550123';
    expect(await directory.lookupByPhone(phone)).toBeNull(); // now negatively cached
    await expect(
      service.book({
        customerId: null,
        callerPhone: phone,
        serviceCode: 'OIL',
        startsAt: `${day(1)}T14:00`,
        source: 'phone',
      }),
    ).rejects.toMatchObject({ code: 'NAME_REQUIRED' });
    const { appointment, customerId } = await service.book({
      customerId: null,
      callerPhone: phone,
      customerName: '  Sam   Lee ',
      serviceCode: 'ROTATE',
      startsAt: `${day(1)}T14:00`,
      vehicle: { year: 2015, make: 'Subaru', model: 'Outback' },
      source: 'phone',
      callSid: callSid(),
    });
    const { rows } = await tdb.db.query<Record<string, string>>('SELECT * FROM customers WHERE id = $1', [
      customerId,
    ]);
    const c = rows[0] as Record<string, string>;
    expect(c.name_enc).not.toContain('Sam');
    expect(c.phone_enc).not.toContain('5550123');
    expect(cipher.decrypt(c.name_enc as string)).toBe('Sam Lee');
    expect(cipher.decrypt(c.phone_enc as string)).toBe(phone);
    expect(c.phone_index).toBe(cipher.blindIndex(phone));
    const view = await directory.lookupByPhone(phone);
    expect(view).toMatchObject({ id: customerId, name: 'Sam Lee' });
    expect(view?.vehicles).toEqual([
      expect.objectContaining({ year: 2015, make: 'Subaru', model: 'Outback' }),
    ]);
    expect(view?.upcoming.map((u) => u.id)).toEqual([appointment.id]);
    // A second booking describing the same car does not add it twice.
    await service.book({
      customerId,
      serviceCode: 'OIL',
      startsAt: `${day(8)}T14:00`,
      vehicle: { year: 2015, make: 'subaru', model: 'OUTBACK' },
      source: 'phone',
    });
    expect((await directory.lookupByPhone(phone))?.vehicles).toHaveLength(1);
  });
});

describe('booking horizon', () => {
  it('book, reschedule and their previews refuse a start past 365 days, as find_availability does', async () => {
    const tooFar = { code: 'DATE_TOO_FAR' };
    // day(365) is a Tuesday, the last bookable day; day(366) the first refused.
    await expect(service.findAvailability('OIL', day(366))).rejects.toMatchObject(tooFar);
    for (const startsAt of [`${day(366)}T09:00`, '2096-01-02T09:00']) {
      const input = { customerId: dana.id, vehicleId: camry(), serviceCode: 'OIL', startsAt };
      await expect(service.previewBooking(input)).rejects.toMatchObject(tooFar);
      await expect(service.book({ ...input, source: 'phone' })).rejects.toMatchObject(tooFar);
    }
    const last = await bookFor(dana, `${day(365)}T09:00`);
    expect(last.appointment.startsAt).toBe(`${day(365)}T09:00`);

    const mine = await bookFor(dana, `${day(3)}T10:00`);
    const move = { customerId: dana.id, appointmentId: mine.appointment.id, startsAt: '2099-03-02T10:00' };
    await expect(service.previewReschedule(move)).rejects.toMatchObject(tooFar);
    await expect(service.reschedule(move)).rejects.toMatchObject(tooFar);
    expect((await row(mine.appointment.id)).status).toBe('booked');
    const { rows } = await tdb.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM appointments WHERE starts_at > $1::timestamptz + interval '366 days'`,
      [NOW],
    );
    expect(Number(rows[0]?.n)).toBe(0);
  });
});

describe('reschedule and cancel', () => {
  it("moves Dana's own appointment atomically and invalidates her cache entry", async () => {
    const booked = await bookFor(dana, `${day(2)}T09:00`, { vehicleId: camry(), serviceCode: 'BRAKES' });
    expect((await directory.lookupByPhone('+13125550142'))?.upcoming.map((u) => u.id)).toContain(
      booked.appointment.id,
    );
    const moved = await service.reschedule({
      customerId: dana.id,
      appointmentId: booked.appointment.id,
      startsAt: `${day(2)}T09:30`,
      callSid: callSid(),
    });
    expect(moved.previous).toEqual({ id: booked.appointment.id, startsAt: `${day(2)}T09:00` });
    expect(moved.appointment).toMatchObject({
      startsAt: `${day(2)}T09:30`,
      service: { code: 'BRAKES' },
      vehicle: { id: camry() },
    });
    expect((await row(booked.appointment.id)).status).toBe('cancelled');
    expect((await row(moved.appointment.id)).status).toBe('booked');
    const ids = (await directory.lookupByPhone('+13125550142'))?.upcoming.map((u) => u.id);
    expect(ids).toContain(moved.appointment.id);
    expect(ids).not.toContain(booked.appointment.id);
    expect((await service.listUpcoming(dana.id)).map((u) => u.id)).toContain(moved.appointment.id);
  });

  it('keeps the old booking when the new time is full', async () => {
    const full = `${day(2)}T15:00`;
    for (let i = 0; i < 4; i++) await bookFor(luis, full);
    const mine = await bookFor(dana, `${day(2)}T16:00`);
    await expect(
      service.reschedule({ customerId: dana.id, appointmentId: mine.appointment.id, startsAt: full }),
    ).rejects.toMatchObject({ code: 'SLOT_TAKEN' });
    expect((await row(mine.appointment.id)).status).toBe('booked');
  });

  it("never touches Luis's appointment on Dana's behalf", async () => {
    const his = await bookFor(luis, `${day(2)}T11:00`, { vehicleId: f150() });
    const before = await row(his.appointment.id);
    await expect(
      service.reschedule({
        customerId: dana.id,
        appointmentId: his.appointment.id,
        startsAt: `${day(2)}T12:00`,
      }),
    ).rejects.toMatchObject({ code: 'APPOINTMENT_NOT_FOUND' });
    await expect(
      service.cancel({ customerId: dana.id, appointmentId: his.appointment.id }),
    ).rejects.toMatchObject({
      code: 'APPOINTMENT_NOT_FOUND',
    });
    await expect(service.cancel({ customerId: dana.id, appointmentId: 'not-a-uuid' })).rejects.toMatchObject({
      code: 'APPOINTMENT_NOT_FOUND',
    });
    expect(await row(his.appointment.id)).toEqual(before);
    expect((await service.listUpcoming(dana.id)).map((u) => u.id)).not.toContain(his.appointment.id);
  });

  it('cancels her own appointment once', async () => {
    const mine = await bookFor(dana, `${day(2)}T10:00`);
    await expect(
      service.cancel({ customerId: dana.id, appointmentId: mine.appointment.id }),
    ).resolves.toMatchObject({
      cancelled: true,
      appointment: { id: mine.appointment.id, startsAt: `${day(2)}T10:00` },
    });
    expect((await row(mine.appointment.id)).status).toBe('cancelled');
    expect((await directory.lookupByPhone('+13125550142'))?.upcoming.map((u) => u.id)).not.toContain(
      mine.appointment.id,
    );
    await expect(
      service.cancel({ customerId: dana.id, appointmentId: mine.appointment.id }),
    ).rejects.toMatchObject({
      code: 'APPOINTMENT_NOT_FOUND',
    });
  });

  it('staff may cancel anyone’s booked appointment, once', async () => {
    const his = await bookFor(luis, `${day(2)}T13:30`);
    const res = await service.cancelByStaff(his.appointment.id);
    expect(res).toMatchObject({
      cancelled: true,
      appointment: { id: his.appointment.id, status: 'cancelled' },
    });
    await expect(service.cancelByStaff(his.appointment.id)).rejects.toMatchObject({
      code: 'NOT_CANCELLABLE',
    });
    await expect(service.cancelByStaff('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({
      code: 'APPOINTMENT_NOT_FOUND',
    });
  });
});

describe('staff listing and facts', () => {
  it('lists appointments between two local dates in the API shape', async () => {
    const booked = await bookFor(dana, `${day(9)}T07:00`, { vehicleId: camry(), callSid: 'CA123' });
    await bookFor(luis, `${day(10)}T17:30`);
    const cancelled = await bookFor(luis, `${day(9)}T08:00`);
    await service.cancelByStaff(cancelled.appointment.id);
    const list = await service.listAppointments({ from: day(9), to: day(9) });
    expect(list.map((a) => a.id)).toEqual([booked.appointment.id, cancelled.appointment.id]);
    const first = list[0];
    expect(first).toEqual({
      id: booked.appointment.id,
      startsAt: expect.stringMatching(new RegExp(`^${day(9)}T07:00:00-0[56]:00$`)),
      endsAt: expect.stringMatching(new RegExp(`^${day(9)}T07:30:00-0[56]:00$`)),
      status: 'booked',
      service: { code: 'OIL', name: 'Oil change' },
      bay: { id: 1, name: 'Bay 1' },
      customer: { id: dana.id, name: 'Dana Whitfield', phoneMasked: '+1 ***-***-0142' },
      vehicle: { year: 2019, make: 'Toyota', model: 'Camry' },
      source: 'staff',
      callSid: 'CA123',
    });
    expect((await service.listAppointments({ from: day(9), to: day(10), status: 'booked' })).length).toBe(2);
    await expect(service.listAppointments({ from: day(10), to: day(9) })).rejects.toMatchObject({
      code: 'INVALID_RANGE',
    });
    await expect(
      service.listAppointments({ from: day(9), to: day(9), status: 'gone' }),
    ).rejects.toMatchObject({
      code: 'INVALID_STATUS',
    });
  });

  it('answers dealership facts by topic', async () => {
    expect(await service.dealershipInfo('hours')).toMatchObject({ hours: { sunday: null } });
    expect(await service.dealershipInfo('prices')).toMatchObject({
      prices: expect.arrayContaining([{ code: 'BRAKES', name: 'Brake service', price: '$149.00' }]),
    });
    await expect(service.dealershipInfo('weather')).rejects.toMatchObject({ code: 'INVALID_TOPIC' });
  });
});
