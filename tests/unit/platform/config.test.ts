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
    expect(c.idleTrimSeconds).toBe(5);
    // Unset: the dealership row's zone holds (seeding writes the demo's America/Chicago).
    expect(c.timezone).toBeUndefined();
    expect(loadConfig({ DEALERSHIP_TIMEZONE: 'America/Denver' }).timezone).toBe('America/Denver');
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
        IDLE_TRIM_SECONDS: '-1',
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
      'IDLE_TRIM_SECONDS',
      'PII_KEYS',
      'DEALERSHIP_TIMEZONE',
      'TWILIO_ACCOUNT_SID',
      'LOG_LEVEL',
    ]) {
      expect(named).toContain(name);
    }
    expect((error as ConfigError).message).toContain('PII_KEYS');
  });

  it('has a secondary model unless OPENAI_FALLBACK_MODEL is none or the primary itself', () => {
    expect(loadConfig({}).openai.fallbackModel).toBe('gpt-4.1-mini');
    expect(loadConfig({ OPENAI_FALLBACK_MODEL: 'gpt-4o' }).openai.fallbackModel).toBe('gpt-4o');
    expect(loadConfig({ OPENAI_FALLBACK_MODEL: 'none' }).openai.fallbackModel).toBeNull();
    expect(loadConfig({ OPENAI_FALLBACK_MODEL: '   ' }).openai.fallbackModel).toBeNull();
    expect(loadConfig({ OPENAI_MODEL: 'gpt-4.1-mini' }).openai.fallbackModel).toBeNull();
  });

  it('turns idle trimming off with IDLE_TRIM_SECONDS=0', () => {
    expect(loadConfig({ IDLE_TRIM_SECONDS: '0' }).idleTrimSeconds).toBe(0);
  });

  it('requires real secrets outside demo mode', () => {
    expect(() => loadConfig({ OPENAI_API_KEY: 'sk-test' })).toThrow(
      expect.objectContaining({
        problems: expect.arrayContaining([
          expect.stringMatching(/^TWILIO_AUTH_TOKEN/),
          expect.stringMatching(/^PII_KEYS/),
          expect.stringMatching(/^PUBLIC_BASE_URL/),
          expect.stringMatching(/^TRANSFER_PHONE_NUMBER/),
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
      TRANSFER_PHONE_NUMBER: '+13125550100',
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

  const production = (extra: Record<string, string> = {}) => ({
    OPENAI_API_KEY: 'sk-test',
    TWILIO_ACCOUNT_SID: 'AC' + 'a'.repeat(32),
    TWILIO_AUTH_TOKEN: 'secret-token',
    ELEVENLABS_API_KEY: 'xi',
    PII_KEYS: `1:${key()}`,
    PII_INDEX_KEY: key(),
    AUTH_SIGNING_KEYS: `1:${key()}`,
    PUBLIC_BASE_URL: 'https://bayline.example.com',
    TRANSFER_PHONE_NUMBER: '+13125550100',
    ...extra,
  });
  const problemsOf = (env: Record<string, string>): string[] => {
    try {
      loadConfig(env);
    } catch (err) {
      return (err as ConfigError).problems.slice();
    }
    return [];
  };

  it('requires the transfer desk in production mode and checks that it is a phone number', () => {
    const { TRANSFER_PHONE_NUMBER: _, ...unset } = production();
    expect(problemsOf(unset)).toEqual([
      'TRANSFER_PHONE_NUMBER: required when OPENAI_API_KEY is set (production mode)',
    ]);
    expect(problemsOf(production({ TRANSFER_PHONE_NUMBER: 'call the desk' }))).toEqual([
      expect.stringMatching(/^TRANSFER_PHONE_NUMBER: must be a phone number/),
    ]);
    expect(problemsOf({ TRANSFER_PHONE_NUMBER: '555' })).toEqual([
      expect.stringMatching(/^TRANSFER_PHONE_NUMBER: /),
    ]);
    // Written the way people write it, dialled as E.164.
    expect(loadConfig(production({ TRANSFER_PHONE_NUMBER: '(312) 555-0177' })).twilio.transferNumber).toBe(
      '+13125550177',
    );
    // Demo mode keeps its built-in desk.
    expect(loadConfig({}).twilio.transferNumber).toBe('+13125550100');
  });

  it('refuses a key version listed twice, in every key list at once', () => {
    const problems = problemsOf(
      production({
        PII_KEYS: `1:${key()},2:${key()},1:${key()}`,
        AUTH_SIGNING_KEYS: `4:${key()},4:${key()}`,
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'PII_KEYS: PII_KEYS lists version 1 more than once',
        'AUTH_SIGNING_KEYS: AUTH_SIGNING_KEYS lists version 4 more than once',
      ]),
    );
    expect(problems).toHaveLength(2);
  });

  it('trusts no proxy unless TRUST_PROXY lists them by address', () => {
    expect(loadConfig({}).trustProxy).toEqual([]);
    expect(loadConfig({ TRUST_PROXY: 'false' }).trustProxy).toEqual([]);
    const c = loadConfig({ TRUST_PROXY: '10.0.0.0/8, 192.0.2.7,fd00::/8, loopback' });
    expect(c.trustProxy).toEqual(['10.0.0.0/8', '192.0.2.7', 'fd00::/8', 'loopback']);
    expect(Object.isFrozen(c.trustProxy)).toBe(true);
    for (const bad of ['true', '1', '10.0.0.0/33', 'proxy.internal', '10.0.0.1/8/2', '::1/129']) {
      expect(problemsOf({ TRUST_PROXY: bad })).toEqual([expect.stringMatching(/^TRUST_PROXY: /)]);
    }
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
