import { BookingService } from '../../../server/bookings';
import { addDays, formatLocalDate, localToUtc, weekdayOf } from '../../../server/bookings/time';
import { isAffirmative, spokenWhen } from '../../../server/conversation/tools/confirm';
import { TOOL_SPECS } from '../../../server/conversation/tools/definitions';
import { ToolExecutor, type ToolAction } from '../../../server/conversation/tools/executor';
import { CustomerDirectory, CustomerRepository, type CustomerView } from '../../../server/customers';
import { MemoryKv } from '../../../server/platform/kv';
import { seedDemo } from '../../../server/platform/seed';
import { createTestDb, type TestDb } from '../../support/pg';
import { callSid, testCipher } from '../../support/keys';

const TZ = 'America/Chicago';
// A Monday at least a week after the real date, 09:00 local, is the service's "now".
const MON = (() => {
  let d = addDays(formatLocalDate(new Date(), TZ), 7);
  while (weekdayOf(d) !== 'mon') d = addDays(d, 1);
  return d;
})();
const day = (offset: number) => addDays(MON, offset);

const cipher = testCipher();
let tdb: TestDb;
let directory: CustomerDirectory;
let bookings: BookingService;
let danaPhone: string;

beforeAll(async () => {
  tdb = await createTestDb();
  await seedDemo(tdb.db, cipher);
  const customerRepo = new CustomerRepository(tdb.db, cipher);
  directory = new CustomerDirectory({ repo: customerRepo, kv: new MemoryKv(), cipher, ttlSeconds: 300 });
  bookings = new BookingService({
    db: tdb.db,
    cipher,
    customers: directory,
    customerRepo,
    now: () => localToUtc(`${MON}T09:00`, TZ),
  });
  danaPhone = '+13125550142';
});
afterAll(async () => {
  await tdb.drop();
});

