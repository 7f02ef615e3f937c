/**
 * Cross-site request forgery: every change made with a session cookie must carry the session's
 * CSRF token (form field `_csrf` or header `X-CSRF-Token`), and must not come from another origin
 * (Origin and Sec-Fetch-Site, where the browser sends them). SameSite=Strict cookies are the third
 * layer. Requests with an API key carry no ambient credential and need none of this.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../platform/errors';

export class CsrfError extends AppError {
  constructor(message = 'This form has expired or came from another site; reload the page and try again') {
    super('CSRF_REJECTED', message, { statusCode: 403 });
  }
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** The token a request offers: the header (scripts) or the form field (plain HTML forms). */
export function offeredToken(req: FastifyRequest): string | undefined {
  const header = req.headers['x-csrf-token'];
  if (typeof header === 'string') return header;
  const body = req.body as Record<string, unknown> | undefined | null;
  const field = body && typeof body === 'object' ? body._csrf : undefined;
  return typeof field === 'string' ? field : undefined;
}

/** Refuses requests a browser marks as coming from another site. */
export function assertSameOrigin(req: FastifyRequest, allowedOrigins: readonly string[]): void {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') throw new CsrfError();
  const origin = req.headers.origin;
  if (origin === undefined) return;
  const own = `${req.protocol}://${req.host}`;
  if (origin !== own && !allowedOrigins.includes(origin)) throw new CsrfError();
}

export function assertCsrf(req: FastifyRequest, expected: string, allowedOrigins: readonly string[]): void {
  assertSameOrigin(req, allowedOrigins);
  const offered = offeredToken(req);
  if (offered === undefined || !sameToken(offered, expected)) throw new CsrfError();
}

export const isUnsafeMethod = (method: string) => !['GET', 'HEAD', 'OPTIONS'].includes(method);
