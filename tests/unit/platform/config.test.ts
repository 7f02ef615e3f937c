import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { loadConfig, ConfigError } from '../../../server/config';

const key = () => randomBytes(32).toString('base64');

describe('loadConfig', () => {
  it('runs on embedded defaults with an empty environment', () => {
    const c = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.demoMode).toBe(true);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.redis).toEqual({ kind: 'memory' });
    expect(c.redisKeyPrefix).toBe('bayline:');
    expect(c.sessionTtlSeconds).toBe(3600);
    expect(c.customerCacheTtlSeconds).toBe(300);
    expect(c.openai.realtimeUrl).toBe('wss://api.openai.com/v1/realtime?intent=transcription');
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.twilio)).toBe(true);
  });

  it('reports every bad variable at once, by name', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({
        PORT: 'eighty',
        REDIS_URL: 'http://nope',
        DATABASE_URL: 'mysql://x',
        SESSION_TTL_SECONDS: '-5',
        PII_KEYS: '1:c2hvcnQ=',
        DEALERSHIP_TIMEZONE: 'Mars/Olympus',
        TWILIO_ACCOUNT_SID: 'XX123',
        LOG_LEVEL: 'loud',
      });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const named = (error as ConfigError).problems.map((p) => p.split(':')[0]);
    for (const name of [
      'PORT',
      'REDIS_URL',
      'DATABASE_URL',
      'SESSION_TTL_SECONDS',
      'PII_KEYS',
      'DEALERSHIP_TIMEZONE',
      'TWILIO_ACCOUNT_SID',
      'LOG_LEVEL',
    ]) {
      expect(named).toContain(name);
    }
    expect((error as ConfigError).message).toContain('PII_KEYS');
  });

  it('requires real secrets outside demo mode', () => {
    expect(() => loadConfig({ OPENAI_API_KEY: 'sk-test' })).toThrow(
      expect.objectContaining({
        problems: expect.arrayContaining([
          expect.stringMatching(/^TWILIO_AUTH_TOKEN/),
          expect.stringMatching(/^PII_KEYS/),
          expect.stringMatching(/^PUBLIC_BASE_URL/),
        ]),
      }),
    );
  });

  it('parses versioned key lists and Redis HA settings', () => {
    const c = loadConfig({
      OPENAI_API_KEY: 'sk-test',
      TWILIO_ACCOUNT_SID: 'AC' + 'a'.repeat(32),
      TWILIO_AUTH_TOKEN: 'secret-token',
      ELEVENLABS_API_KEY: 'xi',
      PII_KEYS: `1:${key()},2:${key()}`,
      PII_INDEX_KEY: key(),
      AUTH_SIGNING_KEYS: `3:${key()}`,
      PUBLIC_BASE_URL: 'https://bayline.example.com/',
      REDIS_SENTINELS: 'a:26379,b:26380',
    });
    expect([...(c.piiKeys?.keys() ?? [])]).toEqual([1, 2]);
    expect(c.publicBaseUrl).toBe('https://bayline.example.com');
    expect(c.redis).toEqual({
      kind: 'sentinel',
      name: 'mymaster',
      nodes: [
        { host: 'a', port: 26379 },
        { host: 'b', port: 26380 },
      ],
    });
    expect(c.demoMode).toBe(false);
  });

  it('runs one process unless WORKERS asks for more; auto is one per CPU', () => {
    expect(loadConfig({}).workers).toBe(1);
    const shared = { DATABASE_URL: 'postgres://x@127.0.0.1/b', REDIS_URL: 'redis://127.0.0.1:6379' };
    expect(loadConfig({ ...shared, WORKERS: '2' }).workers).toBe(2);
    expect(loadConfig({ ...shared, WORKERS: 'auto' }).workers).toBe(os.availableParallelism());
  });

  it('refuses WORKERS > 1 on the single-process stores, naming what is missing', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ WORKERS: '2' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error?.problems.map((p) => p.split(':')[0]).sort()).toEqual(['DATABASE_URL', 'REDIS_URL']);
    expect(() => loadConfig({ WORKERS: '0' })).toThrow(/WORKERS/);
    expect(() => loadConfig({ WORKERS: 'many' })).toThrow(/WORKERS/);
  });
});
