import { SentenceChunker } from '../../../server/conversation/chunker';
import { isBackchannel } from '../../../server/conversation/backchannel';

describe('SentenceChunker', () => {
  it('emits each sentence as soon as it ends, across arbitrary deltas', () => {
    const c = new SentenceChunker();
    const out: string[] = [];
    for (const d of ['I have ', 'nine o', "'clock tomorrow. Does ", 'that work for you? ', 'Great'])
      out.push(...c.push(d));
    expect(out).toEqual(["I have nine o'clock tomorrow.", 'Does that work for you?']);
    expect(c.flush()).toBe('Great');
    expect(c.flush()).toBeNull();
  });

  it('does not cut after abbreviations or tiny fragments', () => {
    const c = new SentenceChunker();
    expect(c.push('Ok. ')).toEqual([]);
    expect(c.push('Dr. Smith will see your car. ')).toEqual(['Ok. Dr. Smith will see your car.']);
  });

  it('cuts a run-on clause at a comma', () => {
    const c = new SentenceChunker();
    const long = 'We can do Tuesday at nine, or Wednesday at ten, or Thursday at eleven, '.repeat(3);
    const out = c.push(long);
    expect(out.length).toBeGreaterThan(0);
    expect(out[0]?.endsWith(',')).toBe(true);
  });
});

describe('isBackchannel', () => {
  it.each(['mm-hm', 'Uh-huh.', 'yeah', 'Okay', 'right', 'sure', 'okay, okay', 'Mm hm'])(
    '%s is a backchannel',
    (t) => {
      expect(isBackchannel(t)).toBe(true);
    },
  );
  it.each(['Yeah, but can we do Friday instead?', 'Wait, stop', 'Actually I need brakes', 'no'])(
    '%s is not',
    (t) => {
      expect(isBackchannel(t)).toBe(false);
    },
  );
});
