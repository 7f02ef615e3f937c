import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { DATABASE_URL } from '../../support/pg';
import { REDIS_URL } from '../../support/redis';
import { appFor, auditRows, createEnv, type Env } from './support';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../../..');
let env: Env;
let app: FastifyInstance;

beforeAll(async () => {
  env = await createEnv();
  app = await appFor(env);
});
afterAll(async () => {
  await app.close();
  await env.close();
});

/** `npm run admin -- …` against this test's schema, with production-style keys (nothing under ./data). */
async function admin(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const url = new URL(DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${env.tdb.searchPath}`);
  const key = () => `1:${randomBytes(32).toString('base64')}`;
  return run('npm', ['run', 'admin', '--', ...args], {
    cwd: ROOT,
    timeout: 60_000,
    env: {
      ...process.env,
      DATABASE_URL: url.toString(),
      REDIS_URL,
      REDIS_KEY_PREFIX: env.tr.prefix,
      PII_KEYS: key(),
      PII_INDEX_KEY: randomBytes(32).toString('base64'),
      AUTH_SIGNING_KEYS: key(),
      LOG_LEVEL: 'warn',
    },
  });
}

describe('npm run admin', () => {
  it('create-api-key prints the key alone on the last line of stdout; only its SHA-256 is stored', async () => {
    const { stdout, stderr } = await admin('create-api-key', '--name', 'DMS export', '--role', 'admin');
    const lines = stdout.trimEnd().split('\n');
    const key = lines.at(-1) as string;
    expect(key).toMatch(/^bk_[A-Za-z0-9_-]{43}$/);
    expect(stdout.split(key).length).toBe(2);
    expect(stderr).toContain('prefix');
    expect(stderr).not.toContain(key);
    const { rows } = await env.tdb.db.query<{
      name: string;
      role: string;
      prefix: string;
      key_sha256: Buffer;
    }>('SELECT name, role, prefix, key_sha256 FROM api_keys');
    expect(rows).toEqual([
      {
        name: 'DMS export',
        role: 'admin',
        prefix: key.slice(0, 10),
        key_sha256: createHash('sha256').update(key).digest(),
      },
    ]);
    const me = await app.inject({ url: '/api/me', headers: { authorization: `Bearer ${key}` } });
    expect(me.json()).toMatchObject({ kind: 'api_key', name: 'DMS export', role: 'admin' });
    expect(
      (await app.inject({ url: '/api/audit', headers: { authorization: `Bearer ${key}` } })).statusCode,
    ).toBe(200);
    expect(await auditRows(env, 'api_key.create')).toEqual([
      expect.objectContaining({ actor_type: 'system', actor_id: 'cli', target_type: 'api_key' }),
    ]);
  }, 60_000);

  it('create-user prints a one-time password that logs in only to be changed; bad input fails clearly', async () => {
    const { stdout } = await admin('create-user', '--email', 'Manager@Bayline.test', '--role', 'admin');
    const password = stdout.trimEnd().split('\n').at(-1) as string;
    const res = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: 'manager@bayline.test', password },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ user: { role: 'admin', mustChangePassword: true } });
    const { rows } = await env.tdb.db.query<{ password_hash: string }>(
      'SELECT password_hash FROM staff_users',
    );
    expect(rows[0]?.password_hash).toMatch(/^scrypt\$15\$8\$1\$/);
    expect(rows[0]?.password_hash).not.toContain(password);
    await expect(
      admin('create-user', '--email', 'manager@bayline.test', '--role', 'admin'),
    ).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('USER_EXISTS'),
    });
    await expect(admin('create-user', '--email', 'x@bayline.test', '--role', 'owner')).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('INVALID_ROLE'),
    });
  }, 60_000);
});
