import { html, type Html } from './html';
import { csrfField } from './layout';

export function loginForm(opts: { csrf: string; next: string; email?: string }): Html {
  return html`<form method="post" action="/auth/login" class="card narrow" novalidate>
    ${csrfField(opts.csrf)}
    <input type="hidden" name="next" value="${opts.next}" />
    <p>
      <label for="email">E-mail</label>
      <input
        id="email"
        name="email"
        type="email"
        autocomplete="username"
        required
        value="${opts.email ?? ''}"
      />
    </p>
    <p>
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required />
    </p>
    <p><button type="submit">Log in</button></p>
  </form>`;
}

export function passwordForm(opts: { csrf: string; firstLogin: boolean }): Html {
  return html`<form method="post" action="/auth/password" class="card narrow">
    ${csrfField(opts.csrf)}
    ${
      opts.firstLogin
        ? html`<p class="hint">You signed in with a one-time password. Choose your own to continue.</p>`
        : ''
    }
    <p>
      <label for="current">${opts.firstLogin ? 'One-time password' : 'Current password'}</label>
      <input id="current" name="currentPassword" type="password" autocomplete="current-password" required />
    </p>
    <p>
      <label for="new">New password</label>
      <input
        id="new"
        name="newPassword"
        type="password"
        autocomplete="new-password"
        minlength="12"
        required
        aria-describedby="new-hint"
      />
      <small id="new-hint">At least 12 characters; a few unrelated words work well.</small>
    </p>
    <p>
      <label for="confirm">New password again</label>
      <input id="confirm" name="confirmPassword" type="password" autocomplete="new-password" required />
    </p>
    <p><button type="submit">Save password</button></p>
  </form>`;
}

export function errorBody(message: string, showLogin: boolean): Html {
  return html`<p>${message}</p>
    <p>
      ${showLogin ? html`<a href="/dashboard/login">Log in</a>` : html`<a href="/dashboard">Back to bookings</a>`}
    </p>`;
}
