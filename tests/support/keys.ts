import { randomBytes } from 'node:crypto';
import { PiiCipher } from '../../server/platform/crypto';

export function testKeys(versions = 1): { keys: Map<number, Buffer>; indexKey: Buffer } {
  const keys = new Map<number, Buffer>();
  for (let v = 1; v <= versions; v++) keys.set(v, randomBytes(32));
  return { keys, indexKey: randomBytes(32) };
}

export function testCipher(versions = 1): PiiCipher {
  const { keys, indexKey } = testKeys(versions);
  return new PiiCipher(keys, indexKey);
}

/** Twilio-shaped CallSid: CA + 32 hex digits. */
export function callSid(): string {
  return `CA${randomBytes(16).toString('hex')}`;
}
