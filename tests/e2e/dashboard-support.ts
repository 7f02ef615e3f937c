/**
 * For the dashboard's browser test: Debian's chromium driven by playwright-core, and a booking made
 * the way a customer makes one, by a simulated phone call against the whole stack (harness.ts).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import type { TwilioCaller } from '../support/twilio-caller';
import type { Stack } from './harness';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = path.resolve(__dirname, '../../artifacts/dashboard');

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Headless, sandbox-less (CI runs as root), nothing phoning home, a fresh profile every time. */
export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'bayline-chromium-'));
  mkdirSync(ARTIFACTS, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport: { width: 1280, height: 860 },
    timezoneId: 'America/Chicago',
    locale: 'en-US',
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Retries an assertion until it passes (pages change asynchronously) or the time is up, then
 * rethrows its last failure. playwright-core has no test runner's `expect`; jest's does the checking.
 */
export async function eventually(assertion: () => Promise<void> | void, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await assertion();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Waits until the agent has said something after `since` and the caller has heard all of it. */
async function agentReply(caller: TwilioCaller, since: number, timeoutMs = 20_000): Promise<void> {
  await caller.waitFor((c) => c.media.some((m) => m.at > since), timeoutMs);
  await caller.waitFor((c) => c.pendingMarks.length === 0 && c.bufferedAudioMs === 0, timeoutMs);
}

/**
 * Dana calls, books an oil change for tomorrow morning and confirms, then hangs up; resolves once
 * the call record is final. The same conversation as booking.test.ts.
 */
export async function bookOilChangeByPhone(
  stack: Stack,
): Promise<{ callSid: string; appointmentId: string }> {
  const caller = await stack.dial({ from: '+13125550142' });
  await agentReply(caller, 0);
  for (const fixture of ['book-oil-change', 'tomorrow-morning', 'yes-confirm']) {
    await caller.speak(fixture);
    await agentReply(caller, caller.now());
  }
  await caller.stop();
  await caller.waitFor((c) => !c.isOpen, 5000);
  for (let i = 0; i < 100; i++) {
    const { rows } = await stack.tdb.db.query<{ status: string; id: string | null }>(
      `SELECT c.status, a.id FROM calls c LEFT JOIN appointments a ON a.call_sid = c.call_sid WHERE c.call_sid = $1`,
      [caller.callSid],
    );
    const row = rows[0];
    if (row?.status === 'completed' && row.id) return { callSid: caller.callSid, appointmentId: row.id };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the phone booking did not complete');
}
