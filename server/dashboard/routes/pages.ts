/** The dashboard's pages for every staff member: the day's bookings, cancelling, calls, live calls. */
import type { FastifyRequest } from 'fastify';
import type { StaffAppointment } from '../../bookings';
import { addDays, parseLocalDate, weekdayOf } from '../../bookings/time';
import { contextOf, staffOf } from '../guard';
import { field, queryOf } from '../http';
import { Renderer } from '../render';
import type { Who } from '../staff-data';
import { callDetail, callsList, liveView } from '../views/calls';
import { cancelConfirm, dayView } from '../views/day';
import type { StaffContext } from './context';

const DONE: Record<string, string> = {
  cancelled: 'Booking cancelled.',
  password: 'Password saved.',
};

const WEEKDAY_NAMES: Record<string, string> = {
  sun: 'Sunday',
  mon: 'Monday',
  tue: 'Tuesday',
  wed: 'Wednesday',
  thu: 'Thursday',
  fri: 'Friday',
  sat: 'Saturday',
};

export const whoOnPage = (req: FastifyRequest): Who => {
  const c = contextOf(req);
  return { actor: c.actor, ip: c.ip, via: 'dashboard' };
};

const minutesOf = (iso: string) => Number(iso.slice(11, 13)) * 60 + Number(iso.slice(14, 16));
const hhmm = (m: number) =>
  `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

/** Slot rows from opening to closing, widened to hold any booking outside the hours. */
function slotsFor(
  hours: { openMinutes: number; closeMinutes: number } | null,
  appointments: StaffAppointment[],
  step: number,
): string[] {
  let start = hours?.openMinutes ?? Infinity;
  let end = hours?.closeMinutes ?? -Infinity;
  for (const a of appointments) {
    start = Math.min(start, minutesOf(a.startsAt));
    const sameDay = a.endsAt.slice(0, 10) === a.startsAt.slice(0, 10);
    end = Math.max(end, sameDay ? minutesOf(a.endsAt) : 24 * 60);
  }
  if (!Number.isFinite(start) || !Number.isFinite(end)) return [];
  const slots = new Set<string>();
  for (let m = start - (start % step); m < end; m += step) slots.add(hhmm(m));
  for (const a of appointments) slots.add(a.startsAt.slice(11, 16));
  return [...slots].sort();
}

export function pageRoutes(c: StaffContext): void {
  const { app, guards, data, renderer, policy } = c;
  const staff = { preHandler: guards.page() };

  app.get('/dashboard', staff, async (req, reply) => {
    const p = staffOf(req);
    const q = queryOf(req);
    const d = await data.dealership();
    const today = await data.today();
    const date = field(q, 'date') ?? today;
    parseLocalDate(date);
    const appointments = await data.appointments(whoOnPage(req), { from: date, to: date });
    const hours = d.hours[weekdayOf(date)] ?? null;
    const bays = [...d.bays];
    for (const a of appointments) if (!bays.some((b) => b.id === a.bay.id)) bays.push(a.bay);
    const done = DONE[field(q, 'done') ?? ''];
    return renderer.page(reply, {
      title: 'Bookings',
      nav: 'day',
      user: Renderer.user(p),
      flash: done ? { kind: 'ok', text: done } : null,
      body: dayView({
        date,
        today,
        prev: addDays(date, -1),
        next: addDays(date, 1),
        weekday: WEEKDAY_NAMES[weekdayOf(date)] ?? '',
        hours: hours && { open: hours.open, close: hours.close },
        bays,
        slots: slotsFor(hours, appointments, d.slotMinutes),
        appointments,
      }),
    });
  });

  app.get<{ Params: { id: string } }>('/dashboard/appointments/:id/cancel', staff, async (req, reply) => {
    const p = staffOf(req);
    const a = await data.appointment(whoOnPage(req), req.params.id);
    const date = a.startsAt.slice(0, 10);
    if (a.status !== 'booked') return reply.redirect(`/dashboard?date=${date}`, 303);
    return renderer.page(reply, {
      title: 'Cancel booking',
      nav: 'day',
      user: Renderer.user(p),
      body: cancelConfirm(a, p.claims.csrf, date),
    });
  });

  app.post<{ Params: { id: string } }>('/dashboard/appointments/:id/cancel', staff, async (req, reply) => {
    const a = await data.cancel(whoOnPage(req), req.params.id);
    return reply.redirect(`/dashboard?date=${a.startsAt.slice(0, 10)}&done=cancelled`, 303);
  });

  app.get('/dashboard/calls', staff, async (req, reply) => {
    const p = staffOf(req);
    const q = queryOf(req);
    const from = field(q, 'from') ?? (await data.today());
    const to = field(q, 'to') ?? from;
    const cursor = field(q, 'cursor');
    const page = await data.calls(whoOnPage(req), { from, to, cursor });
    return renderer.page(reply, {
      title: 'Calls',
      nav: 'calls',
      user: Renderer.user(p),
      body: callsList({ from, to, paged: cursor !== undefined, ...page }),
    });
  });

  app.get<{ Params: { callSid: string } }>('/dashboard/calls/:callSid', staff, async (req, reply) => {
    const p = staffOf(req);
    const call = await data.call(whoOnPage(req), req.params.callSid);
    return renderer.page(reply, {
      title: 'Call',
      nav: 'calls',
      user: Renderer.user(p),
      body: callDetail(call),
    });
  });

  app.get('/dashboard/live', staff, async (req, reply) => {
    const p = staffOf(req);
    return renderer.page(reply, {
      title: 'Live calls',
      nav: 'live',
      user: Renderer.user(p),
      body: liveView(policy.livePollMs, await data.liveCalls()),
    });
  });
}
