/**
 * Staff passwords: scrypt (memory-hard, in node:crypto, so no native build), parameters stored in
 * each hash so they can be raised later without invalidating old hashes.
 * Format: `scrypt$<log2 N>$<r>$<p>$<salt b64>$<hash b64>`.
 */
import { randomBytes, randomInt, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './policy';

const LOG_N = 15; // N = 32768, r = 8: 32 MiB and tens of milliseconds per hash
const R = 8;
const P = 1;
const KEY_BYTES = 32;
const SALT_BYTES = 16;

function scrypt(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const options: ScryptOptions = { N: 2 ** logN, r, p, maxmem: 256 * r * 2 ** logN };
  return new Promise((resolve, reject) =>
    scryptCb(password.normalize('NFKC'), salt, KEY_BYTES, options, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scrypt(password, salt, LOG_N, R, P);
  return ['scrypt', LOG_N, R, P, salt.toString('base64'), key.toString('base64')].join('$');
}

/** False for a wrong password and for a malformed hash alike; never throws on input. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [logN, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![logN, r, p].every(Number.isInteger) || logN < 10 || logN > 20 || r < 1 || r > 32 || p < 1 || p > 4)
    return false;
  const salt = Buffer.from(parts[4] ?? '', 'base64');
  const expected = Buffer.from(parts[5] ?? '', 'base64');
  if (expected.length !== KEY_BYTES) return false;
  const actual = await scrypt(password, salt, logN, r, p);
  return timingSafeEqual(actual, expected);
}

/**
 * A ceiling on password checks running at once in this process. Each check holds 32 MiB and a libuv
 * pool thread (4 by default, shared with file and DNS work) for tens of milliseconds, and anyone can
 * ask for one; without a ceiling, unauthenticated requests could exhaust both. Checks beyond it wait
 * in a short queue for a bounded time, then are refused (the caller answers 429).
 */
export class HashSlots {
  readonly #max: number;
  readonly #maxQueue: number;
  readonly #maxWaitMs: number;
  #busy = 0;
  readonly #queue: Array<() => void> = [];

  constructor(opts: { max: number; maxQueue: number; maxWaitMs: number }) {
    this.#max = opts.max;
    this.#maxQueue = opts.maxQueue;
    this.#maxWaitMs = opts.maxWaitMs;
  }

  /** A function that frees the slot (call it once the check is done), or null: too busy, try later. */
  acquire(): Promise<(() => void) | null> {
    if (this.#busy < this.#max) {
      this.#busy++;
      return Promise.resolve(this.#release());
    }
    if (this.#queue.length >= this.#maxQueue) return Promise.resolve(null);
    return new Promise((resolve) => {
      const granted = () => {
        clearTimeout(timer);
        resolve(this.#release());
      };
      const timer = setTimeout(() => {
        this.#queue.splice(this.#queue.indexOf(granted), 1);
        resolve(null);
      }, this.#maxWaitMs);
      this.#queue.push(granted);
    });
  }

  #release(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot passes straight to the longest waiter, so a burst cannot overtake the queue.
      const next = this.#queue.shift();
      if (next) next();
      else this.#busy--;
    };
  }
}

/**
 * Shared by every login in the process. Two at once leave half of libuv's default pool to the rest
 * of the server; at tens of milliseconds a check, the queue drains well within the wait.
 */
export const LOGIN_HASH_SLOTS = new HashSlots({ max: 2, maxQueue: 32, maxWaitMs: 2000 });

let dummy: Promise<string> | undefined;
/**
 * A hash of nothing anyone knows. Logins for unknown e-mails are checked against it, so they take
 * as long as logins for real accounts and the timing does not reveal which accounts exist.
 */
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(24).toString('base64'));
  return dummy;
}

// No 0/O, 1/l/I: the one-time password is read off a terminal and typed.
const ALPHABET = 'abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** 20 characters from a 55-letter alphabet (≈115 bits), grouped in fives for reading aloud. */
export function oneTimePassword(): string {
  const chars = Array.from({ length: 20 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
  return chars.match(/.{5}/g)?.join('-') ?? chars;
}

/** Why a new password is not acceptable, or null if it is. */
export function passwordProblem(password: string, email?: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH)
    return `Use at least ${MIN_PASSWORD_LENGTH} characters (a few words make a good password)`;
  if (password.length > MAX_PASSWORD_LENGTH) return `Use at most ${MAX_PASSWORD_LENGTH} characters`;
  if (new Set(password).size < 5) return 'Use more different characters';
  const local = email?.toLowerCase().split('@')[0] ?? '';
  if (local.length >= 4 && password.toLowerCase().includes(local))
    return 'Do not use your e-mail name in the password';
  return null;
}
