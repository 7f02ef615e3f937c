import { randomBytes } from 'node:crypto';
import { PiiCipher } from '../../../server/platform/crypto';
import { AppError } from '../../../server/platform/errors';

describe('PiiCipher', () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  const index = randomBytes(32);

  it('round-trips unicode text and never repeats a ciphertext', () => {
    const c = new PiiCipher(new Map([[1, k1]]), index);
    const a = c.encrypt('Dana Whitfield — Zoë');
    const b = c.encrypt('Dana Whitfield — Zoë');
    expect(a).not.toEqual(b);
    expect(a).not.toContain('Dana');
    expect(c.decrypt(a)).toBe('Dana Whitfield — Zoë');
  });

  it('records the key version and encrypts under the highest one', () => {
    const c = new PiiCipher(
      new Map([
        [1, k1],
        [2, k2],
      ]),
      index,
    );
    const token = c.encrypt('x');
    expect(token.startsWith('v2.')).toBe(true);
    expect(PiiCipher.versionOf(token)).toBe(2);
  });

  it('reads old versions after rotation', () => {
    const old = new PiiCipher(new Map([[1, k1]]), index);
    const rotated = new PiiCipher(
      new Map([
        [1, k1],
        [2, k2],
      ]),
      index,
    );
    expect(rotated.decrypt(old.encrypt('+13125550142'))).toBe('+13125550142');
  });

  it('rejects a wrong key and a tampered ciphertext', () => {
    const c = new PiiCipher(new Map([[1, k1]]), index);
    const other = new PiiCipher(new Map([[1, randomBytes(32)]]), index);
    const token = c.encrypt('secret');
    expect(() => other.decrypt(token)).toThrow(expect.objectContaining({ code: 'PII_DECRYPT_FAILED' }));
    const body = token.split('.')[2] as string;
    const flipped = body.slice(0, 5) + (body[5] === 'A' ? 'B' : 'A') + body.slice(6);
    const tampered = token.split('.').slice(0, 2).concat(flipped).join('.');
    expect(() => c.decrypt(tampered)).toThrow(AppError);
    expect(() => c.decrypt('v9.abc.def')).toThrow(expect.objectContaining({ code: 'PII_KEY_UNKNOWN' }));
    expect(() => c.decrypt('garbage')).toThrow(AppError);
  });

  it('blind index is deterministic per key and differs across keys', () => {
    const a = new PiiCipher(new Map([[1, k1]]), index);
    const b = new PiiCipher(new Map([[1, k1]]), randomBytes(32));
    expect(a.blindIndex('+13125550142')).toBe(a.blindIndex('+13125550142'));
    expect(a.blindIndex('+13125550142')).not.toBe(b.blindIndex('+13125550142'));
    expect(a.blindIndex('+13125550142')).not.toContain('3125550142');
  });

  it('refuses keys that are not 32 bytes', () => {
    expect(() => new PiiCipher(new Map([[1, randomBytes(16)]]), index)).toThrow(AppError);
    expect(() => new PiiCipher(new Map(), index)).toThrow(AppError);
  });
});
