/** Sending pages, and the staff side's error answers: JSON for the API, a page for the browser. */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ValidationError } from '../platform/errors';
import { RedirectError, type StaffPrincipal } from './guard';
import { RateLimitedError } from './rate-limit';
import { errorBody } from './views/auth-views';
import { layout, type Assets, type Page, type PageUser } from './views/layout';

export class Renderer {
  readonly #assets: Assets;

  constructor(assets: Assets) {
    this.#assets = assets;
  }

  page(reply: FastifyReply, page: Page, status = 200): FastifyReply {
    return reply.code(status).type('text/html; charset=utf-8').send(layout(page, this.#assets));
  }

  static user(p: StaffPrincipal): PageUser {
    return { email: p.email, role: p.role, csrf: p.claims.csrf };
  }
}

const TITLES: Record<number, string> = {
  400: 'Check the request',
  401: 'Please log in',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Cannot do that now',
  429: 'Too many requests',
};

export const isFormPost = (req: FastifyRequest) =>
  (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');

/** Browsers get pages; API clients (and JSON posts to /auth) get {"error":{"code","message"}}. */
const wantsPage = (req: FastifyRequest) =>
  req.url.startsWith('/dashboard') || (req.url.startsWith('/auth/') && isFormPost(req));

export function staffErrorHandler(renderer: Renderer) {
  return (err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof RedirectError) return reply.redirect(err.location, 303);
    let status = 500;
    let code = 'INTERNAL';
    let message = 'Something went wrong on our side; try again';
    if (err instanceof AppError) {
      status = err.statusCode;
      code = err.code;
      if (status < 500) message = err.message;
    } else {
      const e = err as FastifyError;
      if (e.validation || (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500)) {
        const v = new ValidationError(e.code ?? 'BAD_REQUEST', e.message || 'Bad request');
        status = e.statusCode ?? v.statusCode;
        code = v.code;
        message = v.message;
      }
    }
    if (err instanceof RateLimitedError) reply.header('Retry-After', String(err.retryAfterS));
    if (status >= 500) req.log.error({ err }, 'staff request failed');
    if (!wantsPage(req)) return reply.code(status).send({ error: { code, message } });
    return renderer.page(
      reply,
      { title: TITLES[status] ?? 'Something went wrong', body: errorBody(message, status === 401) },
      status,
    );
  };
}