/** One call's executor, with the caller's turns counted as the orchestrator would. */
async function call(phone: string) {
  let customer = await directory.lookupByPhone(phone);
  const actions: ToolAction[] = [];
  const sid = callSid();
  let turn = 1;
  let text = 'hello';
  const executor = new ToolExecutor({
    bookings,
    callSid: sid,
    callerPhone: phone,
    getCustomer: () => customer,
    setCustomer: (v) => {
      customer = v;
    },
    onAction: (a) => actions.push(a),
    timezone: TZ,
  });
  const run = async (name: string, args: unknown) => {
    const out = await executor.execute(name, typeof args === 'string' ? args : JSON.stringify(args), {
      lastCallerText: text,
      callerTurnCount: turn,
    });
    return out as { result: Record<string, unknown> & { error?: Record<string, string> }; outcome?: string };
  };
  const say = (t: string) => {
    turn++;
    text = t;
  };
  return { run, say, actions, sid, customer: () => customer };
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await tdb.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${sql}`, params);
  return Number(rows[0]?.n);
}

const camryOf = (c: CustomerView | null) => c?.vehicles.find((v) => v.model === 'Camry')?.id as string;

describe('tool definitions', () => {
  it('declares exactly the contract tools with their arguments', () => {
    const byName = Object.fromEntries(TOOL_SPECS.map((t) => [t.function.name, t.function.parameters]));
    expect(Object.keys(byName).sort()).toEqual(
      [
        'book_appointment',
        'cancel_appointment',
        'dealership_info',
        'end_call',
        'find_availability',
        'get_customer_vehicles',
        'list_my_appointments',
        'reschedule_appointment',
        'transfer_to_human',
      ].sort(),
    );
    const props = (name: string) => Object.keys((byName[name] as { properties: object }).properties).sort();
    expect(props('find_availability')).toEqual(['date', 'partOfDay', 'serviceCode']);
    expect(props('book_appointment')).toEqual(
      ['customerName', 'notes', 'serviceCode', 'startsAt', 'vehicle', 'vehicleId'].sort(),
    );
    expect(props('reschedule_appointment')).toEqual(['appointmentId', 'startsAt']);
    expect(props('cancel_appointment')).toEqual(['appointmentId']);
    expect(props('dealership_info')).toEqual(['topic']);
    expect(props('transfer_to_human')).toEqual(['reason']);
    expect(props('end_call')).toEqual([]);
    for (const t of TOOL_SPECS) {
      expect(t.type).toBe('function');
      expect(t.function.description.length).toBeGreaterThan(40);
      expect(t.function.parameters).toMatchObject({ type: 'object', additionalProperties: false });
    }
    const book = TOOL_SPECS.find((t) => t.function.name === 'book_appointment');
    expect(book?.function.description).toMatch(/NEEDS_CONFIRMATION/);
  });
});

describe('confirmation language', () => {
  it('hears a plain yes, and hears any hedge as not yet', () => {
    for (const t of [
      'Yes',
      'yeah',
      'Yep, that works',
      'sure',
      'Correct.',
      'please book it',
      'go ahead',
      'sounds good',
      'OK',
      'okay thanks',
    ]) {
      expect([t, isAffirmative(t)]).toEqual([t, true]);
    }
    for (const t of [
      'no',
      'No thanks',
      "don't",
      'not yet',
      'wait',
      'actually make it ten',
      'yes but on Friday',
      "that doesn't work",
      'what time was that',
      '',
    ]) {
      expect([t, isAffirmative(t)]).toEqual([t, false]);
    }
  });

  it('never hears a question or a request for something else as a yes, with or without the "?"', () => {
    for (const t of [
      'Okay, what other times do you have?',
      'Sure, how much is that going to cost?',
      'Is that right?',
      'Okay so what about Thursday?',
      // Speech-to-text often gives no punctuation at all.
      'okay what about thursday',
      'sure how much is that',
      'is that right',
      "right, what's the price",
      'right whats the price',
      'okay is that the earliest',
      'yes can you text me the address',
      'okay and is it for the camry',
      'does that include the filter',
      'okay anything earlier',
      'sure, the other car',
      'yeah maybe',
      'Right?',
      'yes?',
    ]) {
      expect([t, isAffirmative(t)]).toEqual([t, false]);
    }
  });

  it('hears a yes that leads the turn, after fillers, followed by thanks or more agreement', () => {
    for (const t of [
      'yes please book it',
      'yeah that works',
      "that's right",
      'That’s right.',
      'Um, yes.',
      'oh okay',
      'uh yeah that works',
      'All right, book it.',
      'yes do it',
      'sure thing',
      'Perfect, thank you.',
      'yes this is the camry',
      "let's do it",
      'okay so book it',
    ]) {
      expect([t, isAffirmative(t)]).toEqual([t, true]);
    }
    // Agreement buried after something else is not a clear yes.
    for (const t of ['I think so', 'uh-huh', 'I guess that works, okay']) {
      expect([t, isAffirmative(t)]).toEqual([t, false]);
    }
  });

  it('speaks a local time as day, date and clock time', () => {
    expect(spokenWhen('2026-11-24T09:00')).toBe('Tuesday, November 24 at 9:00 AM');
    expect(spokenWhen('2026-11-28T13:30')).toBe('Saturday, November 28 at 1:30 PM');
  });
});

describe('tool executor', () => {
  it('answers bad JSON, wrong types and unknown tools with errors, never a throw', async () => {
    const c = await call(danaPhone);
    expect((await c.run('find_availability', '{not json')).result.error?.code).toBe('INVALID_ARGUMENTS');
    expect((await c.run('find_availability', { serviceCode: 42, date: day(1) })).result.error).toMatchObject({
      code: 'INVALID_ARGUMENTS',
      message: expect.stringContaining('serviceCode'),
    });
    expect((await c.run('find_availability', '[1,2]')).result.error?.code).toBe('INVALID_ARGUMENTS');
    expect(
      (await c.run('book_appointment', { serviceCode: 'OIL', startsAt: 'tomorrow 9am' })).result.error?.code,
    ).toBe('INVALID_ARGUMENTS');
    expect((await c.run('delete_everything', {})).result.error?.code).toBe('UNKNOWN_TOOL');
    expect((await c.run('find_availability', { serviceCode: 'OIL', date: day(6) })).result.error?.code).toBe(
      'CLOSED',
    );
    const broken = new ToolExecutor({
      bookings: {
        findAvailability: () => Promise.reject(new Error('socket hang up')),
      } as unknown as BookingService,
      callSid: 'CA1',
      callerPhone: danaPhone,
      getCustomer: () => null,
      setCustomer: () => undefined,
      onAction: () => undefined,
    });
    const out = await broken.execute(
      'find_availability',
      JSON.stringify({ serviceCode: 'OIL', date: day(1) }),
      {
        lastCallerText: '',
        callerTurnCount: 1,
      },
    );
    expect(out.result).toEqual({ error: { code: 'INTERNAL', message: expect.any(String) } });
  });

  it('finds slots, vehicles and facts for the caller', async () => {
    const c = await call(danaPhone);
    const found = await c.run('find_availability', {
      serviceCode: 'OIL',
      date: day(1),
      partOfDay: 'afternoon',
    });
    expect((found.result.slots as Array<{ startsAt: string }>)[0]).toEqual({ startsAt: `${day(1)}T12:00` });
    expect(found.outcome).toBe('info');
    const vehicles = (await c.run('get_customer_vehicles', '')).result.vehicles as Array<{ model: string }>;
    expect(vehicles.map((v) => v.model)).toEqual(['Camry', 'CR-V']);
    expect((await c.run('dealership_info', { topic: 'hours' })).result).toMatchObject({
      hours: { sunday: null },
    });
    const stranger = await call('+13125550111');
    expect((await stranger.run('get_customer_vehicles', {})).result).toEqual({ vehicles: [] });
    expect((await stranger.run('list_my_appointments', {})).result).toEqual({ appointments: [] });
  });

  it('reads back before writing, writes only after a later "yes", and books once', async () => {
    const c = await call(danaPhone);
    const args = { serviceCode: 'OIL', startsAt: `${day(1)}T09:00`, vehicleId: camryOf(c.customer()) };
    const before = await count('appointments');
    const first = await c.run('book_appointment', args);
    expect(first.result.error).toMatchObject({
      code: 'NEEDS_CONFIRMATION',
      readBack: `Oil change for your 2019 Toyota Camry on ${spokenWhen(`${day(1)}T09:00`)}`,
    });
    // Same turn again (the model insisting) is still not a yes.
    expect((await c.run('book_appointment', args)).result.error?.code).toBe('NEEDS_CONFIRMATION');
    c.say('no, wait');
    expect((await c.run('book_appointment', args)).result.error?.code).toBe('NEEDS_CONFIRMATION');
    expect(await count('appointments')).toBe(before);
    c.say('Yes please');
    const booked = await c.run('book_appointment', { ...args, serviceCode: 'oil' });
    expect(booked.outcome).toBe('booked');
    const appointment = booked.result.appointment as {
      id: string;
      startsAt: string;
      service: { code: string };
    };
    expect(appointment).toMatchObject({
      startsAt: `${day(1)}T09:00`,
      service: { code: 'OIL', name: 'Oil change' },
    });
    expect(c.customer()?.upcoming.map((u) => u.id)).toContain(appointment.id);
    expect(
      await count('appointments WHERE customer_id = $1 AND vehicle_id = $2', [
        c.customer()?.id,
        args.vehicleId,
      ]),
    ).toBe(1);
    // Repeated identical call, even after another "yes": same appointment, nothing new written.
    c.say('yes');
    const again = await c.run('book_appointment', args);
    expect((again.result.appointment as { id: string }).id).toBe(appointment.id);
    expect(await count('appointments')).toBe(before + 1);
  });

  it('does not book when the turn after the read-back only asked a question', async () => {
    const c = await call(danaPhone);
    const args = { serviceCode: 'OIL', startsAt: `${day(1)}T14:00`, vehicleId: camryOf(c.customer()) };
    const at = [localToUtc(args.startsAt, TZ)];
    expect((await c.run('book_appointment', args)).result.error?.code).toBe('NEEDS_CONFIRMATION');
    for (const question of ['Okay, and what about Thursday?', 'sure how much is that']) {
      c.say(question);
      expect((await c.run('book_appointment', args)).result.error?.code).toBe('NEEDS_CONFIRMATION');
    }
    expect(await count('appointments WHERE starts_at = $1', at)).toBe(0);
    c.say('yeah that works');
    expect((await c.run('book_appointment', args)).outcome).toBe('booked');
    expect(await count('appointments WHERE starts_at = $1', at)).toBe(1);
  });

  it('parallel identical calls after a yes book once', async () => {
    const c = await call(danaPhone);
    const args = { serviceCode: 'ALIGN', startsAt: `${day(8)}T10:00`, vehicleId: camryOf(c.customer()) };
    await c.run('book_appointment', args);
    c.say('yep');
    const results = await Promise.all([1, 2, 3].map(() => c.run('book_appointment', args)));
    const ids = results.map((r) => (r.result.appointment as { id: string } | undefined)?.id);
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toEqual(expect.any(String));
    expect(await count('appointments WHERE starts_at = $1', [localToUtc(args.startsAt, TZ)])).toBe(1);
  });

  it('a "yes" answers only the latest read-back', async () => {
    const c = await call(danaPhone);
    const a = { serviceCode: 'OIL', startsAt: `${day(2)}T09:00`, vehicleId: camryOf(c.customer()) };
    const b = { ...a, startsAt: `${day(2)}T10:00` };
    await c.run('book_appointment', a);
    c.say('hmm, how about ten instead');
    await c.run('book_appointment', b);
    c.say('yes');
    expect((await c.run('book_appointment', a)).result.error?.code).toBe('NEEDS_CONFIRMATION');
    expect(await count('appointments WHERE starts_at = $1', [localToUtc(a.startsAt, TZ)])).toBe(0);
  });

  it('refuses a booking or a move past the horizon before any read-back, even after a yes', async () => {
    const c = await call(danaPhone);
    const args = { serviceCode: 'OIL', startsAt: '2096-01-02T09:00', vehicleId: camryOf(c.customer()) };
    expect((await c.run('book_appointment', args)).result.error?.code).toBe('DATE_TOO_FAR');
    c.say('yes');
    expect((await c.run('book_appointment', args)).result.error?.code).toBe('DATE_TOO_FAR');
    const mine = { ...args, startsAt: `${day(3)}T09:30` };
    await c.run('book_appointment', mine);
    c.say('yes');
    const id = ((await c.run('book_appointment', mine)).result.appointment as { id: string }).id;
    const move = { appointmentId: id, startsAt: '2099-03-02T10:00' };
    expect((await c.run('reschedule_appointment', move)).result.error?.code).toBe('DATE_TOO_FAR');
    c.say('yes');
    expect((await c.run('reschedule_appointment', move)).result.error?.code).toBe('DATE_TOO_FAR');
    expect(await count("appointments WHERE starts_at > now() + interval '400 days'")).toBe(0);
  });

  it('asks which car when the caller has several and none was named; one car is assumed', async () => {
    const dana = await call(danaPhone);
    const res = await dana.run('book_appointment', { serviceCode: 'OIL', startsAt: `${day(2)}T11:00` });
    expect(res.result.error).toMatchObject({
      code: 'VEHICLE_REQUIRED',
      message: expect.stringContaining('Camry'),
    });
    const luis = await call('+13125550199');
    const read = await luis.run('book_appointment', { serviceCode: 'ROTATE', startsAt: `${day(2)}T11:00` });
    expect(read.result.error?.readBack).toBe(
      `Tire rotation for your 2017 Ford F-150 on ${spokenWhen(`${day(2)}T11:00`)}`,
    );
  });

  it('ignores a customerId the model supplies and acts only for the caller on the line', async () => {
    const luis = await call('+13125550199');
    const dana = await directory.lookupByPhone(danaPhone);
    const args = { serviceCode: 'OIL', startsAt: `${day(3)}T08:00`, customerId: dana?.id };
    await luis.run('book_appointment', args);
    luis.say('yes');
    const booked = await luis.run('book_appointment', args);
    const id = (booked.result.appointment as { id: string }).id;
    const { rows } = await tdb.db.query<{ customer_id: string }>(
      'SELECT customer_id FROM appointments WHERE id = $1',
      [id],
    );
    expect(rows[0]?.customer_id).toBe(luis.customer()?.id);
    const listed = await luis.run('list_my_appointments', { customerId: dana?.id });
    const ids = (listed.result.appointments as Array<{ id: string }>).map((a) => a.id);
    expect(ids).toContain(id);
    const danaCall = await call(danaPhone);
    const theirs = (await danaCall.run('list_my_appointments', {})).result.appointments as Array<{
      id: string;
    }>;
    expect(theirs.map((a) => a.id)).not.toContain(id);
  });

  it("cannot cancel or move Luis's appointment from Dana's call, even with a yes", async () => {
    const luis = await call('+13125550199');
    const args = { serviceCode: 'DIAG', startsAt: `${day(3)}T13:00` };
    await luis.run('book_appointment', args);
    luis.say('yes');
    const hisId = ((await luis.run('book_appointment', args)).result.appointment as { id: string }).id;
    const before = (await tdb.db.query('SELECT * FROM appointments WHERE id = $1', [hisId])).rows[0];
    const dana = await call(danaPhone);
    for (const [tool, a] of [
      ['cancel_appointment', { appointmentId: hisId }],
      ['reschedule_appointment', { appointmentId: hisId, startsAt: `${day(3)}T15:00` }],
    ] as const) {
      expect((await dana.run(tool, a)).result.error?.code).toBe('APPOINTMENT_NOT_FOUND');
      dana.say('yes');
      expect((await dana.run(tool, a)).result.error?.code).toBe('APPOINTMENT_NOT_FOUND');
    }
    const stranger = await call('+13125550111');
    expect((await stranger.run('cancel_appointment', { appointmentId: hisId })).result.error?.code).toBe(
      'APPOINTMENT_NOT_FOUND',
    );
    expect((await tdb.db.query('SELECT * FROM appointments WHERE id = $1', [hisId])).rows[0]).toEqual(before);
  });

  it('reschedules and cancels the caller’s own appointment after confirmation', async () => {
    const c = await call(danaPhone);
    const book = { serviceCode: 'BRAKES', startsAt: `${day(4)}T09:00`, vehicleId: camryOf(c.customer()) };
    await c.run('book_appointment', book);
    c.say('yes');
    const id = ((await c.run('book_appointment', book)).result.appointment as { id: string }).id;

    const move = { appointmentId: id, startsAt: `${day(4)}T14:00` };
    const read = await c.run('reschedule_appointment', move);
    expect(read.result.error?.readBack).toBe(
      `Move your brake service for your 2019 Toyota Camry from ${spokenWhen(`${day(4)}T09:00`)} to ${spokenWhen(`${day(4)}T14:00`)}`,
    );
    c.say('yes that works');
    const moved = await c.run('reschedule_appointment', move);
    expect(moved.outcome).toBe('rescheduled');
    const newId = (moved.result.appointment as { id: string }).id;
    expect(moved.result.previous).toEqual({ id, startsAt: `${day(4)}T09:00` });
    expect((await c.run('reschedule_appointment', move)).result).toEqual(moved.result);
    expect(c.customer()?.upcoming.map((u) => u.id)).toEqual(expect.arrayContaining([newId]));
    expect(c.customer()?.upcoming.map((u) => u.id)).not.toContain(id);

    const cancelRead = await c.run('cancel_appointment', { appointmentId: newId });
    expect(cancelRead.result.error?.readBack).toBe(
      `Cancel your brake service for your 2019 Toyota Camry on ${spokenWhen(`${day(4)}T14:00`)}`,
    );
    c.say('no');
    expect((await c.run('cancel_appointment', { appointmentId: newId })).result.error?.code).toBe(
      'NEEDS_CONFIRMATION',
    );
    c.say('ok go ahead');
    const cancelled = await c.run('cancel_appointment', { appointmentId: newId });
    expect(cancelled).toMatchObject({ outcome: 'cancelled', result: { cancelled: true } });
    expect(await count("appointments WHERE id = $1 AND status = 'cancelled'", [newId])).toBe(1);
    expect(c.customer()?.upcoming.map((u) => u.id)).not.toContain(newId);

    // The slot that was given up can be booked again in the same call: a new booking, not a replay.
    await c.run('book_appointment', book);
    c.say('yes');
    const rebooked = await c.run('book_appointment', book);
    expect((rebooked.result.appointment as { id: string }).id).not.toBe(id);
  });

  it('a new caller gives a name, confirms, and becomes identified', async () => {
    const phone = '+13125550177';
    const c = await call(phone);
    expect(c.customer()).toBeNull();
    const noName = await c.run('book_appointment', { serviceCode: 'OIL', startsAt: `${day(1)}T15:00` });
    expect(noName.result.error?.code).toBe('NAME_REQUIRED');
    const args = {
      serviceCode: 'OIL',
      startsAt: `${day(1)}T15:00`,
      customerName: 'Priya Natarajan',
      vehicle: { year: 2021, make: 'Mazda', model: 'CX-5' },
    };
    const read = await c.run('book_appointment', args);
    expect(read.result.error?.readBack).toBe(
      `Oil change for your 2021 Mazda CX-5 on ${spokenWhen(`${day(1)}T15:00`)}, under the name Priya Natarajan`,
    );
    expect(await count('customers')).toBe(2);
    c.say('yes, correct');
    const booked = await c.run('book_appointment', args);
    expect(booked.outcome).toBe('booked');
    expect(c.customer()).toMatchObject({
      name: 'Priya Natarajan',
      vehicles: [expect.objectContaining({ model: 'CX-5' })],
    });
    expect((await directory.lookupByPhone(phone))?.upcoming).toHaveLength(1);
    // Now identified, the same call repeated still books once.
    expect((await c.run('book_appointment', args)).result).toEqual(booked.result);
    expect(await count('customers')).toBe(3);
  });

  it('hands transfer and goodbye to the orchestrator', async () => {
    const c = await call(danaPhone);
    expect(await c.run('transfer_to_human', { reason: 'warranty question' })).toEqual({
      result: { ok: true },
      outcome: 'transferred',
    });
    expect(await c.run('end_call', '{}')).toEqual({ result: { ok: true } });
    expect(c.actions).toEqual([{ type: 'transfer', reason: 'warranty question' }, { type: 'end' }]);
  });
});
