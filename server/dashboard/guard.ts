/**
 * Route guards: authenticate, check the role, apply the API rate limit, enforce CSRF on changes
 * made with a cookie, and leave the result where the handler can find it (`contextOf`).
 */
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { AppError, ForbiddenError, UnauthorizedError } from '../platform/errors';
import { actorOf, type Authenticator, type Principal } from './auth';
import type { Actor } from './audit';
import { assertCsrf, isUnsafeMethod } from './csrf';
import type { StaffPolicy } from './policy';
import { RateLimitedError, setRateLimitHeaders, type RateLimiter } from './rate-limit';

export interface RequestContext {
  principal: Principal;
  actor: Actor;
  ip: string;
}

export type StaffPrincipal = Extract<Principal, { kind: 'staff' }>;

const contexts = new WeakMap<FastifyRequest, RequestContext>();

export function contextOf(req: FastifyRequest): RequestContext {
  const c = contexts.get(req);
  if (!c) throw new AppError('NO_CONTEXT', 'route is missing its guard');
  return c;
}

export function staffOf(req: FastifyRequest): StaffPrincipal {
  const p = contextOf(req).principal;
  if (p.kind !== 'staff') throw new ForbiddenError('This needs a staff login');
  return p;
}

export class PasswordChangeRequiredError extends AppError {
  constructor() {
    super('PASSWORD_CHANGE_REQUIRED', 'Change your one-time password first (POST /auth/password)', {
      statusCode: 403,
    });
  }
}

/** Thrown by page guards; the page error handler turns it into a redirect. */
export class RedirectError extends AppError {
  readonly location: string;
  constructor(location: string) {
    super('REDIRECT', 'See other', { statusCode: 303 });
    this.location = location;
  }
}

export interface GuardOptions {
  admin?: boolean;
  /** Reachable with a one-time password still unchanged (the change-password form, logout). */
  beforePasswordChange?: boolean;
}

export class Guards {
  readonly #auth: Authenticator;
  readonly #limiter: RateLimiter;
  readonly #policy: StaffPolicy;
  readonly #origins: readonly string[];

  constructor(opts: { auth: Authenticator; limiter: RateLimiter; policy: StaffPolicy; origins: string[] }) {
    this.#auth = opts.auth;
    this.#limiter = opts.limiter;
    this.#policy = opts.policy;
    this.#origins = opts.origins;
  }

  get origins(): readonly string[] {
    return this.#origins;
  }

  /** /api/*: session cookie or API key; JSON errors; rate limited per principal. */
  api(opts: GuardOptions = {}): preHandlerAsyncHookHandler {
    return async (req: FastifyRequest, reply: FastifyReply) => {
      const outcome = await this.#auth.api(req, reply);
      if (!outcome.principal) {
        const s = await this.#limiter.hit('api-auth-fail', req.ip, this.#policy.apiAuthFailureRate);
        setRateLimitHeaders(reply, s);
        if (!s.allowed) throw new RateLimitedError(s.resetS);
        throw new UnauthorizedError(
          outcome.offered ? 'The session or API key is not valid' : 'Log in or send an API key',
        );
      }
      const p = outcome.principal;
      const s = await this.#limiter.hit('api', `${p.kind}:${p.id}`, this.#policy.apiRate);
      setRateLimitHeaders(reply, s);
      if (!s.allowed) throw new RateLimitedError(s.resetS);
      this.#authorize(req, p, opts);
      contexts.set(req, { principal: p, actor: actorOf(p), ip: req.ip });
    };
  }

  /** /dashboard and /auth: the session cookie only; failures become redirects or error pages. */
  page(opts: GuardOptions = {}): preHandlerAsyncHookHandler {
    return async (req: FastifyRequest, reply: FastifyReply) => {
      const outcome = await this.#auth.session(req, reply);
      if (!outcome.principal) {
        if (isUnsafeMethod(req.method)) throw new UnauthorizedError('Your session has ended; log in again');
        const next = req.url.startsWith('/dashboard') ? `?next=${encodeURIComponent(req.url)}` : '';
        throw new RedirectError(`/dashboard/login${next}`);
      }
      const p = outcome.principal;
      if (
        p.kind === 'staff' &&
        p.mustChangePassword &&
        !opts.beforePasswordChange &&
        !isUnsafeMethod(req.method)
      )
        throw new RedirectError('/dashboard/password');
      this.#authorize(req, p, opts);
      contexts.set(req, { principal: p, actor: actorOf(p), ip: req.ip });
    };
  }

  #authorize(req: FastifyRequest, p: Principal, opts: GuardOptions): void {
    if (p.kind === 'staff') {
      if (isUnsafeMethod(req.method)) assertCsrf(req, p.claims.csrf, this.#origins);
      if (p.mustChangePassword && !opts.beforePasswordChange) throw new PasswordChangeRequiredError();
    }
    if (opts.admin && p.role !== 'admin') throw new ForbiddenError('This needs an administrator');
  }
}
