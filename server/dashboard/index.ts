import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app';

/** Staff authentication, the staff API and the dashboard web app. */
export async function staffRoutes(_app: FastifyInstance, _deps: AppDeps): Promise<void> {
  // Filled in by the dashboard work (issue: staff dashboard and API).
}
