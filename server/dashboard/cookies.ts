/** The two cookie operations the staff side needs, without a dependency. */

export const SESSION_COOKIE = 'bl_session';
/** Double-submit token of the login form (there is no session yet to bind a CSRF token to). */
export const LOGIN_CSRF_COOKIE = 'bl_login_csrf';

const NAME_RE = /^[A-Za-z0-9_-]+$/;

/** Parses a Cookie header; the first occurrence of a name wins, malformed pairs are skipped. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 1) continue;
    const name = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (!NAME_RE.test(name) || out.has(name)) continue;
    try {
      out.set(name, decodeURIComponent(value));
    } catch {
      // An undecodable value is as good as absent.
    }
  }
  return out;
}

export interface CookieOptions {
  maxAgeS: number;
  secure: boolean;
  path?: string;
}

/** HttpOnly and SameSite=Strict always: no script reads these and no other site sends them. */
export function serializeCookie(name: string, value: string, opts: CookieOptions): string {
  if (!NAME_RE.test(name)) throw new Error('invalid cookie name');
  const parts = [
    `${name}=${encodeURIComponent(value)}`,
    `Path=${opts.path ?? '/'}`,
    `Max-Age=${Math.max(0, Math.floor(opts.maxAgeS))}`,
    'HttpOnly',
    'SameSite=Strict',
  ];
  if (opts.secure) parts.push('Secure');
  return parts.join('; ');
}
