/**
 * Staff users and API keys: the rows, and the two ways they are created (the admin command and the
 * admin pages share these). Secrets leave here once, in the return value, and are never stored.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../platform/postgres';
import { ConflictError, NotFoundError, ValidationError } from '../platform/errors';
import { hashPassword, oneTimePassword } from './passwords';
import { isRole, type Role } from './policy';

export interface StaffUser {
  id: string;
  email: string;
  passwordHash: string;
  role: Role;
  mustChangePassword: boolean;
  failedLogins: number;
  lockedUntil: Date | null;
  createdAt: Date;
  disabledAt: Date | null;
}

export interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  role: Role;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  role: Role;
  must_change_password: boolean;
  failed_logins: number;
  locked_until: Date | null;
  created_at: Date;
  disabled_at: Date | null;
}

interface KeyRow {
  id: string;
  name: string;
  prefix: string;
  role: Role;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const USER_COLS =
  'id, email, password_hash, role, must_change_password, failed_logins, locked_until, created_at, disabled_at';
const KEY_COLS = 'id, name, prefix, role, created_at, last_used_at, revoked_at';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL_RE = /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/;

/** API keys look like `bk_<43 base64url chars>`; the first 10 characters are shown as the prefix. */
export const API_KEY_RE = /^bk_[A-Za-z0-9_-]{43}$/;
const PREFIX_CHARS = 10;

export const isUuid = (s: string) => UUID_RE.test(s);

export function normalizeEmail(raw: unknown): string {
  const email = typeof raw === 'string' ? raw.trim().toLowerCase() : '';
  if (email.length > 254 || !EMAIL_RE.test(email))
    throw new ValidationError('INVALID_EMAIL', 'Enter an e-mail address such as name@example.com');
  return email;
}

function toUser(r: UserRow): StaffUser {
  return {
    id: r.id,
    email: r.email,
    passwordHash: r.password_hash,
    role: r.role,
    mustChangePassword: r.must_change_password,
    failedLogins: r.failed_logins,
    lockedUntil: r.locked_until,
    createdAt: r.created_at,
    disabledAt: r.disabled_at,
  };
}

