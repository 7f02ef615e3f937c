/** Login, logout and password change (POST /auth/*), and the two pages that lead to them. */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ValidationError } from '../../platform/errors';
import { LOGIN_CSRF_COOKIE, parseCookies, serializeCookie } from '../cookies';
import { assertSameOrigin, CsrfError } from '../csrf';
import { staffOf } from '../guard';
import { bodyOf, field, queryOf, requiredField, safeNext } from '../http';
import { hashPassword, passwordProblem } from '../passwords';
import { MAX_PASSWORD_LENGTH } from '../policy';
import { setRateLimitHeaders, RateLimitedError } from '../rate-limit';
import { isFormPost, Renderer } from '../render';
import { loginForm, passwordForm } from '../views/auth-views';
import type { StaffContext } from './context';

function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

export function authRoutes(c: StaffContext): void {
  const { app, guards, sessions, login, audit, accounts, limiter, policy, renderer } = c;

  const loginPage = (
    req: FastifyRequest,
    reply: FastifyReply,
    opts: { next: string; email?: string; error?: string; status?: number },
  ) => {
    const csrf = randomBytes(24).toString('base64url');
    reply.header(
      'Set-Cookie',
      serializeCookie(LOGIN_CSRF_COOKIE, csrf, {
        maxAgeS: 3600,
        secure: sessions.isSecure(req),
        path: '/auth',
      }),
    );
    return renderer.page(
      reply,
      {
        title: 'Log in',
        flash: opts.error ? { kind: 'error', text: opts.error } : null,
        body: loginForm({ csrf, next: opts.next, ...(opts.email ? { email: opts.email } : {}) }),
      },
      opts.status ?? 200,
    );
  };

  app.get('/dashboard/login', async (req, reply) => {
    const next = safeNext(field(queryOf(req), 'next'));
    if ((await c.auth.session(req, reply)).principal) return reply.redirect(next, 303);
    return loginPage(req, reply, { next });
  });

  app.post('/auth/login', async (req, reply) => {
    assertSameOrigin(req, guards.origins);
    const limit = await limiter.hit('login', req.ip, policy.loginRate);
    setRateLimitHeaders(reply, limit);
    if (!limit.allowed) throw new RateLimitedError(limit.resetS);
    const body = bodyOf(req);
    const form = isFormPost(req);
    const email = (field(body, 'email') ?? '').trim().toLowerCase();
    const password = field(body, 'password') ?? '';
    const next = safeNext(field(body, 'next'));
    if (form && !sameToken(field(body, '_csrf'), parseCookies(req.headers.cookie).get(LOGIN_CSRF_COOKIE)))
      throw new CsrfError();
    if (!email || !password || email.length > 254 || password.length > MAX_PASSWORD_LENGTH) {
      const e = new ValidationError('INVALID_LOGIN', 'Enter your e-mail and password');
      if (!form) throw e;
      return loginPage(req, reply, { next, email, error: e.message, status: 400 });
    }
    const result = await login.attempt(email, password);
    if (!result.ok) {
      const target = { type: 'staff_user', id: result.user?.id ?? null };
      await audit.record({
        actor: { type: 'system', id: null },
        action: 'auth.login_failed',
        target,
        ip: req.ip,
        details: { code: result.error.code },
      });
      if (result.locked)
        await audit.record({
          actor: { type: 'system', id: null },
          action: 'auth.locked',
          target,
          ip: req.ip,
        });
      if (result.error instanceof RateLimitedError)
        reply.header('Retry-After', String(result.error.retryAfterS));
      if (!form) throw result.error;
      return loginPage(req, reply, {
        next,
        email,
        error: result.error.message,
        status: result.error.statusCode,
      });
    }
    const user = result.user;
    const claims = sessions.start(req, reply, user);
    await audit.record({
      actor: { type: 'staff', id: user.id },
      action: 'auth.login',
      target: { type: 'staff_user', id: user.id },
      ip: req.ip,
    });
    if (form) return reply.redirect(user.mustChangePassword ? '/dashboard/password' : next, 303);
    return {
      user: { id: user.id, email: user.email, role: user.role, mustChangePassword: user.mustChangePassword },
      csrfToken: claims.csrf,
    };
  });

  app.post(
    '/auth/logout',
    { preHandler: guards.page({ beforePasswordChange: true }) },
    async (req, reply) => {
      const p = staffOf(req);
      await sessions.revoke(p.claims.sid);
      sessions.clearCookie(req, reply);
      await audit.record({
        actor: { type: 'staff', id: p.id },
        action: 'auth.logout',
        target: { type: 'staff_user', id: p.id },
        ip: req.ip,
      });
      if (isFormPost(req)) return reply.redirect('/dashboard/login', 303);
      return reply.code(204).send();
    },
  );

  app.get(
    '/dashboard/password',
    { preHandler: guards.page({ beforePasswordChange: true }) },
    async (req, reply) => {
      const p = staffOf(req);
      return renderer.page(reply, {
        title: p.mustChangePassword ? 'Choose your password' : 'Change password',
        user: p.mustChangePassword ? null : Renderer.user(p),
        body: passwordForm({ csrf: p.claims.csrf, firstLogin: p.mustChangePassword }),
      });
    },
  );

  app.post(
    '/auth/password',
    { preHandler: guards.page({ beforePasswordChange: true }) },
    async (req, reply) => {
      const p = staffOf(req);
      const body = bodyOf(req);
      const form = isFormPost(req);
      const current = requiredField(body, 'currentPassword');
      const next = requiredField(body, 'newPassword');
      const confirm = field(body, 'confirmPassword');
      let problem = confirm !== undefined && confirm !== next ? 'The two new passwords differ' : null;
      problem ??= next === current ? 'Choose a password different from the current one' : null;
      problem ??= passwordProblem(next, p.email);
      // The current password goes through the login checks, so guessing it here is limited the same way.
      const check = problem ? null : await login.attempt(p.email, current);
      let locked = false;
      if (check && !check.ok) {
        if (check.error instanceof RateLimitedError) {
          locked = true;
          reply.header('Retry-After', String(check.error.retryAfterS));
          if (!form) throw check.error;
          problem = check.error.message;
        } else problem = 'The current password is not right';
      }
      if (problem) {
        if (!form) throw new ValidationError('INVALID_PASSWORD', problem);
        return renderer.page(
          reply,
          {
            title: p.mustChangePassword ? 'Choose your password' : 'Change password',
            user: p.mustChangePassword ? null : Renderer.user(p),
            flash: { kind: 'error', text: problem },
            body: passwordForm({ csrf: p.claims.csrf, firstLogin: p.mustChangePassword }),
          },
          locked ? 429 : 400,
        );
      }
      const hash = await hashPassword(next);
      await accounts.setPassword(p.id, hash);
      sessions.renew(req, reply, p.claims, hash);
      await audit.record({
        actor: { type: 'staff', id: p.id },
        action: 'auth.password_changed',
        target: { type: 'staff_user', id: p.id },
        ip: req.ip,
      });
      if (form) return reply.redirect('/dashboard?done=password', 303);
      return { changed: true };
    },
  );
}
