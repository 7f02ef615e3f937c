import {
  hashPassword,
  oneTimePassword,
  passwordProblem,
  verifyPassword,
} from '../../../server/dashboard/passwords';

describe('passwords', () => {
  it('hash with scrypt (salted, parameters in the hash) and verify', async () => {
    const a = await hashPassword('open sesame today');
    const b = await hashPassword('open sesame today');
    expect(a).toMatch(/^scrypt\$15\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]{44}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('open sesame today', a)).toBe(true);
    expect(await verifyPassword('open sesame today!', a)).toBe(false);
  });

  it('treat malformed or out-of-range hashes as a mismatch, never as an error', async () => {
    for (const stored of [
      '',
      'plain',
      'scrypt$30$8$1$AAAA$AAAA',
      'bcrypt$x$y$z$a$b',
      'scrypt$15$8$1$AAAA$short',
    ]) {
      expect(await verifyPassword('x', stored)).toBe(false);
    }
  });

  it('one-time passwords: 20 unambiguous characters in groups of five, different each time', () => {
    const seen = new Set(Array.from({ length: 50 }, () => oneTimePassword()));
    expect(seen.size).toBe(50);
    for (const p of seen) expect(p).toMatch(/^[a-km-zA-HJ-NP-Z2-9]{5}(-[a-km-zA-HJ-NP-Z2-9]{5}){3}$/);
  });

  it('refuse short, repetitive or e-mail-based new passwords', () => {
    expect(passwordProblem('short')).toMatch(/12 characters/);
    expect(passwordProblem('aaaaaaaaaaaaaaaa')).toMatch(/different characters/);
    expect(passwordProblem('jordan.smith-2026!', 'jordan.smith@bayline.test')).toMatch(/e-mail/);
    expect(passwordProblem('x'.repeat(300))).toMatch(/at most/);
    expect(passwordProblem('four random words here', 'jo@bayline.test')).toBeNull();
  });
});
