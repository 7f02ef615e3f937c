/**
 * The only reader of process.env. One schema, parsed once at start; every problem is reported at
 * once, by variable name. The result is frozen and passed in; nothing else looks at the environment.
 */
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { normalizePhone } from './platform/phone';

const DEFAULT_REALTIME_URL = 'wss://api.openai.com/v1/realtime?intent=transcription';

const keyList = (name: string) =>
  z
    .string()
    .transform((raw, ctx) => {
      const out = new Map<number, Buffer>();
      let bad = false;
      const problem = (message: string) => {
        ctx.addIssue({ code: 'custom', message });
        bad = true;
      };
      for (const part of raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)) {
        const idx = part.indexOf(':');
        const version = Number(part.slice(0, idx));
        const key = Buffer.from(part.slice(idx + 1), 'base64');
        if (idx < 1 || !Number.isInteger(version) || version < 1)
          problem(`${name} entries must look like 1:<base64 of 32 bytes>`);
        else if (key.length !== 32) problem(`${name} version ${version} must be 32 bytes (base64)`);
        // A second key under one version would silently replace the first, and every value written
        // under the first would then fail to decrypt (or verify) at run time.
        else if (out.has(version)) problem(`${name} lists version ${version} more than once`);
        else out.set(version, key);
      }
      if (bad) return z.NEVER;
      if (out.size === 0) {
        ctx.addIssue({ code: 'custom', message: `${name} must hold at least one key` });
        return z.NEVER;
      }
      return out;
    })
    .optional();

const key32 = z
  .string()
  .transform((raw, ctx) => {
    const key = Buffer.from(raw, 'base64');
    if (key.length !== 32) {
      ctx.addIssue({ code: 'custom', message: 'must be base64 of 32 bytes' });
      return z.NEVER;
    }
    return key;
  })
  .optional();

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);
const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    `must be a URL (${protocols.join(' or ')})`,
  );

const hostPortList = z
  .string()
  .transform((raw, ctx) => {
    const nodes = raw.split(',').map((entry) => {
      const [host, port] = entry.trim().split(':');
      return { host: host ?? '', port: Number(port ?? 6379) };
    });
    if (nodes.some((n) => !n.host || !Number.isInteger(n.port))) {
      ctx.addIssue({ code: 'custom', message: 'must be a comma-separated list of host:port' });
      return z.NEVER;
    }
    return nodes;
  })
  .optional();

const phone = z
  .string()
  .transform((raw, ctx) => {
    try {
      return normalizePhone(raw);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a phone number, E.164 such as +13125550100' });
      return z.NEVER;
    }
  })
  .optional();

const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

function isProxyAddress(entry: string): boolean {
  if (PROXY_RANGE_NAMES.includes(entry)) return true;
  const [addr = '', bits, ...rest] = entry.split('/');
  const family = isIP(addr);
  if (family === 0 || rest.length > 0) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}

/**
 * The proxies whose X-Forwarded-For is believed, by address: the client address is the right-most
 * entry not added by one of them. Trusting every hop (`true`) would let any client name its own
 * address; fastify 5 trusts nothing for a bare hop count, so neither is accepted.
 */
const proxyList = z
  .string()
  .transform((raw, ctx) => {
    const entries = raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (entries.length === 1 && entries[0] === 'false') return [];
    for (const entry of entries) {
      const message =
        entry === 'true'
          ? 'true would let any client choose its own address; list the proxies (addresses or CIDRs)'
          : /^\d+$/.test(entry)
            ? 'hop counts are not supported; list the proxies (addresses or CIDRs)'
            : isProxyAddress(entry)
              ? null
              : `${entry} is not an IP address, a CIDR, loopback, linklocal or uniquelocal`;
      if (message) ctx.addIssue({ code: 'custom', message });
    }
    return entries;
  })
  .optional();

