import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { Accounts } from '../../server/dashboard/accounts';
import { RedisSessionStore } from '../../server/sessions';
import { callSid as newCallSid } from '../support/keys';
import { startStack, TZ, type Stack } from './harness';
import {
  ARTIFACTS,
  bookOilChangeByPhone,
  eventually,
  launchBrowser,
  type Browser,
} from './dashboard-support';

const XSS = '<img src=x onerror=alert(1)>';
let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

jest.setTimeout(120_000);

const text = async (l: Locator) => ((await l.textContent()) ?? '').replace(/\s+/g, ' ').trim();
const hasText = (l: Locator, expected: string, timeoutMs?: number) =>
  eventually(async () => expect(await text(l)).toContain(expected), timeoutMs);
const count = (l: Locator, n: number, timeoutMs?: number) =>
  eventually(async () => expect(await l.count()).toBe(n), timeoutMs);
const visible = (l: Locator) => l.waitFor({ state: 'visible', timeout: 5000 });

const shot = (page: Page, name: string) =>
  page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
const localDate = (d: Date) =>
  new Intl.DateTimeFormat('en-CA', {
    timeZone: TZ,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(d);

async function logInFirstTime(page: Page, email: string, oneTime: string): Promise<void> {
  await page.goto(`${stack.baseUrl}/dashboard`);
  await page.waitForURL(/\/dashboard\/login\?next=/);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(oneTime);
  await shot(page, '01-login');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(/\/dashboard\/password$/);
  await page.getByLabel('One-time password').fill(oneTime);
  await page.getByLabel('New password', { exact: true }).fill('four bays and a coffee machine');
  await page.getByLabel('New password again').fill('four bays and a coffee machine');
  await shot(page, '02-choose-password');
  await page.getByRole('button', { name: 'Save password' }).click();
  await page.waitForURL(/\/dashboard\?done=password$/);
}

describe('staff dashboard in a real browser', () => {
  it('log in, change the one-time password, see a phone booking, cancel it, find it in the audit log', async () => {
    const { user, password } = await new Accounts(stack.tdb.db).createUser('manager@bayline.test', 'admin');
    const page = await browser.context.newPage();
    const dialogs: string[] = [];
    const cspErrors: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('console', (m) => {
      if (m.type() === 'error') cspErrors.push(m.text());
    });

    // The customer's call and the manager's first login happen at the same time.
    const [booking] = await Promise.all([
      bookOilChangeByPhone(stack),
      logInFirstTime(page, user.email, password),
    ]);
    await hasText(page.getByRole('status'), 'Password saved.');

    const { rows } = await stack.tdb.db.query<{ starts_at: Date }>(
      'SELECT starts_at FROM appointments WHERE id = $1',
      [booking.appointmentId],
    );
    const date = localDate(rows[0]!.starts_at);
    await page.getByLabel('Date').fill(date);
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(new RegExp(`date=${date}`));
    const card = page.locator(`article[data-appointment-id="${booking.appointmentId}"]`);
    await visible(card);
    await hasText(card, 'Oil change');
    await hasText(card, 'Dana Whitfield');
    await hasText(card, '+1 ***-***-0142');
    await hasText(card, '2019 Toyota Camry');
    await hasText(card, 'Phone');
    await shot(page, '03-day-with-phone-booking');

    // The same day on a phone: the grid folds into a list of busy slots, each card naming its bay.
    await page.setViewportSize({ width: 390, height: 844 });
    await visible(card.locator('.bay-label'));
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await shot(page, '04-day-phone');
    await page.setViewportSize({ width: 1280, height: 860 });

    // The call behind the booking, with its transcript.
    await card.getByRole('link', { name: 'Call' }).click();
    await hasText(page.locator('.transcript'), 'Hi Dana');
    await visible(page.locator('.transcript .turn.caller').first());
    await shot(page, '05-call-transcript');
    await page.goBack();

    await card.getByRole('link', { name: /^Cancel/ }).click();
    await visible(page.getByRole('heading', { name: 'Cancel booking' }));
    await shot(page, '06-cancel-confirmation');
    await page.getByRole('button', { name: 'Yes, cancel booking' }).click();
    await page.waitForURL(/done=cancelled/);
    await hasText(page.getByRole('status'), 'Booking cancelled.');
    await eventually(async () => expect(await card.getAttribute('class')).toContain('cancelled'));
    const after = await stack.tdb.db.query<{ status: string }>(
      'SELECT status FROM appointments WHERE id = $1',
      [booking.appointmentId],
    );
    expect(after.rows[0]?.status).toBe('cancelled');
    await shot(page, '07-day-after-cancel');

    await page.getByRole('link', { name: 'Audit log' }).click();
    const entry = page.locator('tbody tr', { hasText: 'appointment.cancel' });
    await count(entry, 1);
    await hasText(entry, booking.appointmentId);
    await hasText(entry, 'manager@bayline.test');
    await count(page.locator('tbody tr', { hasText: 'call.read' }), 1);
    await shot(page, '08-audit-log');

    // Admin pages: a new API key is shown once; users and their state are listed.
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByLabel('Name').fill('Reporting export');
    await page.getByRole('button', { name: 'Create key' }).click();
    await eventually(async () => expect(await text(page.locator('#new-key'))).toMatch(/^bk_[\w-]{43}$/));
    await shot(page, '09-api-key-created');
    await page.getByRole('link', { name: 'Users' }).click();
    await hasText(page.locator('tbody'), 'manager@bayline.test');
    await shot(page, '10-users');

    expect(dialogs).toEqual([]);
    expect(cspErrors).toEqual([]);
    await page.close();
  });

  it('shows a customer named like markup as text, and the live view updates by itself', async () => {
    const page = await browser.context.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    // Same browser profile: still logged in from the first test.
    const { cipher, tdb } = stack;
    const phone = '+13125550188';
    const c = await tdb.db.query<{ id: string }>(
      `INSERT INTO customers (name_enc, phone_enc, phone_index, pii_key_version) VALUES ($1, $2, $3, 1) RETURNING id`,
      [cipher.encrypt(XSS), cipher.encrypt(phone), cipher.blindIndex(phone)],
    );
    const starts = new Date(stack.now.getTime() + 26 * 3_600_000); // Tuesday, 12:00 or 13:00 local
    const a = await tdb.db.query<{ id: string }>(
      `INSERT INTO appointments (customer_id, service_code, bay_id, starts_at, ends_at, source)
       VALUES ($1, 'ROTATE', 3, $2, $3, 'staff') RETURNING id`,
      [c.rows[0]!.id, starts, new Date(starts.getTime() + 30 * 60_000)],
    );
    await page.goto(`${stack.baseUrl}/dashboard?date=${localDate(starts)}`);
    const card = page.locator(`article[data-appointment-id="${a.rows[0]!.id}"]`);
    await hasText(card.locator('.name'), XSS);
    expect(await page.locator('main img').count()).toBe(0);
    await shot(page, '11-markup-name-as-text');

    await page.goto(`${stack.baseUrl}/dashboard/live`);
    await hasText(page.locator('#live-status'), '0 calls in progress');
    const sessions = new RedisSessionStore({
      redis: stack.tr.redis,
      prefix: stack.tr.prefix,
      ttlSeconds: 60,
      cipher,
    });
    const sid = newCallSid();
    await sessions.create({ callSid: sid, state: 'listening', intent: XSS });
    // No reload: the page's script polls /api/live-calls and redraws the table.
    await count(page.locator('#live-calls tbody tr'), 1, 10_000);
    await hasText(page.locator('#live-calls tbody'), sid.slice(-8));
    await hasText(page.locator('#live-calls tbody'), XSS);
    await hasText(page.locator('#live-status'), '1 call in progress');
    await shot(page, '12-live-calls');
    await sessions.delete(sid);
    await count(page.locator('#live-calls tbody tr'), 0, 10_000);
    expect(dialogs).toEqual([]);
    await page.close();
  });
});
