/**
 * Staff authentication, the staff API and the dashboard web app. Everything here is registered in
 * its own encapsulated scope: its hooks, error handler and form parser touch no other route.
 */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app';
import { BookingService } from '../bookings';
import { CallQueries } from '../calls/queries';
import { CustomerRepository } from '../customers';
import { Accounts } from './accounts';
import { registerAssets } from './assets';
import { AuditLog } from './audit';
import { Authenticator } from './auth';
import { Guards } from './guard';
import { acceptForms } from './http';
import { LoginService } from './login';
import { dummyHash } from './passwords';
import { DEFAULT_POLICY, type StaffPolicy } from './policy';
import { RateLimiter, subjectKeyFrom } from './rate-limit';
import { Renderer, staffErrorHandler } from './render';
import { adminPages } from './routes/admin-pages';
import { apiRoutes } from './routes/api-routes';
import { authRoutes } from './routes/auth-routes';
import type { StaffContext } from './routes/context';
import { pageRoutes } from './routes/pages';
import { securityHeaders } from './security';
import { StaffSessions } from './sessions';
import { StaffData } from './staff-data';
import { TokenSigner } from './tokens';

export { Accounts } from './accounts';
export type { StaffPolicy } from './policy';

export interface StaffRouteOptions {
  /** Overrides of the security numbers (tests use short windows). */
  policy?: Partial<StaffPolicy>;
  now?: () => number;
}

export function createStaffRoutes(opts: StaffRouteOptions = {}) {
  return async function registerStaff(app: FastifyInstance, deps: AppDeps): Promise<void> {
    const policy: StaffPolicy = { ...DEFAULT_POLICY, ...opts.policy };
    const now = opts.now ?? Date.now;
    const { db, cipher, kv, config } = deps;
    const accounts = new Accounts(db);
    const audit = new AuditLog(db);
    const signer = new TokenSigner(deps.authSigningKeys, {
      ttlMs: policy.tokenTtlMs,
      refreshAfterMs: policy.refreshAfterMs,
      sessionMaxMs: policy.sessionMaxMs,
      graceMs: policy.keyRotationGraceMs,
      now,
    });
    const sessions = new StaffSessions({ signer, kv, policy, publicBaseUrl: config.publicBaseUrl });
    const auth = new Authenticator({ accounts, sessions });
    const subjectKey = subjectKeyFrom(cipher);
    const limiter = new RateLimiter(kv, subjectKey, now);
    const bookings = new BookingService({
      db,
      cipher,
      customers: deps.customers,
      customerRepo: new CustomerRepository(db, cipher),
      timezone: config.timezone,
    });

    acceptForms(app);
    securityHeaders(app);
    const renderer = new Renderer(registerAssets(app));
    app.setErrorHandler(staffErrorHandler(renderer));
    // Computed now, so the first login for an unknown e-mail is not slower than the others.
    void dummyHash();

    const ctx: StaffContext = {
      app,
      policy,
      accounts,
      audit,
      auth,
      guards: new Guards({ auth, limiter, policy, origins: [new URL(config.publicBaseUrl).origin] }),
      login: new LoginService({ accounts, kv, policy, now, subjectKey }),
      limiter,
      sessions,
      data: new StaffData({
        db,
        cipher,
        bookings,
        calls: new CallQueries(db, cipher),
        sessions: deps.sessions,
        audit,
      }),
      renderer,
    };
    authRoutes(ctx);
    apiRoutes(ctx);
    pageRoutes(ctx);
    adminPages(ctx);
  };
}

/** Registered by buildApp with the production policy. */
export const staffRoutes = createStaffRoutes();
