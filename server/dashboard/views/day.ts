/**
 * The bookings of one day by bay and time: one table, a grid on wide screens; on phones CSS folds it
 * into a list of the busy time slots (each card then names its bay).
 */
import type { StaffAppointment } from '../../bookings';
import { html, query, type Html } from './html';

export interface DayModel {
  date: string;
  today: string;
  prev: string;
  next: string;
  weekday: string;
  hours: { open: string; close: string } | null;
  bays: Array<{ id: number; name: string }>;
  /** Slot start times (`HH:mm`) covering opening hours and every booking of the day. */
  slots: string[];
  appointments: StaffAppointment[];
}

const hhmm = (iso: string) => iso.slice(11, 16);
const STATUS_LABEL: Record<StaffAppointment['status'], string> = {
  booked: 'Booked',
  cancelled: 'Cancelled',
  completed: 'Completed',
  no_show: 'No-show',
};

function vehicle(a: StaffAppointment): string {
  return a.vehicle ? `${a.vehicle.year} ${a.vehicle.make} ${a.vehicle.model}` : 'Vehicle not given';
}

function card(a: StaffAppointment, date: string): Html {
  return html`<article class="appt ${a.status}" data-appointment-id="${a.id}">
    <p class="when">
      <time datetime="${a.startsAt}">${hhmm(a.startsAt)}</time>–<time datetime="${a.endsAt}"
        >${hhmm(a.endsAt)}</time
      >
      <span class="status">${STATUS_LABEL[a.status]}</span>
    </p>
    <p class="service">${a.service.name}</p>
    <p class="customer">
      <span class="name">${a.customer.name ?? 'Name not given'}</span>
      <span class="phone">${a.customer.phoneMasked}</span>
    </p>
    <p class="vehicle">${vehicle(a)}</p>
    <p class="meta">
      <span class="source">${a.source === 'phone' ? 'Phone' : 'Staff'}</span>
      <span class="bay-label">${a.bay.name}</span>
      ${a.callSid ? html`<a href="/dashboard/calls/${encodeURIComponent(a.callSid)}">Call</a>` : ''}
      ${
        a.status === 'booked'
          ? html`<a class="cancel" href="/dashboard/appointments/${a.id}/cancel${query({ date })}"
              >Cancel<span class="visually-hidden"> ${a.service.name} at ${hhmm(a.startsAt)}</span></a
            >`
          : ''
      }
    </p>
  </article>`;
}

function grid(m: DayModel): Html {
  const rows = m.slots.map((slot) => {
    let busy = false;
    const cells = m.bays.map((bay) => {
      const here = m.appointments.filter((a) => a.bay.id === bay.id && hhmm(a.startsAt) === slot);
      busy ||= here.length > 0;
      return html`<td${here.length ? '' : html` class="free"`}>${here.map((a) => card(a, m.date))}</td>`;
    });
    return html`<tr${busy ? '' : html` class="free"`}>
      <th scope="row">${slot}</th>
      ${cells}
    </tr>`;
  });
  return html`<div class="grid-wrap">
    <table class="day-grid">
      <caption class="visually-hidden">
        Bookings on ${m.date} by bay and time
      </caption>
      <thead>
        <tr>
          <th scope="col">Time</th>
          ${m.bays.map((b) => html`<th scope="col">${b.name}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${rows}
      </tbody>
    </table>
  </div>`;
}

export function dayView(m: DayModel): Html {
  const booked = m.appointments.filter((a) => a.status === 'booked').length;
  return html`<div class="toolbar">
      <nav aria-label="Days" class="days">
        <a href="/dashboard${query({ date: m.prev })}" rel="prev">← Previous day</a>
        ${m.date !== m.today ? html`<a href="/dashboard">Today</a>` : ''}
        <a href="/dashboard${query({ date: m.next })}" rel="next">Next day →</a>
      </nav>
      <form method="get" action="/dashboard" class="inline">
        <label for="date">Date</label>
        <input id="date" name="date" type="date" value="${m.date}" required />
        <button type="submit">Show</button>
      </form>
    </div>
    <p class="summary">
      ${m.weekday} <strong>${m.date}</strong>${m.date === m.today ? ' (today)' : ''} ·
      ${m.hours ? `open ${m.hours.open}–${m.hours.close}` : 'closed'} · ${booked}
      booking${booked === 1 ? '' : 's'}
    </p>
    ${m.appointments.length === 0 ? html`<p class="empty">No bookings on this day.</p>` : ''}
    ${m.slots.length > 0 && m.bays.length > 0 ? grid(m) : ''}`;
}

export function cancelConfirm(a: StaffAppointment, csrf: string, date: string): Html {
  return html`<div class="card narrow">
    <p>Cancel this booking? The customer is not told automatically.</p>
    <dl class="facts">
      <dt>When</dt>
      <dd>${a.startsAt.slice(0, 10)} ${hhmm(a.startsAt)}–${hhmm(a.endsAt)}</dd>
      <dt>Service</dt>
      <dd>${a.service.name}</dd>
      <dt>Customer</dt>
      <dd>${a.customer.name ?? 'Name not given'} (${a.customer.phoneMasked})</dd>
      <dt>Vehicle</dt>
      <dd>${vehicle(a)}</dd>
      <dt>Bay</dt>
      <dd>${a.bay.name}</dd>
    </dl>
    <form method="post" action="/dashboard/appointments/${a.id}/cancel" class="actions">
      <input type="hidden" name="_csrf" value="${csrf}" />
      <input type="hidden" name="date" value="${date}" />
      <button type="submit" class="danger">Yes, cancel booking</button>
      <a href="/dashboard${query({ date })}">No, keep it</a>
    </form>
  </div>`;
}
