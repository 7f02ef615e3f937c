/** Administrators' pages: API keys, users and the audit log. */
import type { ApiKeyRow, StaffUser } from '../accounts';
import type { AuditEntry, AuditQuery } from '../audit';
import { AUDIT_ACTIONS } from '../audit';
import { formatIsoOffset } from '../../bookings/time';
import { html, query, type Html } from './html';
import { csrfField, shortTime } from './layout';

/** Dealership-local `YYYY-MM-DD HH:mm`, or a dash. */
const at = (tz: string) => (d: Date | null) => (d ? shortTime(formatIsoOffset(d, tz)) : '—');

const roleSelect = (id: string) =>
  html`<label for="${id}">Role</label>
    <select id="${id}" name="role">
      <option value="staff">Staff</option>
      <option value="admin">Administrator</option>
    </select>`;

export function apiKeysView(
  keys: ApiKeyRow[],
  csrf: string,
  tz: string,
  created?: { key: string; name: string },
): Html {
  const when = at(tz);
  const rows = keys.map(
    (k) =>
      html`<tr class="${k.revokedAt ? 'revoked' : ''}">
        <td>${k.name}</td>
        <td><code>${k.prefix}…</code></td>
        <td>${k.role}</td>
        <td>${when(k.createdAt)}</td>
        <td>${when(k.lastUsedAt)}</td>
        <td>
          ${
            k.revokedAt
              ? html`Revoked ${when(k.revokedAt)}`
              : html`<form
                  method="post"
                  action="/dashboard/admin/api-keys/${k.id}/revoke"
                  data-confirm="Revoke the key ${k.name}? Anything using it stops working at once."
                >
                  ${csrfField(csrf)}
                  <button type="submit" class="danger small">
                    Revoke<span class="visually-hidden"> ${k.name}</span>
                  </button>
                </form>`
          }
        </td>
      </tr>`,
  );
  return html`${
      created
        ? html`<div class="card secret" role="status">
            <p>New key <strong>${created.name}</strong>. Copy it now: it is not shown again.</p>
            <p><code class="key" id="new-key">${created.key}</code></p>
          </div>`
        : ''
    }
    <div class="table-wrap">
      <table class="list">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Prefix</th>
            <th scope="col">Role</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          ${
            rows.length
              ? rows
              : html`<tr>
                  <td colspan="6">No API keys yet.</td>
                </tr>`
          }
        </tbody>
      </table>
    </div>
    <h2>New API key</h2>
    <form method="post" action="/dashboard/admin/api-keys" class="card inline">
      ${csrfField(csrf)}
      <label for="key-name">Name</label>
      <input id="key-name" name="name" required maxlength="100" />
      ${roleSelect('key-role')}
      <button type="submit">Create key</button>
    </form>`;
}

export function usersView(
  users: StaffUser[],
  csrf: string,
  now: Date,
  tz: string,
  created?: { email: string; password: string },
): Html {
  const when = at(tz);
  const rows = users.map((u) => {
    const locked = u.lockedUntil !== null && u.lockedUntil > now;
    const action = (path: string, label: string, cls = '') =>
      html`<form method="post" action="/dashboard/admin/users/${u.id}/${path}" class="inline">
        ${csrfField(csrf)}
        <button type="submit" class="small ${cls}">
          ${label}<span class="visually-hidden"> ${u.email}</span>
        </button>
      </form>`;
    return html`<tr class="${u.disabledAt ? 'revoked' : ''}">
      <td>${u.email}</td>
      <td>${u.role}</td>
      <td>
        ${u.disabledAt ? 'Disabled' : locked ? `Locked until ${when(u.lockedUntil)}` : 'Active'}
        ${u.mustChangePassword ? html`<br /><small>One-time password not yet changed</small>` : ''}
      </td>
      <td class="num">${u.failedLogins}</td>
      <td>${when(u.createdAt)}</td>
      <td>
        ${locked || u.failedLogins > 0 ? action('unlock', 'Unlock') : ''}
        ${u.disabledAt ? action('enable', 'Enable') : action('disable', 'Disable', 'danger')}
      </td>
    </tr>`;
  });
  return html`${
      created
        ? html`<div class="card secret" role="status">
            <p>
              User <strong>${created.email}</strong> created. One-time password (shown once; it must be
              changed at first login):
            </p>
            <p><code class="key" id="new-password">${created.password}</code></p>
          </div>`
        : ''
    }
    <div class="table-wrap">
      <table class="list">
        <thead>
          <tr>
            <th scope="col">E-mail</th>
            <th scope="col">Role</th>
            <th scope="col">Status</th>
            <th scope="col" class="num">Failed logins</th>
            <th scope="col">Created</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          ${rows}
        </tbody>
      </table>
    </div>
    <h2>New user</h2>
    <form method="post" action="/dashboard/admin/users" class="card inline">
      ${csrfField(csrf)}
      <label for="user-email">E-mail</label>
      <input id="user-email" name="email" type="email" required autocomplete="off" />
      ${roleSelect('user-role')}
      <button type="submit">Create user</button>
    </form>`;
}

export function auditView(entries: AuditEntry[], q: AuditQuery, nextBefore: string | null, tz: string): Html {
  const when = at(tz);
  const rows = entries.map(
    (e) =>
      html`<tr>
        <td>${when(e.at)}</td>
        <td>${e.actorType}${e.actorLabel ? html`<br /><small>${e.actorLabel}</small>` : ''}</td>
        <td><code>${e.action}</code></td>
        <td>${e.targetType ?? ''}${e.targetId ? html`<br /><code class="id">${e.targetId}</code>` : ''}</td>
        <td>${e.ip ?? ''}</td>
        <td>
          <code class="details">${Object.keys(e.details).length ? JSON.stringify(e.details) : ''}</code>
        </td>
      </tr>`,
  );
  const options = AUDIT_ACTIONS.map(
    (a) => html`<option value="${a}" ${q.action === a ? html` selected` : ''}>${a}</option>`,
  );
  return html`<form method="get" action="/dashboard/admin/audit" class="toolbar inline">
      <label for="action">Action</label>
      <select id="action" name="action">
        <option value="">Any</option>
        ${options}
      </select>
      <label for="target">Record id</label>
      <input id="target" name="target" value="${q.targetId ?? ''}" />
      <button type="submit">Filter</button>
    </form>
    <div class="table-wrap">
      <table class="list audit">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">Action</th>
            <th scope="col">Record</th>
            <th scope="col">From</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          ${
            rows.length
              ? rows
              : html`<tr>
                  <td colspan="6">Nothing recorded.</td>
                </tr>`
          }
        </tbody>
      </table>
    </div>
    ${
      nextBefore
        ? html`<p>
            <a
              href="/dashboard/admin/audit${query({ action: q.action, target: q.targetId, before: nextBefore })}"
              >Older entries →</a
            >
          </p>`
        : ''
    }`;
}
