import { FailoverTts } from '../../../server/providers/fallback/tts';
import { ProviderError } from '../../../server/platform/errors';
import type { TtsProvider } from '../../../server/providers/types';

function tts(name: string, behaviour: 'ok' | number | 'mid'): TtsProvider & { calls: number } {
  return {
    name,
    calls: 0,
    async *synthesize() {
      this.calls++;
      if (typeof behaviour === 'number') throw new ProviderError(name, 'down', { status: behaviour });
      yield Buffer.from(name);
      if (behaviour === 'mid') throw new ProviderError(name, 'dropped', { status: 502 });
    },
  };
}

const run = async (p: TtsProvider) => {
  const out: string[] = [];
  for await (const c of p.synthesize('hi', { signal: new AbortController().signal })) out.push(c.toString());
  return out;
};

describe('FailoverTts', () => {
  it.each([503, 429, 401])('moves to the next provider on %s before the first byte', async (status) => {
    const failovers: string[] = [];
    const chain = new FailoverTts([tts('eleven', status), tts('openai', 'ok')], {
      onFailover: (a, b) => failovers.push(`${a}>${b}`),
    });
    expect(await run(chain)).toEqual(['openai']);
    expect(failovers).toEqual(['eleven>openai']);
  });

  it('does not switch voices mid-sentence', async () => {
    const second = tts('openai', 'ok');
    await expect(run(new FailoverTts([tts('eleven', 'mid'), second]))).rejects.toThrow('dropped');
    expect(second.calls).toBe(0);
  });

  it('passes a malformed-request error through', async () => {
    const second = tts('openai', 'ok');
    await expect(run(new FailoverTts([tts('eleven', 400), second]))).rejects.toThrow('down');
    expect(second.calls).toBe(0);
  });
});
