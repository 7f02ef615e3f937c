import {
  optionWarnings,
  parseOptions,
  serverLoopRt,
  type LoadtestOptions,
} from '../../../scripts/loadtest-options';

describe('loadtest options', () => {
  it('takes CPU lists for the server and the load generator, and a real-time priority', () => {
    expect(
      parseOptions([
        '--server-cpus',
        '1',
        '--loadgen-cpus',
        '0,2-3',
        '--server-rt',
        '10',
        '--emulators-rt',
        '9',
      ]),
    ).toMatchObject({
      serverCpus: '1',
      loadgenCpus: '0,2-3',
      serverRt: 10,
      emulatorsRt: 9,
    });
    expect(parseOptions([])).toMatchObject({
      serverCpus: undefined,
      loadgenCpus: undefined,
      serverRt: undefined,
      emulatorsRt: undefined,
    });
  });

  it('--server-env takes NAME=VALUE pairs for the server, and refuses anything else', () => {
    expect(parseOptions(['--server-env', 'MALLOC_ARENA_MAX=2 UV_THREADPOOL_SIZE=8'])).toMatchObject({
      serverEnv: { MALLOC_ARENA_MAX: '2', UV_THREADPOOL_SIZE: '8' },
    });
    expect(parseOptions([])).toMatchObject({ serverEnv: {} });
    expect(() => parseOptions(['--server-env', 'MALLOC_ARENA_MAX'])).toThrow(
      '--server-env takes NAME=VALUE pairs, not "MALLOC_ARENA_MAX"',
    );
    expect(() => parseOptions(['--server-env', '2X=1'])).toThrow('--server-env takes NAME=VALUE pairs');
  });

  it("leak check: waits 35 s at each point and, unless asked, not for V8's memory reducer", () => {
    expect(parseOptions(['--total', '1000'])).toMatchObject({
      leakWaitSeconds: 35,
      leakReducerWaitSeconds: 0,
    });
    expect(parseOptions(['--total', '10', '--leak-reducer-wait', '300'])).toMatchObject({
      leakReducerWaitSeconds: 300,
    });
    expect(() => parseOptions(['--leak-reducer-wait', '-1'])).toThrow('--leak-reducer-wait');
  });

  it('--server-first puts the emulators above the server, and explicit priorities win', () => {
    const first = parseOptions(['--server-first']) as LoadtestOptions;
    expect(first).toMatchObject({ serverRt: 20, emulatorsRt: 30, callersRt: undefined });
    expect(serverLoopRt(first)).toBe(21);
    expect(
      parseOptions(['--server-first', '--server-rt', '40', '--emulators-rt', '50', '--callers-rt', '45']),
    ).toMatchObject({ serverRt: 40, emulatorsRt: 50, callersRt: 45 });
    expect(parseOptions(['--callers-rt', '7'])).toMatchObject({ callersRt: 7, serverRt: undefined });
  });

  it("puts the server's event loop one step above its threads and above real-time callers", () => {
    expect(serverLoopRt({ serverRt: undefined, callersRt: 25 })).toBeUndefined();
    expect(serverLoopRt({ serverRt: 20, callersRt: undefined })).toBe(21);
    expect(serverLoopRt({ serverRt: 20, callersRt: 25 })).toBe(26);
    expect(serverLoopRt({ serverRt: 30, callersRt: 25 })).toBe(31);
  });

  it('warns when the emulators would run below a real-time server', () => {
    const warn = (args: string[]) => optionWarnings(parseOptions(args) as LoadtestOptions);
    expect(warn(['--server-rt', '20', '--emulators-rt', '10'])).toEqual([
      expect.stringMatching(
        /not run above the server's real-time priority \(20, its event loop 21\).*--server-first/,
      ),
    ]);
    expect(warn(['--server-rt', '20'])).toHaveLength(1);
    expect(warn(['--server-rt', '20', '--emulators-rt', '21'])).toHaveLength(1);
    expect(warn(['--server-rt', '20', '--emulators-rt', '22'])).toEqual([]);
    // Real-time callers lift the event loop: the emulators must clear it.
    expect(warn(['--server-rt', '20', '--callers-rt', '25', '--emulators-rt', '26'])).toEqual([
      expect.stringMatching(/its event loop 26\).*--emulators-rt above 26/),
    ]);
    expect(warn(['--server-rt', '20', '--callers-rt', '25', '--emulators-rt', '27'])).toEqual([]);
    expect(warn(['--callers-rt', '25', '--emulators-rt', '40'])).toEqual([
      expect.stringMatching(/callers run at real-time priority 25 above a server at normal priority/),
    ]);
    expect(warn(['--server-first'])).toEqual([]);
    expect(warn([])).toEqual([]);
    expect(warn(['--server-rt', '20', '--url', 'http://127.0.0.1:8080'])).toEqual([]);
  });

  it('warns when a real-time server is pinned to one CPU (its event loop spins on V8 tasks)', () => {
    const warn = (args: string[]) => optionWarnings(parseOptions(args) as LoadtestOptions);
    expect(warn(['--server-first', '--server-cpus', '1', '--loadgen-cpus', '0'])).toEqual([
      expect.stringMatching(/share one CPU at real-time priority.*Give it two CPUs/),
    ]);
    expect(warn(['--server-first', '--server-cpus', '1-1'])).toHaveLength(1);
    expect(warn(['--server-first', '--server-cpus', '0-1'])).toEqual([]);
    expect(warn(['--server-first', '--server-cpus', '0,2'])).toEqual([]);
    expect(warn(['--server-cpus', '1', '--loadgen-cpus', '0'])).toEqual([]);
  });

  it('warns when real-time callers would preempt cluster workers, whose loops are not raised', () => {
    const warn = (args: string[]) => optionWarnings(parseOptions(args) as LoadtestOptions);
    const rt = ['--callers-rt', '25', '--emulators-rt', '40'];
    expect(warn(['--server-first', ...rt, '--workers', '2'])).toEqual([
      expect.stringMatching(/workers' event loops stay at --server-rt 20.*--server-rt 26/),
    ]);
    expect(warn(['--server-first', ...rt])).toEqual([]);
    expect(warn(['--server-rt', '26', ...rt, '--workers', '2'])).toEqual([]);
    expect((parseOptions(['--workers', '2']) as LoadtestOptions).workers).toBe(2);
    expect((parseOptions([]) as LoadtestOptions).workers).toBe(1);
    expect(() => parseOptions(['--workers', '0'])).toThrow(/--workers/);
  });

  it('serves for callers elsewhere, or targets any http(s) origin with what it needs to know', () => {
    expect(parseOptions(['--serve', '--host', '0.0.0.0', '--port', '9000'])).toMatchObject({
      serve: true,
      host: '0.0.0.0',
      port: 9000,
      publicUrl: undefined,
    });
    expect(parseOptions([])).toMatchObject({ serve: false, host: '127.0.0.1', port: undefined });
    expect(
      parseOptions([
        '--url',
        'http://10.0.0.5:8080/',
        '--auth-token',
        't',
        '--account-sid',
        'AC1',
        '--api-key',
        'bk_x',
      ]),
    ).toMatchObject({ url: 'http://10.0.0.5:8080', authToken: 't', accountSid: 'AC1', apiKey: 'bk_x' });
    expect(parseOptions(['--serve', '--public-url', 'https://lt.example.com/'])).toMatchObject({
      publicUrl: 'https://lt.example.com',
    });
    expect(() => parseOptions(['--url', 'http://10.0.0.5:8080/twilio'])).toThrow(/--url must be an http/);
    expect(() => parseOptions(['--url', 'ftp://10.0.0.5'])).toThrow(/--url must be an http/);
    expect(() => parseOptions(['--serve', '--public-url', '10.0.0.5:80'])).toThrow(/--public-url/);
    expect(() => parseOptions(['--serve', '--url', 'http://127.0.0.1:8080'])).toThrow(/not both/);
  });

  it('refuses a CPU list taskset would misread and a priority outside 1-99', () => {
    expect(() => parseOptions(['--server-cpus', '1;rm'])).toThrow(/--server-cpus takes a CPU list/);
    expect(() => parseOptions(['--loadgen-cpus', 'all'])).toThrow(/--loadgen-cpus takes a CPU list/);
    expect(() => parseOptions(['--server-rt', '0'])).toThrow(/--server-rt/);
    // Its event loop runs one step above the server's threads and the callers: 98 and 99 leave no room
    // below the emulators.
    expect(() => parseOptions(['--server-rt', '98'])).toThrow(
      /--server-rt must be a number between 1 and 97/,
    );
    expect(() => parseOptions(['--callers-rt', '98'])).toThrow(/--callers-rt/);
    expect(() => parseOptions(['--emulators-rt', '100'])).toThrow(/--emulators-rt/);
  });
});
