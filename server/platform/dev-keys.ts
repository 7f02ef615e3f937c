import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { newKey } from './crypto';

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
 * Demo mode only: keys generated once and kept (mode 0600) under ./data, so the embedded database
 * stays readable across restarts. Production keys come from the environment, never from disk.
 */
export async function loadOrCreateDevKeys(dataDir: string): Promise<DevKeys> {
  const file = path.join(dataDir, 'dev-keys.json');
  let stored: Stored;
  try {
    stored = JSON.parse(await readFile(file, 'utf8')) as Stored;
  } catch {
    stored = {
      piiKeys: { 1: newKey().toString('base64') },
      piiIndexKey: newKey().toString('base64'),
      authSigningKeys: { 1: newKey().toString('base64') },
    };
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, JSON.stringify(stored, null, 2), { mode: 0o600 });
  }
  return fromStored(stored);
}

export async function addDevPiiKey(dataDir: string): Promise<DevKeys> {
  const file = path.join(dataDir, 'dev-keys.json');
  const stored = JSON.parse(await readFile(file, 'utf8')) as Stored;
  const next = Math.max(...Object.keys(stored.piiKeys).map(Number)) + 1;
  stored.piiKeys[next] = newKey().toString('base64');
  await writeFile(file, JSON.stringify(stored, null, 2), { mode: 0o600 });
  return fromStored(stored);
}

function fromStored(s: Stored): DevKeys {
  const map = (r: Record<string, string>) =>
    new Map(Object.entries(r).map(([v, k]) => [Number(v), Buffer.from(k, 'base64')]));
  return {
    piiKeys: map(s.piiKeys),
    piiIndexKey: Buffer.from(s.piiIndexKey, 'base64'),
    authSigningKeys: map(s.authSigningKeys),
  };
}
