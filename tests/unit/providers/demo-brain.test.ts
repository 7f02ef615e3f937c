import { createDemoBrain, type ChatReply } from '../../../server/providers/emulators';
import { fixtureManifest } from '../../support/audio-fixtures';

const phrase = (file: string): string => {
  const found = fixtureManifest().find((f) => f.file === `${file}.ulaw`);
  if (!found) throw new Error(`no fixture ${file}`);
  return found.text;
};

const TOOL_NAMES = [
  'find_availability',
  'get_customer_vehicles',
  'book_appointment',
  'list_my_appointments',
  'reschedule_appointment',
  'cancel_appointment',
  'dealership_info',
  'transfer_to_human',
  'end_call',
];
const TOOLS = TOOL_NAMES.map((name) => ({
  type: 'function',
  function: { name, description: name, parameters: {} },
}));

/** Monday 2026-11-23, 09:00 in Chicago. */
const NOW = new Date('2026-11-23T15:00:00Z');

function fakeTool(name: string, args: Record<string, unknown>): unknown {
  switch (name) {
    case 'get_customer_vehicles':
      return {
        vehicles: [
          { id: 'veh-crv', year: 2022, make: 'Honda', model: 'CR-V' },
          { id: 'veh-camry', year: 2019, make: 'Toyota', model: 'Camry' },
        ],
      };
    case 'find_availability':
      return args.partOfDay === 'afternoon'
        ? { slots: [{ startsAt: `${String(args.date)}T13:30` }, { startsAt: `${String(args.date)}T15:00` }] }
        : {
            slots: ['07:00', '08:00', '09:00', '10:30'].map((t) => ({
              startsAt: `${String(args.date)}T${t}`,
            })),
          };
    case 'book_appointment':
      return { appointment: { id: 'apt-new', startsAt: args.startsAt, service: args.serviceCode } };
    case 'list_my_appointments':
      return {
        appointments: [
          { id: 'apt-mon', startsAt: '2026-11-30T08:00', service: { code: 'ROTATE', name: 'Tire rotation' } },
          { id: 'apt-thu', startsAt: '2026-11-26T10:00', service: { code: 'OIL', name: 'Oil change' } },
        ],
      };
    case 'reschedule_appointment':
      return { appointment: { id: args.appointmentId, startsAt: args.startsAt, service: 'OIL' } };
    case 'cancel_appointment':
      return { cancelled: true };
    case 'dealership_info':
      return {
        hours: { mon: ['07:00', '18:00'], tue: ['07:00', '18:00'], sat: ['08:00', '14:00'], sun: null },
      };
    default:
      return { ok: true };
  }
}

interface Turn {
  text: string;
  calls: Array<{ name: string; args: Record<string, unknown> }>;
}

/** Writes answer NEEDS_CONFIRMATION the first time, as the product's tool executor does. */
const WRITES = new Set(['book_appointment', 'reschedule_appointment', 'cancel_appointment']);

class Dialogue {
  readonly #confirmable = new Set<string>();
  readonly messages: Array<Record<string, unknown>> = [
    { role: 'system', content: 'You are the service desk.' },
  ];
  readonly #brain = createDemoBrain({ now: () => NOW, timeZone: 'America/Chicago' });
  #id = 0;

  constructor(readonly tools: unknown[] = TOOLS) {}

  async say(text: string): Promise<Turn> {
    this.messages.push({ role: 'user', content: text });
    const calls: Turn['calls'] = [];
    for (let step = 0; step < 6; step++) {
      const reply: ChatReply = await this.#brain({
        model: 'demo',
        messages: this.messages,
        tools: this.tools as never,
      });
      if (!reply.toolCalls?.length) {
        this.messages.push({ role: 'assistant', content: reply.text ?? '' });
        return { text: reply.text ?? '', calls };
      }
      const wire = reply.toolCalls.map((c) => ({
        id: `call_${++this.#id}`,
        type: 'function',
        function: {
          name: c.name,
          arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments),
        },
      }));
      this.messages.push({ role: 'assistant', content: reply.text ?? null, tool_calls: wire });
      for (const c of wire) {
        const args = JSON.parse(c.function.arguments) as Record<string, unknown>;
        calls.push({ name: c.function.name, args });
        this.messages.push({
          role: 'tool',
          tool_call_id: c.id,
          content: JSON.stringify(this.#tool(c.function.name, args)),
        });
      }
    }
    throw new Error('the brain kept calling tools');
  }

  #tool(name: string, args: Record<string, unknown>): unknown {
    const key = `${name}:${JSON.stringify(args)}`;
    if (WRITES.has(name) && !this.#confirmable.has(key)) {
      this.#confirmable.add(key);
      return {
        error: {
          code: 'NEEDS_CONFIRMATION',
          message: 'Nothing has been written yet.',
          readBack: `READBACK ${name}`,
        },
      };
    }
    return fakeTool(name, args);
  }
}

