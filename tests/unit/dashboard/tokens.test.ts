import { TokenSigner } from '../../../server/dashboard/tokens';

const K1 = Buffer.alloc(32, 1);
const K2 = Buffer.alloc(32, 2);
const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 24, 15, 0, 0);

function signer(keys: Array<[number, Buffer]>, now: { t: number }, startedAt = T0) {
  return new TokenSigner(new Map(keys), {
    ttlMs: 30 * MIN,
    refreshAfterMs: 5 * MIN,
    sessionMaxMs: 12 * 60 * MIN,
    graceMs: 10 * MIN,
    startedAt,
    now: () => now.t,
  });
}

const session = (authS: number) => ({ sub: 'u1', sid: 's1', csrf: 'c1', pv: 'p1', auth: authS });

describe('staff session tokens', () => {
  it('sign with the highest key version, name it in the kid header, and verify', () => {
    const now = { t: T0 };
    const s = signer(
      [
        [1, K1],
        [2, K2],
      ],
      now,
    );
    const token = s.sign(session(T0 / 1000));
    const header = JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString());
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT', kid: '2' });
    const v = s.verify(token);
    expect(v).toMatchObject({
      ok: true,
      kid: 2,
      stale: false,
      claims: { sub: 'u1', sid: 's1', exp: T0 / 1000 + 1800 },
    });
  });

  it('expire after their lifetime and are marked stale (to re-issue) after five minutes', () => {
    const now = { t: T0 };
    const s = signer([[1, K1]], now);
    const token = s.sign(session(T0 / 1000));
    now.t = T0 + 6 * MIN;
    expect(s.verify(token)).toMatchObject({ ok: true, stale: true });
    now.t = T0 + 30 * MIN;
    expect(s.verify(token)).toEqual({ ok: false, reason: 'expired' });
  });

  it('never outlive the session maximum, however often re-issued', () => {
    const now = { t: T0 + 12 * 60 * MIN - 10 * MIN };
    const s = signer([[1, K1]], now, now.t);
    const token = s.sign(session(T0 / 1000));
    const v = s.verify(token);
    expect(v.ok && v.claims.exp).toBe(T0 / 1000 + 12 * 3600);
    now.t = T0 + 12 * 60 * MIN + 1000;
    expect(s.verify(token)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuse a tampered payload, a signature from another key and a forged header', () => {
    const now = { t: T0 };
    const s = signer([[1, K1]], now);
    const token = s.sign(session(T0 / 1000));
    const [h, p, sig] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const evil = Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url');
    expect(s.verify(`${h}.${evil}.${sig}`)).toEqual({ ok: false, reason: 'bad_signature' });
    const other = signer([[1, Buffer.alloc(32, 9)]], now).sign(session(T0 / 1000));
    expect(s.verify(other)).toEqual({ ok: false, reason: 'bad_signature' });
    const none = Buffer.from(JSON.stringify({ alg: 'none', kid: '1' })).toString('base64url');
    expect(s.verify(`${none}.${p}.`)).toEqual({ ok: false, reason: 'malformed' });
    expect(s.verify('a.b')).toEqual({ ok: false, reason: 'malformed' });
    expect(signer([[2, K2]], now).verify(token)).toEqual({ ok: false, reason: 'unknown_key' });
  });

  it('refuse a signed token claiming a lifetime longer than ours or an issue time in the future', () => {
    const now = { t: T0 };
    const s = signer([[1, K1]], now);
    const long = new TokenSigner(new Map([[1, K1]]), {
      ttlMs: 24 * 60 * MIN,
      refreshAfterMs: MIN,
      sessionMaxMs: 48 * 60 * MIN,
      graceMs: 0,
      now: () => now.t,
    }).sign(session(T0 / 1000));
    expect(s.verify(long)).toEqual({ ok: false, reason: 'expired' });
    const future = s.sign(session(T0 / 1000 + 600), 1, T0 / 1000 + 600);
    expect(s.verify(future)).toEqual({ ok: false, reason: 'expired' });
  });

  it('key rotation: the previous key verifies what it signed during the grace period, then retires', () => {
    const now = { t: T0 };
    const before = signer([[1, K1]], now).sign(session(T0 / 1000));
    // This instance restarts with keys 1 and 2; an old instance still signs with 1 for a few minutes.
    const rotated = signer(
      [
        [1, K1],
        [2, K2],
      ],
      now,
      T0,
    );
    expect(rotated.verify(before)).toMatchObject({ ok: true, kid: 1, stale: true });
    now.t = T0 + 8 * MIN;
    const lateOld = signer([[1, K1]], now).sign(session(now.t / 1000));
    expect(rotated.verify(lateOld)).toMatchObject({ ok: true, kid: 1 });
    now.t = T0 + 11 * MIN;
    const tooLate = signer([[1, K1]], now).sign(session(now.t / 1000));
    expect(rotated.verify(tooLate)).toEqual({ ok: false, reason: 'retired_key' });
    // Re-signed tokens use the new key and are not subject to the grace period.
    expect(rotated.verify(rotated.sign(session(T0 / 1000)))).toMatchObject({
      ok: true,
      kid: 2,
      stale: false,
    });
  });

  it('refuses keys shorter than 32 bytes', () => {
    expect(() => signer([[1, Buffer.alloc(16)]], { t: T0 })).toThrow(/32 bytes/);
  });
});
