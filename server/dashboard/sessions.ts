/**
 * Staff browser sessions: a signed token in an HttpOnly, SameSite=Strict cookie (Secure behind
 * https). The token is short-lived and re-issued while in use; logout revokes its session id in the
 * key-value store, which every request consults, so a copied cookie dies with the logout.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kv } from '../platform/kv';
import { serializeCookie, SESSION_COOKIE } from './cookies';
import type { StaffPolicy } from './policy';
import type { SessionClaims, TokenSigner } from './tokens';

const revokedKey = (sid: string) => `auth:revoked:${sid}`;

/** Changes whenever the password hash does; a token minted under another password is void. */
export function passwordFingerprint(passwordHash: string): string {
  return createHash('sha256').update(passwordHash).digest('base64url').slice(0, 16);
}

export class StaffSessions {
  readonly signer: TokenSigner;
  readonly #kv: Kv;
  readonly #policy: StaffPolicy;
  readonly #secureBase: boolean;

  constructor(opts: { signer: TokenSigner; kv: Kv; policy: StaffPolicy; publicBaseUrl: string }) {
    this.signer = opts.signer;
    this.#kv = opts.kv;
    this.#policy = opts.policy;
    this.#secureBase = opts.publicBaseUrl.startsWith('https:');
  }

  /** Behind https (directly or via the proxy's X-Forwarded-Proto), cookies are Secure. */
  isSecure(req: FastifyRequest): boolean {
    return this.#secureBase || req.protocol === 'https';
  }

  /** A new session for a user who just proved their password. */
  start(req: FastifyRequest, reply: FastifyReply, user: { id: string; passwordHash: string }): SessionClaims {
    const session = {
      sub: user.id,
      sid: randomBytes(16).toString('base64url'),
      csrf: randomBytes(24).toString('base64url'),
      pv: passwordFingerprint(user.passwordHash),
      auth: this.signer.nowS(),
    };
    const token = this.signer.sign(session);
    this.#setCookie(req, reply, token);
    return { ...session, iat: session.auth, exp: session.auth + this.#policy.tokenTtlMs / 1000 };
  }

  /** Same session, new token: current key, fresh expiry (sliding), optionally a new password fingerprint. */
  renew(req: FastifyRequest, reply: FastifyReply, claims: SessionClaims, passwordHash?: string): void {
    const { iat: _iat, exp: _exp, ...session } = claims;
    if (passwordHash) session.pv = passwordFingerprint(passwordHash);
    this.#setCookie(req, reply, this.signer.sign(session));
  }

  async isRevoked(sid: string): Promise<boolean> {
    return (await this.#kv.get(revokedKey(sid))) !== null;
  }

  async revoke(sid: string): Promise<void> {
    await this.#kv.set(revokedKey(sid), '1', this.#policy.sessionMaxMs);
  }

  clearCookie(req: FastifyRequest, reply: FastifyReply): void {
    reply.header(
      'Set-Cookie',
      serializeCookie(SESSION_COOKIE, '', { maxAgeS: 0, secure: this.isSecure(req) }),
    );
  }

  #setCookie(req: FastifyRequest, reply: FastifyReply, token: string): void {
    reply.header(
      'Set-Cookie',
      serializeCookie(SESSION_COOKIE, token, {
        maxAgeS: this.#policy.tokenTtlMs / 1000,
        secure: this.isSecure(req),
      }),
    );
  }
}
