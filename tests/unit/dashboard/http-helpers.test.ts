import { parseCookies, serializeCookie } from '../../../server/dashboard/cookies';
import { field, safeNext } from '../../../server/dashboard/http';
import { MemoryKv } from '../../../server/platform/kv';
import { RateLimiter } from '../../../server/dashboard/rate-limit';

describe('cookies', () => {
  it('parse the first value of each name, decoding and skipping junk', () => {
    const c = parseCookies('a=1; b=%7Bx%7D; a=2; bad; =x; q="quoted"; z=%E0%A4%A');
    expect([...c.entries()]).toEqual([
      ['a', '1'],
      ['b', '{x}'],
      ['q', 'quoted'],
    ]);
    expect(parseCookies(undefined).size).toBe(0);
  });

  it('serialize HttpOnly SameSite=Strict cookies, Secure on request', () => {
    expect(serializeCookie('s', 'a b', { maxAgeS: 60, secure: false })).toBe(
      's=a%20b; Path=/; Max-Age=60; HttpOnly; SameSite=Strict',
    );
    expect(serializeCookie('s', '', { maxAgeS: 0, secure: true, path: '/auth' })).toBe(
      's=; Path=/auth; Max-Age=0; HttpOnly; SameSite=Strict; Secure',
    );
    expect(() => serializeCookie('a;b', 'x', { maxAgeS: 1, secure: false })).toThrow();
  });
});

describe('request helpers', () => {
  it('safeNext keeps dashboard paths and drops everything else', () => {
    expect(safeNext('/dashboard/calls?from=2026-01-01')).toBe('/dashboard/calls?from=2026-01-01');
    for (const bad of ['https://x.test', '//x.test', '/dashboardx', '/api/me', '/dashboard\\..', undefined])
      expect(safeNext(bad)).toBe('/dashboard');
  });

  it('field refuses repeated values instead of picking one', () => {
    expect(field({ a: 'x' }, 'a')).toBe('x');
    expect(field({ a: '' }, 'a')).toBeUndefined();
    expect(() => field({ a: ['x', 'y'] }, 'a')).toThrow(/once/);
    expect(() => field({ a: 'x'.repeat(300) }, 'a')).toThrow(/too long/);
  });
});

describe('rate limiter (fixed windows aligned to the clock)', () => {
  it('counts within a window, refuses past the limit, says when it resets, and starts over', async () => {
    let now = 1_700_000_000_000 - (1_700_000_000_000 % 60_000) + 15_000; // 15 s into a window
    const limiter = new RateLimiter(new MemoryKv(), Buffer.alloc(32, 1), () => now);
    const rule = { limit: 2, windowMs: 60_000 };
    const a = await limiter.hit('t', 'ip', rule);
    const b = await limiter.hit('t', 'ip', rule);
    const c = await limiter.hit('t', 'ip', rule);
    expect([a.allowed, b.allowed, c.allowed]).toEqual([true, true, false]);
    expect([a.remaining, b.remaining, c.remaining]).toEqual([1, 0, 0]);
    expect(c.resetS).toBe(45);
    expect((await limiter.hit('t', 'other', rule)).allowed).toBe(true);
    now += 45_000;
    expect(await limiter.hit('t', 'ip', rule)).toMatchObject({ allowed: true, remaining: 1, resetS: 60 });
  });
});

describe('MemoryKv.incr', () => {
  it('counts from 1, keeps the first expiry, and restarts after it', async () => {
    const kv = new MemoryKv();
    expect(await kv.incr('k', 40)).toBe(1);
    expect(await kv.incr('k', 10_000)).toBe(2);
    expect(await kv.get('k')).toBe('2');
    await new Promise((r) => setTimeout(r, 60));
    expect(await kv.incr('k', 40)).toBe(1);
  });
});
