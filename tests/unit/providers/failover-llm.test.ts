import { FailoverLlm } from '../../../server/providers/fallback/llm';
import { ProviderError } from '../../../server/platform/errors';
import type { LlmChunk, LlmProvider } from '../../../server/providers/types';

function provider(
  name: string,
  behaviours: Array<'ok' | 500 | 400 | 408 | 'mid'>,
): LlmProvider & { calls: number } {
  return {
    name,
    calls: 0,
    async *stream() {
      const b = behaviours[this.calls++] ?? 'ok';
      if (b === 500 || b === 400 || b === 408) throw new ProviderError(name, 'boom', { status: b });
      yield { type: 'text', text: `${name} says hi` } as LlmChunk;
      if (b === 'mid') throw new ProviderError(name, 'dropped', { status: 502 });
      yield { type: 'done', finishReason: 'stop' } as LlmChunk;
    },
  };
}

const collect = async (llm: LlmProvider) => {
  const out: string[] = [];
  for await (const c of llm.stream({ messages: [], tools: [], signal: new AbortController().signal }))
    if (c.type === 'text') out.push(c.text);
  return out;
};

describe('FailoverLlm', () => {
  it('retries a retryable failure once, then moves to the secondary', async () => {
    const a = provider('a', [500, 500]);
    const b = provider('b', ['ok']);
    const failovers: string[] = [];
    const llm = new FailoverLlm([a, b], { onFailover: (from, to) => failovers.push(`${from}>${to}`) });
    expect(await collect(llm)).toEqual(['b says hi']);
    expect(a.calls).toBe(2);
    expect(failovers).toEqual(['a>b']);
  });

  it('a model that timed out is not retried when there is another: one timeout per model', async () => {
    const a = provider('a', [408, 408]);
    const b = provider('b', [408, 408]);
    await expect(collect(new FailoverLlm([a, b]))).rejects.toThrow('boom');
    expect([a.calls, b.calls]).toEqual([1, 1]);
    // Alone, it gets its one retry.
    const only = provider('only', [408, 'ok']);
    expect(await collect(new FailoverLlm([only]))).toEqual(['only says hi']);
    expect(only.calls).toBe(2);
  });

  it('does not retry a 400 on the same provider', async () => {
    const a = provider('a', [400]);
    const b = provider('b', ['ok']);
    expect(await collect(new FailoverLlm([a, b]))).toEqual(['b says hi']);
    expect(a.calls).toBe(1);
  });

  it('never restarts a stream that already produced words', async () => {
    const a = provider('a', ['mid']);
    const b = provider('b', ['ok']);
    await expect(collect(new FailoverLlm([a, b]))).rejects.toThrow('dropped');
    expect(b.calls).toBe(0);
  });

  it('throws the last error when every provider fails', async () => {
    await expect(collect(new FailoverLlm([provider('a', [500, 500])]))).rejects.toThrow('boom');
  });
});
