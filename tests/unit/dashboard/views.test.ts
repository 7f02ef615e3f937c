import type { StaffAppointment } from '../../../server/bookings';
import { escapeHtml, html } from '../../../server/dashboard/views/html';
import { cancelConfirm, dayView } from '../../../server/dashboard/views/day';
import { callDetail } from '../../../server/dashboard/views/calls';
import { layout } from '../../../server/dashboard/views/layout';

const XSS = '<img src=x onerror=alert(1)>';
const appt = (over: Partial<StaffAppointment> = {}): StaffAppointment => ({
  id: '6f1c1c39-6a8e-4a43-9d35-4b0ab2a1f0a1',
  startsAt: '2026-11-24T09:00:00-06:00',
  endsAt: '2026-11-24T10:00:00-06:00',
  status: 'booked',
  service: { code: 'BRAKES', name: 'Brake service' },
  bay: { id: 2, name: 'Bay 2' },
  customer: { id: 'c1', name: XSS, phoneMasked: '+1 ***-***-0142' },
  vehicle: { year: 2019, make: 'Toyota', model: XSS },
  source: 'phone',
  callSid: 'CA' + 'f'.repeat(32),
  ...over,
});

describe('html template', () => {
  it('escapes every interpolated string, including attribute quotes', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&\``)).toBe(
      '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&#96;',
    );
    const out = html`<p title="${'" onmouseover="alert(1)'}">${XSS}</p>`.value;
    expect(out).toBe('<p title="&quot; onmouseover=&quot;alert(1)">&lt;img src=x onerror=alert(1)&gt;</p>');
  });

  it('nests templates and arrays without double-escaping, and drops null, undefined and booleans', () => {
    const items = ['a<b', 'c'].map((x) => html`<li>${x}</li>`);
    expect(
      html`<ul>
        ${items}${null}${undefined}${false}
      </ul>`.value,
    ).toMatch(/^<ul>\s*<li>a&lt;b<\/li><li>c<\/li>\s*<\/ul>$/);
  });
});

describe('views', () => {
  const day = {
    date: '2026-11-24',
    today: '2026-11-20',
    prev: '2026-11-23',
    next: '2026-11-25',
    weekday: 'Tuesday',
    hours: { open: '07:00', close: '18:00' },
    bays: [
      { id: 1, name: 'Bay 1' },
      { id: 2, name: 'Bay 2' },
    ],
    slots: ['08:30', '09:00', '09:30'],
    appointments: [appt()],
  };

  it('the day grid puts a booking in its time row and bay column, text escaped', () => {
    const out = dayView(day).value;
    expect(out).not.toContain(XSS);
    const row = out.split('<tr').find((r) => r.includes('<th scope="row">09:00</th>')) as string;
    expect(row.split('<td')[2]).toContain('Brake service');
    expect(row.split('<td')[1]).toContain('class="free"');
    expect(out.replace(/\s+/g, ' ')).toContain('open 07:00–18:00 · 1 booking ');
    expect(out).toContain(
      'href="/dashboard/appointments/6f1c1c39-6a8e-4a43-9d35-4b0ab2a1f0a1/cancel?date=2026-11-24"',
    );
  });

  it('a cancelled booking has no cancel link; the confirmation escapes and carries the CSRF field', () => {
    expect(dayView({ ...day, appointments: [appt({ status: 'cancelled' })] }).value).not.toContain('/cancel');
    const confirm = cancelConfirm(appt(), 'tok"en', '2026-11-24').value;
    expect(confirm).toContain('name="_csrf" value="tok&quot;en"');
    expect(confirm).not.toContain(XSS);
  });

  it('the transcript renders each turn as text and marks interruptions', () => {
    const out = callDetail({
      callSid: 'CA' + '1'.repeat(32),
      status: 'completed',
      startedAt: '2026-11-24T09:00:00-06:00',
      endedAt: '2026-11-24T09:03:00-06:00',
      fromMasked: '+1 ***-***-0142',
      customerId: null,
      outcome: 'message',
      turns: [{ role: 'caller', text: XSS, at: '2026-11-24T09:00:05-06:00', interrupted: true }],
      latency: [],
    }).value;
    expect(out).not.toContain(XSS);
    expect(out).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(out).toContain('interrupted');
    expect(out).toContain('Message taken');
  });

  it('the layout links the one script and stylesheet, and shows admin links only to admins', () => {
    const assets = {
      css: '/dashboard/static/app.css?v=1',
      js: '/dashboard/static/app.js?v=1',
      icon: '/i.svg',
    };
    const staff = layout(
      { title: 'T', user: { email: 'a@b.test', role: 'staff', csrf: 'x' }, body: html`` },
      assets,
    );
    expect(staff.match(/<script/g)).toHaveLength(1);
    expect(staff).toContain('<script src="/dashboard/static/app.js?v=1" defer></script>');
    expect(staff).not.toContain('Audit log');
    const admin = layout(
      { title: 'T', user: { email: 'a@b.test', role: 'admin', csrf: 'x' }, body: html`` },
      assets,
    );
    expect(admin).toContain('Audit log');
    expect(admin).toContain('<meta name="csrf-token" content="x" />');
  });
});
