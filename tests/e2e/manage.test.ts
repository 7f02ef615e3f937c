import { localToUtc, addDays, formatLocalDate } from '../../server/bookings/time';
import type { ChatRequestBody } from '../../server/providers/emulators';
import { createDemoBrain } from '../../server/providers/emulators';
import { startStack, TZ, type Stack } from './harness';
import { agentReply, finalCall, say } from './flow';

jest.setTimeout(120_000);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack.close();
});

async function customerId(phone: string): Promise<string> {
  const { rows } = await stack.tdb.db.query<{ id: string }>(
    'SELECT id FROM customers WHERE phone_index = $1',
    [stack.cipher.blindIndex(phone)],
  );
  return rows[0]?.id as string;
}

/** Books directly in the database, `days` after the stack's Monday, at a local time. */
async function appointment(phone: string, days: number, time: string, bayId: number): Promise<string> {
  const date = addDays(formatLocalDate(stack.now, TZ), days);
  const start = localToUtc(`${date}T${time}`, TZ);
  const { rows } = await stack.tdb.db.query<{ id: string }>(
    `INSERT INTO appointments (customer_id, service_code, bay_id, starts_at, ends_at, source)
     VALUES ($1, 'OIL', $2, $3, $4, 'staff') RETURNING id`,
    [await customerId(phone), bayId, start, new Date(start.getTime() + 30 * 60_000)],
  );
  return rows[0]?.id as string;
}

const status = async (id: string) =>
  (
    await stack.tdb.db.query<{ status: string; starts_at: Date }>(
      'SELECT status, starts_at FROM appointments WHERE id = $1',
      [id],
    )
  ).rows[0];

describe('managing appointments by voice', () => {
  it("cancels the caller's own Thursday appointment after a yes", async () => {
    const thursday = await appointment('+13125550142', 3, '10:00', 1);
    const caller = await stack.dial({ from: '+13125550142' });
    await agentReply(caller, 0);
    await say(caller, 'cancel');
    expect((await status(thursday))?.status).toBe('booked');
    await say(caller, 'yes-confirm');
    expect((await status(thursday))?.status).toBe('cancelled');
    await caller.stop();
    expect(await finalCall(stack, caller.callSid)).toMatchObject({ outcome: 'cancelled' });
  });

  it("moves the caller's appointment to Friday afternoon: old one cancelled, new one booked", async () => {
    const thursday = await appointment('+13125550142', 3, '11:00', 2);
    const caller = await stack.dial({ from: '+13125550142' });
    await agentReply(caller, 0);
    await say(caller, 'reschedule');
    await say(caller, 'yes-confirm');
    expect((await status(thursday))?.status).toBe('cancelled');
    const { rows } = await stack.tdb.db.query<{ starts_at: Date; service_code: string }>(
      "SELECT starts_at, service_code FROM appointments WHERE customer_id = $1 AND status = 'booked'",
      [await customerId('+13125550142')],
    );
    expect(rows).toHaveLength(1);
    const friday = addDays(formatLocalDate(stack.now, TZ), 4);
    expect(formatLocalDate(rows[0]?.starts_at as Date, TZ)).toBe(friday);
    const hour = Number(
      new Intl.DateTimeFormat('en-US', { timeZone: TZ, hour: 'numeric', hourCycle: 'h23' }).format(
        rows[0]?.starts_at,
      ),
    );
    expect(hour).toBeGreaterThanOrEqual(12);
    await caller.stop();
    expect(await finalCall(stack, caller.callSid)).toMatchObject({ outcome: 'rescheduled' });
  });

  it("refuses to touch another customer's appointment, whatever the model asks", async () => {
    const luis = await appointment('+13125550199', 2, '09:00', 3);
    let toolResult = '';
    stack.emulators.openai.chat.respond((body: ChatRequestBody) => {
      const messages = body.messages as Array<{ role: string; content: string | null }>;
      const last = messages.at(-1);
      if (last?.role === 'tool') {
        toolResult = String(last.content);
        return { text: 'Sorry, I could not find that appointment.' };
      }
      return { toolCalls: [{ name: 'cancel_appointment', arguments: { appointmentId: luis } }] };
    });
    try {
      const caller = await stack.dial({ from: '+13125550142' });
      await agentReply(caller, 0);
      await say(caller, 'cancel');
      await say(caller, 'yes-confirm');
      expect(toolResult).toContain('APPOINTMENT_NOT_FOUND');
      expect((await status(luis))?.status).toBe('booked');
      await caller.stop();
    } finally {
      stack.emulators.openai.chat.respond(createDemoBrain({ now: () => stack.now, timeZone: TZ }));
    }
  });
});
