/**
 * `npm run call -- [--scenario NAME] [--url http://127.0.0.1:8080] [--from +13125550142] [--wav out.wav]`
 * A simulated caller against a running server (demo mode by default): signed webhook, signed media
 * stream, fixture speech in real time, Twilio-like playback with marks. Prints both sides and each
 * turn's latency (end of caller speech → first agent audio) and saves the agent's audio as a WAV.
 * With BAYLINE_API_KEY set it also prints the server's transcript of the call.
 */
import { DEMO_TWILIO } from '../server/config';
import { fixtureManifest } from '../tests/support/audio-fixtures';
import { TwilioCaller } from '../tests/support/twilio-caller';
import { argValue, fail } from './cli';

const SCENARIOS: Record<string, string[]> = {
  book: ['book-oil-change', 'tomorrow-morning', 'yes-confirm', 'no-thanks'],
  reschedule: ['reschedule', 'yes-confirm', 'no-thanks'],
  cancel: ['cancel', 'yes-confirm', 'no-thanks'],
  hours: ['hours', 'no-thanks'],
  human: ['human'],
  'barge-in': ['book-oil-change', '!reschedule', 'no-thanks'],
};

const args = process.argv.slice(2);
const scenario = argValue(args, '--scenario') ?? 'book';
const steps =
  SCENARIOS[scenario] ?? fail(`unknown scenario ${scenario}; one of: ${Object.keys(SCENARIOS).join(', ')}`);
const base = (argValue(args, '--url') ?? `http://127.0.0.1:${process.env.PORT ?? 8080}`)
  .replace(/^ws/, 'http')
  .replace(/\/twilio\/media$/, '')
  .replace(/\/+$/, '');
const publicBase = (process.env.PUBLIC_BASE_URL ?? base).replace(/\/+$/, '');
const wav = argValue(args, '--wav') ?? `call-${scenario}.wav`;
const texts = new Map(fixtureManifest().map((f) => [f.file.replace(/\.ulaw$/, ''), f.text]));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function listen(
  caller: TwilioCaller,
  since: number,
  timeoutMs = 30_000,
): Promise<{ firstAudioMs: number | null; audioMs: number }> {
  try {
    await caller.waitFor((c) => c.media.some((m) => m.at > since), timeoutMs);
  } catch {
    return { firstAudioMs: null, audioMs: 0 };
  }
  const first = caller.media.find((m) => m.at > since)?.at ?? since;
  await caller
    .waitFor((c) => (c.pendingMarks.length === 0 && c.bufferedAudioMs === 0) || !c.isOpen, timeoutMs)
    .catch(() => undefined);
  const audioMs = caller.media.filter((m) => m.at > since).reduce((n, m) => n + m.bytes / 8, 0);
  return { firstAudioMs: first - since, audioMs };
}

async function main(): Promise<void> {
  const caller = new TwilioCaller({
    baseUrl: base,
    publicBaseUrl: publicBase,
    authToken: process.env.TWILIO_AUTH_TOKEN ?? DEMO_TWILIO.authToken,
    accountSid: process.env.TWILIO_ACCOUNT_SID ?? DEMO_TWILIO.accountSid,
    from: argValue(args, '--from') ?? '+13125550142',
  });
  console.log(`Calling ${base} as ${caller.from} (scenario ${scenario}, CallSid ${caller.callSid})`);
  const ring = await caller.placeCall();
  if (!ring.streamUrl) fail(`the voice webhook answered ${ring.status} without a stream:\n${ring.body}`);
  await caller.connect();
  const greeting = await listen(caller, caller.now());
  console.log(
    `agent  ▸ (greeting, ${(greeting.audioMs / 1000).toFixed(1)} s of audio; first audio ${greeting.firstAudioMs?.toFixed(0) ?? '—'} ms after stream start)`,
  );
  for (const step of steps) {
    const bargeIn = step.startsWith('!');
    const name = step.replace(/^!/, '');
    if (bargeIn) {
      // Talk over the agent's reply to show the interruption.
      await sleep(1500);
    }
    console.log(`caller ▸ ${texts.get(name) ?? name}`);
    const clearsBefore = caller.clears.length;
    await caller.speak(name);
    const ended = caller.now();
    if (caller.clears.length > clearsBefore) console.log('         (agent interrupted: clear received)');
    if (!caller.isOpen) break;
    const reply = bargeIn ? await listen(caller, ended) : await listen(caller, ended);
    if (reply.firstAudioMs === null) {
      console.log('agent  ▸ (no reply)');
      continue;
    }
    console.log(
      `agent  ▸ (${(reply.audioMs / 1000).toFixed(1)} s of audio) — turn latency ${reply.firstAudioMs.toFixed(0)} ms from end of speech to first audio`,
    );
    if (!caller.isOpen) break;
  }
  if (caller.isOpen) await caller.stop();
  caller.saveWav(wav);
  console.log(`agent audio saved to ${wav}`);
  const apiKey = process.env.BAYLINE_API_KEY;
  if (apiKey) {
    await sleep(500);
    const res = await fetch(`${base}/api/calls/${caller.callSid}`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    if (res.ok) {
      const call = (await res.json()) as {
        outcome: string;
        turns: Array<{ role: string; text: string }>;
        latency: Array<Record<string, number | null>>;
      };
      console.log(`\nTranscript (outcome ${call.outcome}):`);
      for (const t of call.turns) console.log(`  ${t.role.padEnd(6)} ${t.text}`);
      console.log('Per-turn latency (ms):');
      for (const l of call.latency) console.log(`  ${JSON.stringify(l)}`);
    } else {
      console.log(`(transcript not available: ${res.status})`);
    }
  }
  await caller.close();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
