import type { FastifyInstance } from 'fastify';
import type { Accounts } from '../accounts';
import type { AuditLog } from '../audit';
import type { Authenticator } from '../auth';
import type { Guards } from '../guard';
import type { LoginService } from '../login';
import type { StaffPolicy } from '../policy';
import type { RateLimiter } from '../rate-limit';
import type { Renderer } from '../render';
import type { StaffSessions } from '../sessions';
import type { StaffData } from '../staff-data';

/** Everything the staff routes share, built once per app in ../index.ts. */
export interface StaffContext {
  app: FastifyInstance;
  policy: StaffPolicy;
  accounts: Accounts;
  audit: AuditLog;
  auth: Authenticator;
  guards: Guards;
  login: LoginService;
  limiter: RateLimiter;
  sessions: StaffSessions;
  data: StaffData;
  renderer: Renderer;
}
