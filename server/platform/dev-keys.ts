import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { newKey } from './crypto';
import { AppError } from './errors';

/** Where demo mode keeps its keys and the embedded database. */
export const DATA_DIR = path.resolve(process.cwd(), 'data');

export interface DevKeys {
  piiKeys: Map<number, Buffer>;
  piiIndexKey: Buffer;
  authSigningKeys: Map<number, Buffer>;
}

interface Stored {
  piiKeys: Record<string, string>;
  piiIndexKey: string;
  authSigningKeys: Record<string, string>;
}

/**
 * The file exists but cannot be used. Never answered by making new keys: the embedded database's
 * PII (and its blind indexes) are readable only with the keys it was written under.
 */
export class DevKeysError extends AppError {
  constructor(file: string, problem: string, cause?: unknown) {
    super(
      'DEV_KEYS_UNUSABLE',
      `${file} ${problem}. It holds the keys of the demo database's personal data, so it is not ` +
        'replaced: fix it or restore it from a backup (or, to start the demo afresh and lose its ' +
        'data, delete the ./data directory).',
      { cause },
    );
  }
}

/**
 * Demo mode only: keys generated once and kept (mode 0600) under ./data, so the embedded database
 * stays readable across restarts. Production keys come from the environment, never from disk.
 */
export async function loadOrCreateDevKeys(dataDir: string): Promise<DevKeys> {
  const file = path.join(dataDir, 'dev-keys.json');
  const existing = await readStored(file);
  if (existing) return fromStored(existing, file);
  const stored: Stored = {
    piiKeys: { 1: newKey().toString('base64') },
    piiIndexKey: newKey().toString('base64'),
    authSigningKeys: { 1: newKey().toString('base64') },
  };
  await mkdir(dataDir, { recursive: true });
  // Linked into place only if no other process created the file meanwhile; then theirs is the one.
  const created = await writeAtomically(file, stored, 'create');
  if (!created) return fromStored((await readStored(file)) ?? stored, file);
  return fromStored(stored, file);
}

export async function addDevPiiKey(dataDir: string): Promise<DevKeys> {
  const file = path.join(dataDir, 'dev-keys.json');
  const stored = await readStored(file);
  if (!stored) throw new DevKeysError(file, 'does not exist');
  fromStored(stored, file);
  const next = Math.max(...Object.keys(stored.piiKeys).map(Number)) + 1;
  stored.piiKeys[next] = newKey().toString('base64');
  await writeAtomically(file, stored, 'replace');
  return fromStored(stored, file);
}

/** The stored keys, null when there is no file; anything else that goes wrong is an error. */
async function readStored(file: string): Promise<Stored | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DevKeysError(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, err);
  }
  try {
    return JSON.parse(text) as Stored;
  } catch (err) {
    throw new DevKeysError(file, 'is not valid JSON', err);
  }
}

/** Written whole under a temporary name, then moved into place: a crash never leaves half a file. */
async function writeAtomically(file: string, stored: Stored, mode: 'create' | 'replace'): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, JSON.stringify(stored, null, 2), { mode: 0o600, flag: 'wx', flush: true });
  try {
    if (mode === 'replace') {
      await rename(tmp, file);
      return true;
    }
    try {
      await link(tmp, file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  } finally {
    // After a link the temporary name is a second name for the file; after a rename it is gone.
    await unlink(tmp).catch(() => undefined);
  }
}

function fromStored(s: Stored, file: string): DevKeys {
  const key = (b64: unknown, what: string): Buffer => {
    const k = typeof b64 === 'string' ? Buffer.from(b64, 'base64') : Buffer.alloc(0);
    if (k.length !== 32) throw new DevKeysError(file, `has no valid ${what} (base64 of 32 bytes)`);
    return k;
  };
  const map = (r: unknown, what: string): Map<number, Buffer> => {
    const entries = r && typeof r === 'object' ? Object.entries(r) : [];
    if (entries.length === 0) throw new DevKeysError(file, `has no ${what}`);
    return new Map(
      entries.map(([v, k]) => {
        if (!/^[1-9]\d*$/.test(v)) throw new DevKeysError(file, `has a ${what} version that is not a number`);
        return [Number(v), key(k, `${what} version ${v}`)];
      }),
    );
  };
  if (!s || typeof s !== 'object') throw new DevKeysError(file, 'does not hold the expected keys');
  return {
    piiKeys: map(s.piiKeys, 'piiKeys'),
    piiIndexKey: key(s.piiIndexKey, 'piiIndexKey'),
    authSigningKeys: map(s.authSigningKeys, 'authSigningKeys'),
  };
}
