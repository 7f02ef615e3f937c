import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Secrets and PII are removed by path, wherever they turn up; the product never puts PII in a log
 * message string (messages are constant), only in fields that these paths redact.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-twilio-signature"]',
  'res.headers["set-cookie"]',
  'password',
  'token',
  'apiKey',
  'phone',
  'from',
  'to',
  'email',
  'name',
  'text',
  '*.password',
  '*.token',
  '*.apiKey',
  '*.phone',
  '*.from',
  '*.to',
  '*.email',
  '*.name',
  '*.text',
  '*.transcript',
];

/**
 * A phone number as error texts write it: E.164 or international (`+13125550142`, `+44 20 7946 0958`,
 * URL-encoded `%2B1…`), or national with or without separators (`(312) 555-0142`, `312.555.0142`,
 * `3125550142`). A digit run inside a word (a SID, a hex id, a UUID's last group) is not one. The
 * length is bounded (a written number is ~20 characters), so no input makes it backtrack for long.
 */
const PHONE_CANDIDATE = /(?:\+|%2B|(?<![\w.-]))\(?\d[\d \t().-]{0,24}\d(?!\w)/gi;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const DATE = /^\d{4}-\d{2}-\d{2}(?!\d)/;
const LOCAL_NUMBER = /^\d{3}[ .-]\d{4}$/;
const PHONE_MASK = '[phone]';

function isPhoneShaped(candidate: string): boolean {
  const digits = candidate.replace(/\D/g, '').length - (/^%2B/i.test(candidate) ? 1 : 0);
  if (digits < 7) return false;
  if (candidate.startsWith('+') || /^%2B/i.test(candidate)) return true;
  if (IPV4.test(candidate) || DATE.test(candidate)) return false;
  // Ten digits and up is a number with its area code (two numbers run together stay masked too).
  return digits >= 10 || LOCAL_NUMBER.test(candidate);
}

/** Replaces every phone-number-shaped run in `text` with `[phone]`. */
export function maskPhoneNumbers(text: string): string {
  return text.replace(PHONE_CANDIDATE, (m) => (isPhoneShaped(m) ? PHONE_MASK : m));
}

const MAX_SCRUB_DEPTH = 4;

function isErrorLike(value: object): boolean {
  return typeof (value as { message?: unknown }).message === 'string';
}

function isPlain(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A copy of a serialized error with phone numbers masked in every string; the error itself is untouched. */
function scrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return maskPhoneNumbers(value);
  if (typeof value !== 'object' || value === null || depth > MAX_SCRUB_DEPTH) return value;
  if (Array.isArray(value)) return value.map((v: unknown) => scrub(v, depth + 1));
  // Plain data and errors (pino's serialized ones too, with their own prototype) are walked; other
  // class instances (a Buffer, a socket) are not: walking a socket would cost more than it shows.
  if (depth > 0 && !isPlain(value) && !isErrorLike(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = scrub(v, depth + 1);
  }
  return out;
}

/**
 * pino's err serializer, then phone numbers masked. Provider errors quote what they were sent
 * (Twilio: "The 'To' number +1… is not a valid phone number"), and pino folds every cause's
 * message and stack into `message` and `stack`, where path redaction cannot reach.
 */
export function serializeError(err: unknown): unknown {
  return scrub(pino.stdSerializers.err(err as Error), 0);
}

export function createLogger(opts: { level: string; destination?: pino.DestinationStream }): Logger {
  const options: LoggerOptions = {
    level: opts.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // Child loggers inherit it, and fastify keeps a given instance's serializers over its own.
    serializers: { err: serializeError },
    hooks: {
      // Our messages are constant, but some lines take an error's text as theirs: `log.warn(err)`
      // with no message, and fastify's default error and client-error logs. Masked the same way.
      logMethod(args, method) {
        const [first, ...rest] = args as unknown[];
        const message = first instanceof Error && typeof rest[0] !== 'string' ? [first.message] : [];
        const masked = [first, ...message, ...rest].map((a) =>
          typeof a === 'string' ? maskPhoneNumbers(a) : a,
        );
        return method.apply(this, masked as Parameters<typeof method>);
      },
    },
    base: { service: 'bayline' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
