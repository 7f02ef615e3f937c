/** The staff API (CONTRACT.md § Routes): session cookie or `Authorization: Bearer <key>`, JSON only. */
import type { FastifyRequest } from 'fastify';
import { ValidationError } from '../../platform/errors';
import { contextOf } from '../guard';
import { field, queryOf } from '../http';
import type { Who } from '../staff-data';
import type { StaffContext } from './context';

const who = (req: FastifyRequest): Who => {
  const c = contextOf(req);
  return { actor: c.actor, ip: c.ip, via: 'api' };
};

export function apiRoutes(c: StaffContext): void {
  const { app, guards, data, audit } = c;
  const staff = { preHandler: guards.api() };
  const admin = { preHandler: guards.api({ admin: true }) };

  /** Dates default to today (dealership time); a given date must be a real YYYY-MM-DD. */
  const range = async (req: FastifyRequest) => {
    const q = queryOf(req);
    const from = field(q, 'from') ?? (await data.today());
    return { from, to: field(q, 'to') ?? from };
  };

  app.get('/api/me', staff, async (req) => {
    const p = contextOf(req).principal;
    return p.kind === 'staff'
      ? { kind: p.kind, id: p.id, email: p.email, role: p.role }
      : { kind: p.kind, id: p.id, name: p.name, role: p.role };
  });

  app.get('/api/appointments', staff, async (req) => {
    const { from, to } = await range(req);
    const status = field(queryOf(req), 'status');
    const appointments = await data.appointments(who(req), { from, to, ...(status ? { status } : {}) });
    return { appointments };
  });

  app.post<{ Params: { id: string } }>('/api/appointments/:id/cancel', staff, async (req) => {
    const appointment = await data.cancel(who(req), req.params.id);
    return { cancelled: true, appointment };
  });

  // `{calls, truncated, nextCursor}`: pass `nextCursor` back as `cursor` for the next (older) page.
  app.get('/api/calls', staff, async (req) =>
    data.callsWithTurns(who(req), { ...(await range(req)), cursor: field(queryOf(req), 'cursor') }),
  );

  app.get<{ Params: { callSid: string } }>('/api/calls/:callSid', staff, async (req) =>
    data.call(who(req), req.params.callSid),
  );

  app.get('/api/live-calls', staff, async () => ({ calls: await data.liveCalls() }));

  app.get('/api/audit', admin, async (req) => {
    const q = queryOf(req);
    const limitRaw = field(q, 'limit');
    const limit = limitRaw === undefined ? 100 : Number(limitRaw);
    if (!Number.isInteger(limit)) throw new ValidationError('INVALID_LIMIT', '`limit` is 1 to 500');
    const entries = await audit.list({
      before: field(q, 'before'),
      action: field(q, 'action'),
      actorId: field(q, 'actor'),
      targetId: field(q, 'target'),
      limit,
    });
    const last = entries.at(-1);
    return { entries, nextBefore: entries.length === limit && last ? last.id : null };
  });
}
