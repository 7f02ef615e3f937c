/**
 * The audit trail: who did what to which record, when, from where. Rows are append-only (a trigger
 * refuses UPDATE and DELETE). Details never carry PII: records are named by id.
 */
import type { Db } from '../platform/postgres';
import { ValidationError } from '../platform/errors';

export interface Actor {
  type: 'staff' | 'api_key' | 'system';
  id: string | null;
}

export interface AuditEvent {
  actor: Actor;
  action: string;
  target?: { type: string; id: string | null };
  ip: string | null;
  details?: Record<string, string | number | boolean | null>;
}

export interface AuditEntry {
  id: string;
  at: Date;
  actorType: string;
  actorId: string | null;
  /** E-mail of a staff actor, name of an API key actor (joined for display). */
  actorLabel: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  details: Record<string, unknown>;
}

export interface AuditQuery {
  /** Entries with a smaller id than this (paging backwards). */
  before?: string;
  action?: string;
  actorId?: string;
  targetId?: string;
  limit?: number;
}

interface Row {
  id: string;
  at: Date;
  actor_type: string;
  actor_id: string | null;
  actor_label: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  details: Record<string, unknown>;
}

export const AUDIT_ACTIONS = [
  'auth.login',
  'auth.login_failed',
  'auth.locked',
  'auth.logout',
  'auth.password_changed',
  'appointments.list',
  'appointment.read',
  'appointment.cancel',
  'calls.list',
  'call.read',
  'user.create',
  'user.unlock',
  'user.disable',
  'user.enable',
  'api_key.create',
  'api_key.revoke',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export class AuditLog {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async record(e: AuditEvent & { action: AuditAction }): Promise<void> {
    await this.#db.query(
      `INSERT INTO audit_log (actor_type, actor_id, action, target_type, target_id, ip, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`,
      [
        e.actor.type,
        e.actor.id,
        e.action,
        e.target?.type ?? null,
        e.target?.id ?? null,
        e.ip,
        JSON.stringify(e.details ?? {}),
      ],
    );
  }

  async list(q: AuditQuery): Promise<AuditEntry[]> {
    if (q.before !== undefined && !/^\d{1,18}$/.test(q.before))
      throw new ValidationError('INVALID_CURSOR', '`before` is an audit entry id');
    const limit = q.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 500)
      throw new ValidationError('INVALID_LIMIT', '`limit` is 1 to 500');
    const { rows } = await this.#db.query<Row>(
      `SELECT a.id::text AS id, a.at, a.actor_type, a.actor_id, COALESCE(u.email, k.name) AS actor_label,
              a.action, a.target_type, a.target_id, a.ip, a.details
         FROM audit_log a
         LEFT JOIN staff_users u ON a.actor_type = 'staff' AND u.id::text = a.actor_id
         LEFT JOIN api_keys k ON a.actor_type = 'api_key' AND k.id::text = a.actor_id
        WHERE ($1::bigint IS NULL OR a.id < $1::bigint)
          AND ($2::text IS NULL OR a.action = $2)
          AND ($3::text IS NULL OR a.actor_id = $3)
          AND ($4::text IS NULL OR a.target_id = $4)
        ORDER BY a.id DESC LIMIT $5`,
      [q.before ?? null, q.action || null, q.actorId || null, q.targetId || null, limit],
    );
    return rows.map((r) => ({
      id: r.id,
      at: r.at,
      actorType: r.actor_type,
      actorId: r.actor_id,
      actorLabel: r.actor_label,
      action: r.action,
      targetType: r.target_type,
      targetId: r.target_id,
      ip: r.ip,
      details: r.details,
    }));
  }
}