const schema = z.object({
  PORT: int(8080, 0, 65535),
  HOST: z.string().min(1).default('0.0.0.0'),
  TRUST_PROXY: proxyList,
  PUBLIC_BASE_URL: url(['http:', 'https:']).optional(),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  REDIS_SENTINELS: hostPortList,
  REDIS_SENTINEL_NAME: z.string().default('mymaster'),
  REDIS_CLUSTER_NODES: hostPortList,
  REDIS_KEY_PREFIX: z.string().min(1).default('bayline:'),
  SESSION_TTL_SECONDS: int(3600, 60, 7 * 86400),
  CUSTOMER_CACHE_TTL_SECONDS: int(300, 1, 86400),
  IDLE_TRIM_SECONDS: int(5, 0, 3600),
  TWILIO_ACCOUNT_SID: z
    .string()
    .regex(/^AC[0-9a-fA-F]{32}$/, 'must be AC followed by 32 hex digits')
    .optional(),
  TWILIO_AUTH_TOKEN: z.string().min(8).optional(),
  TWILIO_API_BASE_URL: url(['http:', 'https:']).default('https://api.twilio.com'),
  TRANSFER_PHONE_NUMBER: phone,
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: url(['http:', 'https:']).default('https://api.openai.com/v1'),
  OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
  // none: no secondary model.
  OPENAI_FALLBACK_MODEL: z.string().trim().default('gpt-4.1-mini'),
  OPENAI_REALTIME_URL: url(['ws:', 'wss:']).default(DEFAULT_REALTIME_URL),
  OPENAI_TRANSCRIBE_MODEL: z.string().min(1).default('gpt-4o-transcribe'),
  ELEVENLABS_API_KEY: z.string().min(1).optional(),
  ELEVENLABS_BASE_URL: url(['http:', 'https:']).default('https://api.elevenlabs.io'),
  ELEVENLABS_VOICE_ID: z.string().min(1).default('21m00Tcm4TlvDq8ikWAM'),
  ELEVENLABS_MODEL_ID: z.string().min(1).default('eleven_flash_v2_5'),
  PII_KEYS: keyList('PII_KEYS'),
  PII_INDEX_KEY: key32,
  AUTH_SIGNING_KEYS: keyList('AUTH_SIGNING_KEYS'),
  DEALERSHIP_TIMEZONE: z
    .string()
    .optional()
    .refine((tz) => {
      if (tz === undefined) return true;
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'must be an IANA time zone such as America/Chicago'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MAX_CONCURRENT_CALLS: int(200, 1, 100000),
  WORKERS: z.union([z.literal('auto'), z.coerce.number().int().min(1).max(64)]).default(1),
});

type Parsed = z.output<typeof schema>;

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Reverse proxies (addresses, CIDRs, named ranges) whose X-Forwarded-For is believed; empty: none. */
  readonly trustProxy: readonly string[];
  readonly publicBaseUrl: string;
  /** No DATABASE_URL: run the embedded PostgreSQL (PGlite) under ./data. */
  readonly databaseUrl: string | undefined;
  readonly redis:
    | { readonly kind: 'memory' }
    | { readonly kind: 'url'; readonly url: string }
    | {
        readonly kind: 'sentinel';
        readonly name: string;
        readonly nodes: readonly HostPort[];
        readonly url?: string;
      }
    | { readonly kind: 'cluster'; readonly nodes: readonly HostPort[]; readonly url?: string };
  readonly redisKeyPrefix: string;
  readonly sessionTtlSeconds: number;
  readonly customerCacheTtlSeconds: number;
  /** Seconds after the last call ends before freed C-heap memory goes back to the system; 0: never. */
  readonly idleTrimSeconds: number;
  /** No OPENAI_API_KEY: the built-in provider emulators start on loopback and the providers use them. */
  readonly demoMode: boolean;
  readonly twilio: {
    readonly accountSid: string;
    readonly authToken: string;
    readonly apiBaseUrl: string;
    /** E.164. */
    readonly transferNumber: string;
  };
  readonly openai: {
    readonly apiKey: string | undefined;
    readonly baseUrl: string;
    readonly model: string;
    /** Asked when the model fails twice (after one retry); null: none. */
    readonly fallbackModel: string | null;
    readonly realtimeUrl: string;
    readonly transcribeModel: string;
  };
  readonly elevenlabs: {
    readonly apiKey: string | undefined;
    readonly baseUrl: string;
    readonly voiceId: string;
    readonly modelId: string;
  };
  /** Absent only in demo mode, where main.ts keeps development keys under ./data. */
  readonly piiKeys: ReadonlyMap<number, Buffer> | undefined;
  readonly piiIndexKey: Buffer | undefined;
  readonly authSigningKeys: ReadonlyMap<number, Buffer> | undefined;
  /**
   * DEALERSHIP_TIMEZONE: when set, the dealership's zone whatever its database row says (and what
   * seeding writes there); unset, the row's zone (the demo dealership's is America/Chicago).
   */
  readonly timezone: string | undefined;
  readonly logLevel: Parsed['LOG_LEVEL'];
  /** For the whole server: its cluster workers count each other's calls against it. */
  readonly maxConcurrentCalls: number;
  /** Server processes (cluster workers); 1 runs the server in this process, with no primary. */
  readonly workers: number;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Demo mode's service desk: a fictional number, never dialled outside demo mode. */
export const DEMO_TRANSFER_NUMBER = '+13125550100';

/** Demo-mode Twilio credentials: the local simulator signs with them; never valid at Twilio. */
export const DEMO_TWILIO = {
  accountSid: 'AC' + '0'.repeat(32),
  authToken: 'bayline-demo-auth-token',
} as const;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset": that is how most orchestrators render an absent value.
  const input = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(input);
  const problems: string[] = [];
  if (!result.success) {
    for (const issue of result.error.issues)
      problems.push(`${String(issue.path[0] ?? '?')}: ${issue.message}`);
  }
  const e = result.success ? result.data : undefined;
  const demoMode = env.OPENAI_API_KEY === undefined || env.OPENAI_API_KEY === '';

  if (!demoMode) {
    // Outside demo mode the product talks to real providers and real callers: no defaults for secrets,
    // nor for the desk that callers are put through to.
    for (const name of [
      'TWILIO_ACCOUNT_SID',
      'TWILIO_AUTH_TOKEN',
      'ELEVENLABS_API_KEY',
      'PII_KEYS',
      'PII_INDEX_KEY',
      'AUTH_SIGNING_KEYS',
      'PUBLIC_BASE_URL',
      'TRANSFER_PHONE_NUMBER',
    ] as const) {
      if (!input[name]) problems.push(`${name}: required when OPENAI_API_KEY is set (production mode)`);
    }
  }
  const workers = e ? (e.WORKERS === 'auto' ? availableParallelism() : e.WORKERS) : 1;
  if (workers > 1) {
    // Each worker must reach the same sessions and bookings: the in-process stores are per process.
    if (!input.DATABASE_URL)
      problems.push('DATABASE_URL: required when WORKERS > 1 (the embedded PostgreSQL is single-process)');
    if (!input.REDIS_URL && !input.REDIS_SENTINELS && !input.REDIS_CLUSTER_NODES)
      problems.push('REDIS_URL: required when WORKERS > 1 (the in-process session store is per process)');
  }
  if (problems.length > 0 || !e) throw new ConfigError(problems);

  const port = e.PORT;
  const redis: Config['redis'] = e.REDIS_CLUSTER_NODES
    ? { kind: 'cluster', nodes: e.REDIS_CLUSTER_NODES, ...(e.REDIS_URL ? { url: e.REDIS_URL } : {}) }
    : e.REDIS_SENTINELS
      ? {
          kind: 'sentinel',
          name: e.REDIS_SENTINEL_NAME,
          nodes: e.REDIS_SENTINELS,
          ...(e.REDIS_URL ? { url: e.REDIS_URL } : {}),
        }
      : e.REDIS_URL
        ? { kind: 'url', url: e.REDIS_URL }
        : { kind: 'memory' };

  const config: Config = {
    port,
    host: e.HOST,
    trustProxy: e.TRUST_PROXY ?? [],
    publicBaseUrl: (e.PUBLIC_BASE_URL ?? `http://127.0.0.1:${port}`).replace(/\/+$/, ''),
    databaseUrl: e.DATABASE_URL,
    redis,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    sessionTtlSeconds: e.SESSION_TTL_SECONDS,
    customerCacheTtlSeconds: e.CUSTOMER_CACHE_TTL_SECONDS,
    idleTrimSeconds: e.IDLE_TRIM_SECONDS,
    demoMode,
    twilio: {
      accountSid: e.TWILIO_ACCOUNT_SID ?? DEMO_TWILIO.accountSid,
      authToken: e.TWILIO_AUTH_TOKEN ?? DEMO_TWILIO.authToken,
      apiBaseUrl: e.TWILIO_API_BASE_URL.replace(/\/+$/, ''),
      transferNumber: e.TRANSFER_PHONE_NUMBER ?? DEMO_TRANSFER_NUMBER,
    },
    openai: {
      apiKey: e.OPENAI_API_KEY,
      baseUrl: e.OPENAI_BASE_URL.replace(/\/+$/, ''),
      model: e.OPENAI_MODEL,
      fallbackModel:
        e.OPENAI_FALLBACK_MODEL === 'none' ||
        e.OPENAI_FALLBACK_MODEL === '' ||
        e.OPENAI_FALLBACK_MODEL === e.OPENAI_MODEL
          ? null
          : e.OPENAI_FALLBACK_MODEL,
      realtimeUrl: e.OPENAI_REALTIME_URL,
      transcribeModel: e.OPENAI_TRANSCRIBE_MODEL,
    },
    elevenlabs: {
      apiKey: e.ELEVENLABS_API_KEY,
      baseUrl: e.ELEVENLABS_BASE_URL.replace(/\/+$/, ''),
      voiceId: e.ELEVENLABS_VOICE_ID,
      modelId: e.ELEVENLABS_MODEL_ID,
    },
    piiKeys: e.PII_KEYS,
    piiIndexKey: e.PII_INDEX_KEY,
    authSigningKeys: e.AUTH_SIGNING_KEYS,
    timezone: e.DEALERSHIP_TIMEZONE,
    logLevel: e.LOG_LEVEL,
    maxConcurrentCalls: e.MAX_CONCURRENT_CALLS,
    workers,
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Buffer.isBuffer(value) && !(value instanceof Map)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
