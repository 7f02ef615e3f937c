/**
 * The two-machine load test: the command a served target prints for its callers, the URL it
 * tells the server it is reached at, and the server-side turn figures read over the staff API.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { apiCallLatencies, callersCommand } from '../../../scripts/loadtest-remote';
import { parseOptions, type LoadtestOptions } from '../../../scripts/loadtest-options';
import { defaultPublicUrl, type Target } from '../../../scripts/loadtest-target';

describe('callersCommand', () => {
  it('names the server, its credentials and the emulated latencies the turn figures subtract', () => {
    const opts = parseOptions(['--serve', '--llm-ms', '250']) as LoadtestOptions;
    const target = { authToken: 'tok', accountSid: 'AC9' } as Target;
    const line = callersCommand(opts, target, 'http://10.0.0.5:9000', 'bk_key');
    expect(line).toBe(
      'npm run loadtest -- --url http://10.0.0.5:9000 --auth-token tok --account-sid AC9 --api-key bk_key ' +
        '--stt-ms 100 --llm-ms 250 --tts-ms 150 --calls N --seconds S',
    );
    // What it prints parses back into the options it means.
    const back = parseOptions(
      line
        .split(' ')
        .slice(3)
        .map((a) => (a === 'N' || a === 'S' ? '10' : a)),
    );
    expect(back).toMatchObject({ url: 'http://10.0.0.5:9000', apiKey: 'bk_key', llmMs: 250 });
  });
});

describe('defaultPublicUrl', () => {
  it('is the bound host, or a non-loopback address when bound to every interface', () => {
    expect(defaultPublicUrl('127.0.0.1', 8080)).toBe('http://127.0.0.1:8080');
    expect(defaultPublicUrl('::1', 8080)).toBe('http://[::1]:8080');
    const any = defaultPublicUrl('0.0.0.0', 8080);
    expect(any).toMatch(/^http:\/\/\d+\.\d+\.\d+\.\d+:8080$/);
    expect(any).not.toContain('0.0.0.0');
  });
});

describe('apiCallLatencies', () => {
  it('polls GET /api/calls with the key until every call is final, and keeps their latency records', async () => {
    const seen: Array<{ url: string; auth: string | undefined }> = [];
    let polls = 0;
    const server = http.createServer((req, res) => {
      seen.push({ url: req.url ?? '', auth: req.headers.authorization });
      polls++;
      const calls = [
        { callSid: 'CA1', status: 'completed', latency: [{ firstFrameMs: 451 }] },
        { callSid: 'CA2', status: polls > 1 ? 'completed' : 'in_progress', latency: [] },
        { callSid: 'CA-other', status: 'completed', latency: [] },
      ];
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ calls }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const out = await apiCallLatencies(base, 'bk_key', ['CA1', 'CA2'], 5_000);
      expect([...out.keys()].sort()).toEqual(['CA1', 'CA2']);
      expect(out.get('CA1')).toEqual([{ firstFrameMs: 451 }]);
      expect(polls).toBe(2);
      expect(seen[0]?.auth).toBe('Bearer bk_key');
      expect(seen[0]?.url).toMatch(/^\/api\/calls\?from=\d{4}-\d\d-\d\d&to=\d{4}-\d\d-\d\d$/);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('says why when the API refuses the key', async () => {
    const server = http.createServer((_req, res) => {
      res.statusCode = 401;
      res.end('{"error":{"code":"UNAUTHENTICATED"}}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await expect(apiCallLatencies(base, 'bad', ['CA1'], 1_000)).rejects.toThrow(/answered 401/);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
