/**
 * A load test split over two machines, so the callers' CPU is not the server's: `--serve` starts
 * the server side (server, emulators, database, keys) and prints the command for the callers;
 * `--url … --api-key K` runs the callers and reads the server's own per-turn figures from the
 * staff API, since it cannot read the database.
 */
import type { TurnLatency } from '../server/conversation/ports';
import type { LoadtestOptions } from './loadtest-options';
import type { Target } from './loadtest-target';

interface ApiCall {
  callSid: string;
  status: 'in_progress' | 'completed';
  latency: TurnLatency[];
}

const DAY_MS = 86_400_000;
const POLL_MS = 500;

/**
 * The calls' final latency records from `GET /api/calls` (one request per poll: the API allows a
 * principal 300 a minute). The days around today's UTC date cover the dealership's, whatever its
 * time zone; the list holds the newest 1,000 calls.
 */
export async function apiCallLatencies(
  baseUrl: string,
  apiKey: string,
  callSids: string[],
  timeoutMs: number,
): Promise<Map<string, TurnLatency[]>> {
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const url = `${baseUrl}/api/calls?from=${day(Date.now() - DAY_MS)}&to=${day(Date.now() + DAY_MS)}`;
  const wanted = new Set(callSids);
  const out = new Map<string, TurnLatency[]>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(url, { headers: { authorization: `Bearer ${apiKey}` } });
    if (!res.ok) throw new Error(`GET /api/calls answered ${res.status}: ${await res.text()}`);
    const { calls } = (await res.json()) as { calls: ApiCall[] };
    for (const c of calls)
      if (wanted.has(c.callSid) && c.status === 'completed') out.set(c.callSid, c.latency);
    if (out.size >= wanted.size || Date.now() > deadline) return out;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** The callers' command line for a served target: what they must know of it, and the latencies. */
export function callersCommand(
  opts: LoadtestOptions,
  target: Target,
  publicUrl: string,
  apiKey: string,
): string {
  return [
    'npm run loadtest --',
    `--url ${publicUrl}`,
    `--auth-token ${target.authToken}`,
    `--account-sid ${target.accountSid}`,
    `--api-key ${apiKey}`,
    `--stt-ms ${opts.sttMs} --llm-ms ${opts.llmMs} --tts-ms ${opts.ttsMs}`,
    '--calls N --seconds S',
  ].join(' ');
}
