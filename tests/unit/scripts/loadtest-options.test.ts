import { optionWarnings, parseOptions, type LoadtestOptions } from '../../../scripts/loadtest-options';

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

  it('--server-first puts the emulators above the server, and explicit priorities win', () => {
    expect(parseOptions(['--server-first'])).toMatchObject({ serverRt: 20, emulatorsRt: 30 });
    expect(parseOptions(['--server-first', '--server-rt', '40', '--emulators-rt', '50'])).toMatchObject({
      serverRt: 40,
      emulatorsRt: 50,
    });
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
    expect(warn(['--server-first'])).toEqual([]);
    expect(warn([])).toEqual([]);
    expect(warn(['--server-rt', '20', '--url', 'http://127.0.0.1:8080'])).toEqual([]);
  });

  it('refuses a CPU list taskset would misread and a priority outside 1-99', () => {
    expect(() => parseOptions(['--server-cpus', '1;rm'])).toThrow(/--server-cpus takes a CPU list/);
    expect(() => parseOptions(['--loadgen-cpus', 'all'])).toThrow(/--loadgen-cpus takes a CPU list/);
    expect(() => parseOptions(['--server-rt', '0'])).toThrow(/--server-rt/);
    // Its event loop runs one step above: 99 would leave no room.
    expect(() => parseOptions(['--server-rt', '99'])).toThrow(
      /--server-rt must be a number between 1 and 98/,
    );
    expect(() => parseOptions(['--emulators-rt', '100'])).toThrow(/--emulators-rt/);
  });
});
