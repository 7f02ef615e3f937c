/** Administrators' pages: API keys (create, revoke), users (create, unlock, disable), the audit log. */
import { ConflictError, NotFoundError } from '../../platform/errors';
import { isUuid } from '../accounts';
import { staffOf } from '../guard';
import { bodyOf, field, queryOf } from '../http';
import { Renderer } from '../render';
import { apiKeysView, auditView, usersView } from '../views/admin';
import { whoOnPage } from './pages';
import type { StaffContext } from './context';

const PAGE_SIZE = 100;

const DONE: Record<string, string> = {
  revoked: 'API key revoked.',
  unlock: 'User unlocked.',
  disable: 'User disabled; their sessions have ended.',
  enable: 'User enabled.',
};

export function adminPages(c: StaffContext): void {
  const { app, guards, accounts, audit, login, renderer, data } = c;
  const admin = { preHandler: guards.page({ admin: true }) };

  app.get('/dashboard/admin/api-keys', admin, async (req, reply) => {
    const p = staffOf(req);
    const done = DONE[field(queryOf(req), 'done') ?? ''];
    return renderer.page(reply, {
      title: 'API keys',
      nav: 'keys',
      user: Renderer.user(p),
      flash: done ? { kind: 'ok', text: done } : null,
      body: apiKeysView(await accounts.listApiKeys(), p.claims.csrf, await data.timezone()),
    });
  });

  app.post('/dashboard/admin/api-keys', admin, async (req, reply) => {
    const p = staffOf(req);
    const body = bodyOf(req);
    const { key, row } = await accounts.createApiKey(field(body, 'name'), field(body, 'role'));
    await audit.record({
      ...whoOnPage(req),
      action: 'api_key.create',
      target: { type: 'api_key', id: row.id },
      details: { role: row.role, prefix: row.prefix },
    });
    return renderer.page(reply, {
      title: 'API keys',
      nav: 'keys',
      user: Renderer.user(p),
      body: apiKeysView(await accounts.listApiKeys(), p.claims.csrf, await data.timezone(), {
        key,
        name: row.name,
      }),
    });
  });

  app.post<{ Params: { id: string } }>('/dashboard/admin/api-keys/:id/revoke', admin, async (req, reply) => {
    const row = await accounts.revokeApiKey(req.params.id);
    await audit.record({
      ...whoOnPage(req),
      action: 'api_key.revoke',
      target: { type: 'api_key', id: row.id },
      details: { prefix: row.prefix },
    });
    return reply.redirect('/dashboard/admin/api-keys?done=revoked', 303);
  });

  app.get('/dashboard/admin/users', admin, async (req, reply) => {
    const p = staffOf(req);
    const done = DONE[field(queryOf(req), 'done') ?? ''];
    return renderer.page(reply, {
      title: 'Users',
      nav: 'users',
      user: Renderer.user(p),
      flash: done ? { kind: 'ok', text: done } : null,
      body: usersView(await accounts.listUsers(), p.claims.csrf, new Date(), await data.timezone()),
    });
  });

  app.post('/dashboard/admin/users', admin, async (req, reply) => {
    const p = staffOf(req);
    const body = bodyOf(req);
    const { user, password } = await accounts.createUser(field(body, 'email'), field(body, 'role'));
    await audit.record({
      ...whoOnPage(req),
      action: 'user.create',
      target: { type: 'staff_user', id: user.id },
      details: { role: user.role },
    });
    return renderer.page(reply, {
      title: 'Users',
      nav: 'users',
      user: Renderer.user(p),
      body: usersView(await accounts.listUsers(), p.claims.csrf, new Date(), await data.timezone(), {
        email: user.email,
        password,
      }),
    });
  });

  app.post<{ Params: { id: string; op: string } }>(
    '/dashboard/admin/users/:id/:op',
    admin,
    async (req, reply) => {
      const p = staffOf(req);
      const { id, op } = req.params;
      if (!['unlock', 'disable', 'enable'].includes(op) || !isUuid(id))
        throw new NotFoundError('NOT_FOUND', 'No such user action');
      const user = await accounts.userById(id);
      if (!user) throw new NotFoundError('USER_NOT_FOUND', 'No user with that id');
      if (op === 'disable' && user.id === p.id)
        throw new ConflictError('SELF_DISABLE', 'You cannot disable yourself');
      if (op === 'unlock') await login.unlock(user);
      else await accounts.setDisabled(user.id, op === 'disable');
      await audit.record({
        ...whoOnPage(req),
        action: op === 'unlock' ? 'user.unlock' : op === 'disable' ? 'user.disable' : 'user.enable',
        target: { type: 'staff_user', id: user.id },
      });
      return reply.redirect(`/dashboard/admin/users?done=${op}`, 303);
    },
  );

  app.get('/dashboard/admin/audit', admin, async (req, reply) => {
    const p = staffOf(req);
    const q = queryOf(req);
    const query = {
      before: field(q, 'before'),
      action: field(q, 'action'),
      targetId: field(q, 'target'),
      limit: PAGE_SIZE,
    };
    const entries = await audit.list(query);
    const last = entries.at(-1);
    return renderer.page(reply, {
      title: 'Audit log',
      nav: 'audit',
      user: Renderer.user(p),
      body: auditView(
        entries,
        query,
        entries.length === PAGE_SIZE && last ? last.id : null,
        await data.timezone(),
      ),
    });
  });
}
