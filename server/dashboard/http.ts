/** Small request helpers: one string per parameter, form bodies, safe redirect targets. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ValidationError } from '../platform/errors';

const MAX_PARAM = 200;

/** A query or body field as one string; repeated or oversized values are refused, not guessed at. */
export function field(source: unknown, name: string): string | undefined {
  const v = source && typeof source === 'object' ? (source as Record<string, unknown>)[name] : undefined;
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw new ValidationError('INVALID_PARAMETER', `\`${name}\` must be given once`);
  if (v.length > MAX_PARAM && name !== 'password' && !name.endsWith('Password'))
    throw new ValidationError('INVALID_PARAMETER', `\`${name}\` is too long`);
  return v;
}

export function requiredField(source: unknown, name: string): string {
  const v = field(source, name);
  if (v === undefined) throw new ValidationError('MISSING_PARAMETER', `\`${name}\` is required`);
  return v;
}

export const queryOf = (req: FastifyRequest) => req.query as Record<string, unknown>;
export const bodyOf = (req: FastifyRequest) => (req.body ?? {}) as Record<string, unknown>;

/** Only a path inside the dashboard: never another host (`//evil`) or scheme. */
export function safeNext(next: string | undefined): string {
  return next && /^\/dashboard(?:[/?#]|$)/.test(next) && !next.includes('\\') && !next.startsWith('//')
    ? next
    : '/dashboard';
}

/** HTML forms post application/x-www-form-urlencoded; parsed into a plain null-prototype object. */
export function acceptForms(app: FastifyInstance): void {
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 16 * 1024 },
    (_req, body, done) => {
      const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      for (const [k, v] of new URLSearchParams(body as string)) {
        const prev = out[k];
        out[k] = prev === undefined ? v : Array.isArray(prev) ? [...(prev as string[]), v] : [prev, v];
      }
      done(null, out);
    },
  );
}
