/**
 * Demo mode's keys under ./data encrypt the embedded database's personal data: they are made once,
 * when there is no file, and a file that exists but cannot be used is an error, never replaced.
 */
import { mkdtemp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { addDevPiiKey, loadOrCreateDevKeys } from '../../../server/platform/dev-keys';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'bayline-dev-keys-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const file = () => path.join(dir, 'data', 'dev-keys.json');
const valid = () =>
  JSON.stringify({
    piiKeys: { 1: Buffer.alloc(32, 1).toString('base64') },
    piiIndexKey: Buffer.alloc(32, 2).toString('base64'),
    authSigningKeys: { 1: Buffer.alloc(32, 3).toString('base64') },
  });

describe('demo keys', () => {
  it('are made once when there is no file (mode 0600, written whole): processes starting together share them', async () => {
    const [a, b] = await Promise.all([
      loadOrCreateDevKeys(path.join(dir, 'data')),
      loadOrCreateDevKeys(path.join(dir, 'data')),
    ]);
    expect(a.piiIndexKey.equals(b.piiIndexKey)).toBe(true);
    expect((await stat(file())).mode & 0o777).toBe(0o600);
    expect(await readdir(path.join(dir, 'data'))).toEqual(['dev-keys.json']);
    const again = await loadOrCreateDevKeys(path.join(dir, 'data'));
    expect(again.piiIndexKey.equals(a.piiIndexKey)).toBe(true);
    expect(again.piiKeys.get(1)?.equals(a.piiKeys.get(1) as Buffer)).toBe(true);
  });

  it.each([
    ['is not JSON (a write cut short)', () => valid().slice(0, 40)],
    ['is JSON without the keys', () => '{}'],
    [
      'holds a key of the wrong length',
      () => valid().replace(/"piiIndexKey": ?"[^"]+"/, '"piiIndexKey":"c2hvcnQ="'),
    ],
    ['is empty', () => ''],
  ])('a file that %s is an error, and is left as it was', async (_what, content) => {
    await mkdir(path.join(dir, 'data'));
    await writeFile(file(), content());
    const before = await readFile(file(), 'utf8');
    await expect(loadOrCreateDevKeys(path.join(dir, 'data'))).rejects.toMatchObject({
      code: 'DEV_KEYS_UNUSABLE',
      message: expect.stringContaining(file()),
    });
    expect(await readFile(file(), 'utf8')).toBe(before);
  });

  it('a file that cannot be read is an error, and is not replaced', async () => {
    // A directory where the file should be: reading fails with EISDIR (whoever runs the test).
    await mkdir(file(), { recursive: true });
    await expect(loadOrCreateDevKeys(path.join(dir, 'data'))).rejects.toMatchObject({
      code: 'DEV_KEYS_UNUSABLE',
      message: expect.stringContaining('cannot be read (EISDIR)'),
    });
    expect((await stat(file())).isDirectory()).toBe(true);
  });

  it('a new PII key version keeps the others and is written whole, mode 0600; never onto a damaged file', async () => {
    await mkdir(path.join(dir, 'data'));
    await writeFile(file(), '{"piiKeys":{"1":"c2hvcnQ="}}');
    await expect(addDevPiiKey(path.join(dir, 'data'))).rejects.toMatchObject({ code: 'DEV_KEYS_UNUSABLE' });
    expect(await readFile(file(), 'utf8')).toBe('{"piiKeys":{"1":"c2hvcnQ="}}');
    await writeFile(file(), valid(), { mode: 0o600 });
    const keys = await addDevPiiKey(path.join(dir, 'data'));
    expect([...keys.piiKeys.keys()]).toEqual([1, 2]);
    const reread = await loadOrCreateDevKeys(path.join(dir, 'data'));
    expect(reread.piiKeys.get(1)?.equals(Buffer.alloc(32, 1))).toBe(true);
    expect(reread.piiKeys.get(2)?.equals(keys.piiKeys.get(2) as Buffer)).toBe(true);
    expect((await stat(file())).mode & 0o777).toBe(0o600);
    expect(await readdir(path.join(dir, 'data'))).toEqual(['dev-keys.json']);
  });
});