describe('demo brain', () => {
  it('books an oil change from the fixture phrases: vehicles, availability, proposal, confirmation, goodbye', async () => {
    const d = new Dialogue();
    const first = await d.say(phrase('book-oil-change'));
    expect(first.calls.map((c) => c.name)).toEqual(['get_customer_vehicles']);
    expect(first.text).toMatch(/oil change for your 2019 Toyota Camry\. What day/);

    const second = await d.say(phrase('tomorrow-morning'));
    const booking = { serviceCode: 'OIL', startsAt: '2026-11-24T09:00', vehicleId: 'veh-camry' };
    expect(second.calls).toEqual([
      { name: 'find_availability', args: { serviceCode: 'OIL', date: '2026-11-24', partOfDay: 'morning' } },
      { name: 'book_appointment', args: booking },
    ]);
    expect(second.text).toBe('READBACK book_appointment. Shall I book it?');

    const third = await d.say(phrase('yes-confirm'));
    expect(third.calls).toEqual([{ name: 'book_appointment', args: booking }]);
    expect(third.text).toMatch(/^You're all set: your oil change is booked for tomorrow at 9 AM\./);

    const last = await d.say(phrase('no-thanks'));
    expect(last.calls.map((c) => c.name)).toEqual(['end_call']);
    expect(last.text).toMatch(/Goodbye/);
  });

  it('asks before booking and never books on a "no"', async () => {
    const d = new Dialogue();
    await d.say('I need my brakes checked tomorrow afternoon');
    const answer = await d.say('No, that is too late');
    expect(answer.calls).toEqual([]);
    expect(answer.text).toMatch(/What day and time/);
  });

  it('cancels the appointment on the weekday the caller names, after confirmation', async () => {
    const d = new Dialogue();
    const listed = await d.say(phrase('cancel'));
    expect(listed.calls).toEqual([
      { name: 'list_my_appointments', args: {} },
      { name: 'cancel_appointment', args: { appointmentId: 'apt-thu' } },
    ]);
    expect(listed.text).toBe('READBACK cancel_appointment. Shall I cancel it?');
    const done = await d.say('Yes please.');
    expect(done.calls).toEqual([{ name: 'cancel_appointment', args: { appointmentId: 'apt-thu' } }]);
    expect(done.text).toMatch(/cancelled/);
  });

  it('reschedules: lists, looks for the new day, proposes, then moves on "yes"', async () => {
    const d = new Dialogue();
    const proposed = await d.say(phrase('reschedule'));
    expect(proposed.calls).toEqual([
      { name: 'list_my_appointments', args: {} },
      {
        name: 'find_availability',
        args: { serviceCode: 'ROTATE', date: '2026-11-27', partOfDay: 'afternoon' },
      },
      { name: 'reschedule_appointment', args: { appointmentId: 'apt-mon', startsAt: '2026-11-27T13:30' } },
    ]);
    expect(proposed.text).toBe('READBACK reschedule_appointment. Shall I make that change?');
    const moved = await d.say(phrase('yes-confirm'));
    expect(moved.calls).toEqual([
      { name: 'reschedule_appointment', args: { appointmentId: 'apt-mon', startsAt: '2026-11-27T13:30' } },
    ]);
  });

  it('answers opening hours for the day asked from dealership_info', async () => {
    const turn = await new Dialogue().say(phrase('hours'));
    expect(turn.calls).toEqual([{ name: 'dealership_info', args: { topic: 'hours' } }]);
    expect(turn.text).toMatch(/^On Saturdays we're open from 8 AM to 2 PM\./);
  });

  it('transfers to a person and announces it after the tool result', async () => {
    const turn = await new Dialogue().say(phrase('human'));
    expect(turn.calls.map((c) => c.name)).toEqual(['transfer_to_human']);
    expect(turn.text).toMatch(/connecting you with a service advisor/);
  });

  it('speaks a tool error instead of claiming success', async () => {
    const d = new Dialogue();
    d.messages.push(
      { role: 'user', content: 'book an oil change' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'book_appointment', arguments: '{}' } }],
      },
      {
        role: 'tool',
        tool_call_id: 'c1',
        content: JSON.stringify({ error: { code: 'SLOT_TAKEN', message: 'gone' } }),
      },
    );
    const reply = await createDemoBrain({ now: () => NOW })({
      model: 'demo',
      messages: d.messages,
      tools: TOOLS as never,
    });
    expect(reply.toolCalls).toBeUndefined();
    expect(reply.text).toMatch(/just taken/);
  });

  it('only calls tools the request offers', async () => {
    const turn = await new Dialogue([]).say(phrase('human'));
    expect(turn.calls).toEqual([]);
    expect(turn.text.length).toBeGreaterThan(0);
  });
});
