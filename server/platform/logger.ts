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

export function createLogger(opts: { level: string; destination?: pino.DestinationStream }): Logger {
  const options: LoggerOptions = {
    level: opts.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'bayline' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
