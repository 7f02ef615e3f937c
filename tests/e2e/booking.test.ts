import { startStack, type Stack } from './harness';
import type { TwilioCaller } from '../support/twilio-caller';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack.close();
});

/** Waits until the agent has said something after `since` and the caller has heard all of it. */
async function agentReply(caller: TwilioCaller, since: number, timeoutMs = 20_000): Promise<void> {
  await caller.waitFor((c) => c.media.some((m) => m.at > since), timeoutMs);
  await caller.waitFor((c) => c.pendingMarks.length === 0 && c.bufferedAudioMs === 0, timeoutMs);
}

async function say(caller: TwilioCaller, fixture: string): Promise<void> {
  await caller.speak(fixture);
  await agentReply(caller, caller.now());
}

jest.setTimeout(120_000);

describe('booking by voice', () => {
  it("books an oil change for Dana's Camry: one appointment in Postgres, confirmed before writing", async () => {
    const caller = await stack.dial({ from: '+13125550142' });
    await agentReply(caller, 0);
    await say(caller, 'book-oil-change');
    await say(caller, 'tomorrow-morning');
    const before = await stack.tdb.db.query('SELECT id FROM appointments');
    expect(before.rows).toHaveLength(0);
    await say(caller, 'yes-confirm');
    const { rows } = await stack.tdb.db.query<{
      service_code: string;
      status: string;
      source: string;
      call_sid: string;
      make: string;
      model: string;
      year: number;
    }>(
      `SELECT a.service_code, a.status, a.source, a.call_sid, v.make, v.model, v.year
         FROM appointments a JOIN vehicles v ON v.id = a.vehicle_id`,
    );
    const llmSaw = stack.emulators.openai.chat.requests.all.map((r) => JSON.stringify(r.messages)).join('\n');
    expect({ rows, llmSaw: rows.length === 1 ? '' : llmSaw.slice(-3000) }).toMatchObject({
      rows: [
        {
          service_code: 'OIL',
          status: 'booked',
          source: 'phone',
          call_sid: caller.callSid,
          make: 'Toyota',
          model: 'Camry',
          year: 2019,
        },
      ],
    });
    await caller.stop();
    await caller.waitFor((c) => !c.isOpen, 5000);
    // The record is final after stop: outcome, turns (encrypted) and per-turn latency.
    let call: { status: string; outcome: string; latency: unknown[] } | undefined;
    for (let i = 0; i < 50 && call?.status !== 'completed'; i++) {
      call = (
        await stack.tdb.db.query<{ status: string; outcome: string; latency: unknown[] }>(
          'SELECT status, outcome, latency FROM calls WHERE call_sid = $1',
          [caller.callSid],
        )
      ).rows[0];
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(call).toMatchObject({ status: 'completed', outcome: 'booked' });
    expect(call?.latency.length).toBeGreaterThanOrEqual(3);
    const turns = await stack.tdb.db.query<{ role: string; text_enc: string }>(
      'SELECT role, text_enc FROM call_turns WHERE call_sid = $1 ORDER BY seq',
      [caller.callSid],
    );
    expect(turns.rows.length).toBeGreaterThanOrEqual(6);
    expect(turns.rows.every((t) => t.text_enc.startsWith('v1.'))).toBe(true);
    expect(stack.cipher.decrypt(turns.rows[0]?.text_enc as string)).toContain('Hi Dana');
    expect(await stack.tr.redis.exists(`${stack.tr.prefix}call:{${caller.callSid}}`)).toBe(0);
  });
});
