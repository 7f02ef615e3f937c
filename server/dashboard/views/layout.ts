import { html, type Html } from './html';

export type NavItem = 'day' | 'calls' | 'live' | 'keys' | 'users' | 'audit';

export interface PageUser {
  email: string;
  role: 'staff' | 'admin';
  csrf: string;
}

export interface Page {
  title: string;
  nav?: NavItem | null;
  /** Absent on the login page and the first-login password change (no navigation yet). */
  user?: PageUser | null;
  flash?: { kind: 'ok' | 'error'; text: string } | null;
  body: Html;
}

export interface Assets {
  css: string;
  js: string;
  icon: string;
}

const NAV: Array<{ id: NavItem; href: string; label: string; admin?: boolean }> = [
  { id: 'day', href: '/dashboard', label: 'Bookings' },
  { id: 'calls', href: '/dashboard/calls', label: 'Calls' },
  { id: 'live', href: '/dashboard/live', label: 'Live calls' },
  { id: 'keys', href: '/dashboard/admin/api-keys', label: 'API keys', admin: true },
  { id: 'users', href: '/dashboard/admin/users', label: 'Users', admin: true },
  { id: 'audit', href: '/dashboard/admin/audit', label: 'Audit log', admin: true },
];

/** The hidden field every POST form carries (see csrf.ts). */
export const csrfField = (csrf: string) => html`<input type="hidden" name="_csrf" value="${csrf}" />`;

function nav(user: PageUser, current: NavItem | null | undefined): Html {
  const items = NAV.filter((n) => !n.admin || user.role === 'admin').map(
    (n) =>
      html`<li><a href="${n.href}" ${n.id === current ? html` aria-current="page"` : ''}>${n.label}</a></li>`,
  );
  return html`<nav aria-label="Main">
      <ul>
        ${items}
      </ul>
    </nav>
    <form method="post" action="/auth/logout" class="logout">
      ${csrfField(user.csrf)}
      <span class="who" title="Signed in as">${user.email}</span>
      <button type="submit" class="link">Log out</button>
    </form>`;
}

export function layout(page: Page, assets: Assets): string {
  const u = page.user;
  const flash = page.flash
    ? html`<p class="flash ${page.flash.kind}" role="${page.flash.kind === 'error' ? 'alert' : 'status'}">
        ${page.flash.text}
      </p>`
    : '';
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        ${u ? html`<meta name="csrf-token" content="${u.csrf}" />` : ''}
        <title>${page.title} · Bayline</title>
        <link rel="icon" href="${assets.icon}" type="image/svg+xml" />
        <link rel="stylesheet" href="${assets.css}" />
        <script src="${assets.js}" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="top">
          <a class="brand" href="/dashboard">Bayline <span>service desk</span></a>
          ${u ? nav(u, page.nav) : ''}
        </header>
        <main id="main" tabindex="-1">
          <h1>${page.title}</h1>
          ${flash} ${page.body}
        </main>
      </body>
    </html> `.value;
}

/** Short local date-time for tables: `2026-11-24 09:00` from an ISO string with offset. */
export function shortTime(iso: string | null): string {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : '—';
}
