/**
 * Who is asking: a staff member (session cookie) or an API key (`Authorization: Bearer`). Each
 * request is checked against the database, so a disabled user, a changed password or a revoked key
 * takes effect at once, not when a token happens to expire.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Accounts } from './accounts';
import type { Actor } from './audit';
import { parseCookies, SESSION_COOKIE } from './cookies';
import type { Role } from './policy';
import { passwordFingerprint, type StaffSessions } from './sessions';
import type { SessionClaims } from './tokens';

export type Principal =
  | {
      kind: 'staff';
      id: string;
      email: string;
      role: Role;
      mustChangePassword: boolean;
      claims: SessionClaims;
    }
  | { kind: 'api_key'; id: string; name: string; role: Role };

export type AuthOutcome =
  | { principal: Principal }
  /** Credentials were offered and are not good (as opposed to none offered). */
  | { principal: null; offered: boolean };

export function actorOf(p: Principal): Actor {
  return { type: p.kind === 'staff' ? 'staff' : 'api_key', id: p.id };
}

export class Authenticator {
  readonly #accounts: Accounts;
  readonly #sessions: StaffSessions;

  constructor(opts: { accounts: Accounts; sessions: StaffSessions }) {
    this.#accounts = opts.accounts;
    this.#sessions = opts.sessions;
  }

  /** API routes: a Bearer key if one is given (then the cookie is ignored), else the session. */
  async api(req: FastifyRequest, reply: FastifyReply): Promise<AuthOutcome> {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer ([^\s]+)$/i.exec(header.trim());
      const key = m?.[1] ? await this.#accounts.useApiKey(m[1]) : null;
      if (!key) return { principal: null, offered: true };
      return { principal: { kind: 'api_key', id: key.id, name: key.name, role: key.role } };
    }
    return this.session(req, reply);
  }

  /** Pages and /auth routes: the session cookie only. */
  async session(req: FastifyRequest, reply: FastifyReply): Promise<AuthOutcome> {
    const token = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    if (!token) return { principal: null, offered: false };
    const v = this.#sessions.signer.verify(token);
    if (!v.ok) {
      req.log.debug({ reason: v.reason }, 'staff token refused');
      this.#sessions.clearCookie(req, reply);
      return { principal: null, offered: true };
    }
    const [revoked, user] = await Promise.all([
      this.#sessions.isRevoked(v.claims.sid),
      this.#accounts.userById(v.claims.sub),
    ]);
    if (revoked || !user || user.disabledAt || passwordFingerprint(user.passwordHash) !== v.claims.pv) {
      req.log.debug({ revoked, known: user !== null }, 'staff session refused');
      this.#sessions.clearCookie(req, reply);
      return { principal: null, offered: true };
    }
    if (v.stale) this.#sessions.renew(req, reply, v.claims);
    return {
      principal: {
        kind: 'staff',
        id: user.id,
        email: user.email,
        role: user.role,
        mustChangePassword: user.mustChangePassword,
        claims: v.claims,
      },
    };
  }
}
