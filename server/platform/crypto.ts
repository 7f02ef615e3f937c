/**
 * Field-level encryption of PII at rest: AES-256-GCM, a fresh 96-bit IV per value, and the key
 * version inside every ciphertext so keys can rotate while old rows stay readable.
 * Format: `v<version>.<iv b64url>.<ciphertext+tag b64url>`.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { AppError } from './errors';

const IV_BYTES = 12;
const TAG_BYTES = 16;

export class PiiCipher {
  readonly currentVersion: number;
  readonly #keys: ReadonlyMap<number, Buffer>;
  readonly #indexKey: Buffer;

  constructor(keys: ReadonlyMap<number, Buffer>, indexKey: Buffer) {
    if (keys.size === 0) throw new AppError('PII_KEYS_MISSING', 'At least one PII key is required');
    for (const [version, key] of keys) {
      if (key.length !== 32)
        throw new AppError('PII_KEY_INVALID', `PII key version ${version} is not 32 bytes`);
    }
    if (indexKey.length !== 32) throw new AppError('PII_KEY_INVALID', 'PII index key is not 32 bytes');
    this.#keys = keys;
    this.#indexKey = indexKey;
    this.currentVersion = Math.max(...keys.keys());
  }

  encrypt(plaintext: string): string {
    const version = this.currentVersion;
    const key = this.#keys.get(version) as Buffer;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `v${version}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  decrypt(token: string): string {
    const [v, ivPart, bodyPart] = token.split('.');
    const version = Number(v?.slice(1));
    const key = this.#keys.get(version);
    if (!v?.startsWith('v') || !ivPart || !bodyPart)
      throw new AppError('PII_CIPHERTEXT_INVALID', 'Malformed ciphertext');
    if (!key) throw new AppError('PII_KEY_UNKNOWN', `No PII key for version ${version}`);
    const iv = Buffer.from(ivPart, 'base64url');
    const body = Buffer.from(bodyPart, 'base64url');
    if (iv.length !== IV_BYTES || body.length < TAG_BYTES) {
      throw new AppError('PII_CIPHERTEXT_INVALID', 'Malformed ciphertext');
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(body.subarray(0, body.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch (err) {
      throw new AppError('PII_DECRYPT_FAILED', 'Ciphertext does not authenticate under its key', {
        cause: err,
      });
    }
  }

  encryptNullable(value: string | null | undefined): string | null {
    return value === null || value === undefined ? null : this.encrypt(value);
  }

  decryptNullable(token: string | null): string | null {
    return token === null ? null : this.decrypt(token);
  }

  /** Version a ciphertext was written under, without decrypting it. */
  static versionOf(token: string): number {
    return Number(token.slice(1, token.indexOf('.')));
  }

  /** Deterministic keyed hash for equality lookup (a blind index): same input, same output, no way back. */
  blindIndex(normalized: string): string {
    return createHmac('sha256', this.#indexKey).update(normalized).digest('base64url');
  }
}

/** Parses `1:<base64>,2:<base64>` as CONTRACT.md describes; used by scripts and dev key files. */
export function formatKeyList(keys: ReadonlyMap<number, Buffer>): string {
  return [...keys.entries()]
    .sort(([a], [b]) => a - b)
    .map(([v, k]) => `${v}:${k.toString('base64')}`)
    .join(',');
}

export function newKey(): Buffer {
  return randomBytes(32);
}