function toKey(r: KeyRow): ApiKeyRow {
  return {
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    role: r.role,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}

export const sha256 = (value: string) => createHash('sha256').update(value).digest();

export class Accounts {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async userByEmail(email: string): Promise<StaffUser | null> {
    const { rows } = await this.#db.query<UserRow>(`SELECT ${USER_COLS} FROM staff_users WHERE email = $1`, [
      email,
    ]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  async userById(id: string): Promise<StaffUser | null> {
    if (!isUuid(id)) return null;
    const { rows } = await this.#db.query<UserRow>(`SELECT ${USER_COLS} FROM staff_users WHERE id = $1`, [
      id,
    ]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  async listUsers(): Promise<StaffUser[]> {
    const { rows } = await this.#db.query<UserRow>(`SELECT ${USER_COLS} FROM staff_users ORDER BY email`);
    return rows.map(toUser);
  }

  /** A new login with a one-time password, which must be changed at first login. */
  async createUser(emailRaw: unknown, role: unknown): Promise<{ user: StaffUser; password: string }> {
    const email = normalizeEmail(emailRaw);
    if (!isRole(role)) throw new ValidationError('INVALID_ROLE', 'Role is staff or admin');
    const password = oneTimePassword();
    const hash = await hashPassword(password);
    const { rows } = await this.#db.query<UserRow>(
      `INSERT INTO staff_users (email, password_hash, role, must_change_password) VALUES ($1, $2, $3, true)
       ON CONFLICT (email) DO NOTHING RETURNING ${USER_COLS}`,
      [email, hash, role],
    );
    if (!rows[0]) throw new ConflictError('USER_EXISTS', 'A user with that e-mail already exists');
    return { user: toUser(rows[0]), password };
  }

  /**
   * The first login of a fresh install (demo mode): an admin with a one-time password, created only
   * while no staff user exists at all. Null when there already is one (or another instance won).
   */
  async ensureFirstAdmin(email = 'admin@bayline.local'): Promise<{ email: string; password: string } | null> {
    const { rows } = await this.#db.query<{ n: number }>('SELECT count(*)::int AS n FROM staff_users');
    if ((rows[0]?.n ?? 0) > 0) return null;
    try {
      const { user, password } = await this.createUser(email, 'admin');
      return { email: user.email, password };
    } catch (err) {
      if (err instanceof ConflictError) return null;
      throw err;
    }
  }

  async setPassword(userId: string, hash: string): Promise<void> {
    await this.#db.query(
      `UPDATE staff_users SET password_hash = $2, must_change_password = false, failed_logins = 0, locked_until = NULL
       WHERE id = $1`,
      [userId, hash],
    );
  }

  async recordFailedLogin(userId: string, lockedUntil: Date | null): Promise<void> {
    await this.#db.query(
      `UPDATE staff_users SET failed_logins = failed_logins + 1, locked_until = COALESCE($2, locked_until) WHERE id = $1`,
      [userId, lockedUntil],
    );
  }

  async clearFailedLogins(userId: string): Promise<void> {
    await this.#db.query(
      'UPDATE staff_users SET failed_logins = 0, locked_until = NULL WHERE id = $1 AND (failed_logins > 0 OR locked_until IS NOT NULL)',
      [userId],
    );
  }

  async setDisabled(userId: string, disabled: boolean): Promise<StaffUser> {
    const { rows } = await this.#db.query<UserRow>(
      `UPDATE staff_users SET disabled_at = CASE WHEN $2 THEN COALESCE(disabled_at, now()) END WHERE id = $1
       RETURNING ${USER_COLS}`,
      [userId, disabled],
    );
    if (!rows[0]) throw new NotFoundError('USER_NOT_FOUND', 'No user with that id');
    return toUser(rows[0]);
  }

  /** A new API key; only its SHA-256 is kept. The key itself is in the result, once. */
  async createApiKey(nameRaw: unknown, role: unknown): Promise<{ key: string; row: ApiKeyRow }> {
    const name = typeof nameRaw === 'string' ? nameRaw.replace(/\s+/g, ' ').trim() : '';
    if (name.length < 1 || name.length > 100)
      throw new ValidationError('INVALID_NAME', 'Give the key a name of 1 to 100 characters');
    if (!isRole(role)) throw new ValidationError('INVALID_ROLE', 'Role is staff or admin');
    const key = `bk_${randomBytes(32).toString('base64url')}`;
    const { rows } = await this.#db.query<KeyRow>(
      `INSERT INTO api_keys (name, prefix, key_sha256, role) VALUES ($1, $2, $3, $4) RETURNING ${KEY_COLS}`,
      [name, key.slice(0, PREFIX_CHARS), sha256(key), role],
    );
    return { key, row: toKey(rows[0] as KeyRow) };
  }

  async listApiKeys(): Promise<ApiKeyRow[]> {
    const { rows } = await this.#db.query<KeyRow>(
      `SELECT ${KEY_COLS} FROM api_keys ORDER BY revoked_at IS NOT NULL, created_at DESC`,
    );
    return rows.map(toKey);
  }

  /** The live key with this secret, stamping its last use (at most once a minute, to spare writes). */
  async useApiKey(key: string): Promise<ApiKeyRow | null> {
    if (!API_KEY_RE.test(key)) return null;
    const { rows } = await this.#db.query<KeyRow>(
      `SELECT ${KEY_COLS} FROM api_keys WHERE key_sha256 = $1 AND revoked_at IS NULL`,
      [sha256(key)],
    );
    const row = rows[0];
    if (!row) return null;
    if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000) {
      const stamped = await this.#db.query<{ last_used_at: Date }>(
        'UPDATE api_keys SET last_used_at = now() WHERE id = $1 RETURNING last_used_at',
        [row.id],
      );
      row.last_used_at = stamped.rows[0]?.last_used_at ?? row.last_used_at;
    }
    return toKey(row);
  }

  async revokeApiKey(id: string): Promise<ApiKeyRow> {
    if (!isUuid(id)) throw new NotFoundError('API_KEY_NOT_FOUND', 'No API key with that id');
    const { rows } = await this.#db.query<KeyRow>(
      `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING ${KEY_COLS}`,
      [id],
    );
    if (!rows[0]) throw new NotFoundError('API_KEY_NOT_FOUND', 'No API key with that id');
    return toKey(rows[0]);
  }
}
