import { parseOptions } from '../../../scripts/loadtest-options';

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

  it('refuses a CPU list taskset would misread and a priority outside 1-99', () => {
    expect(() => parseOptions(['--server-cpus', '1;rm'])).toThrow(/--server-cpus takes a CPU list/);
    expect(() => parseOptions(['--loadgen-cpus', 'all'])).toThrow(/--loadgen-cpus takes a CPU list/);
    expect(() => parseOptions(['--server-rt', '0'])).toThrow(/--server-rt/);
    expect(() => parseOptions(['--emulators-rt', '100'])).toThrow(/--emulators-rt/);
  });
});
