import { formatLocal } from '../bookings/time';
import type { CustomerView, UpcomingAppointment } from '../customers';
import { spokenWhen } from './tools/confirm';

export interface DealershipFacts {
  name: string;
  address: string;
  timezone: string;
  hours: Record<string, readonly string[] | null>;
  services: ReadonlyArray<{ code: string; name: string; minutes: number; priceCents: number }>;
}

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

/** Building an Intl.DateTimeFormat costs tens of microseconds (ICU): each is built once per zone. */
const formats = new Map<string, Intl.DateTimeFormat>();

function dateFormat(locale: 'en-US' | 'en-CA', timeZone: string): Intl.DateTimeFormat {
  const key = `${locale} ${timeZone}`;
  let f = formats.get(key);
  if (!f) {
    // en-US: "Monday, November 23, 2026"; en-CA: "2026-11-23".
    f =
      locale === 'en-US'
        ? new Intl.DateTimeFormat(locale, {
            timeZone,
            weekday: 'long',
            year: 'numeric',
            month: 'long',
            day: 'numeric',
          })
        : new Intl.DateTimeFormat(locale, { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formats.set(key, f);
  }
  return f;
}

/**
 * The customer view keeps appointment times as UTC instants (zone-free, and already cached in Redis
 * in that shape). The model must see only dealership wall time, in the `YYYY-MM-DDTHH:mm` form the
 * tools take as startsAt: told an instant is local time, it says it hours off or passes it back.
 */
function upcomingLine(a: UpcomingAppointment, timezone: string): string {
  const start = new Date(a.startsAt);
  if (Number.isNaN(start.getTime()))
    return `${a.serviceName} (id ${a.id}; use list_my_appointments for its time)`;
  const local = formatLocal(start, timezone);
  return `${a.serviceName} on ${spokenWhen(local)} (startsAt ${local}, id ${a.id})`;
}

/**
 * The model's instructions: who it is, what it may do, today's date in the dealership's time zone
 * and what we know of the caller. Tool results are the only source of availability and bookings.
 */
export function systemPrompt(d: DealershipFacts, caller: CustomerView | null, now: Date): string {
  const today = dateFormat('en-US', d.timezone).format(now);
  const iso = dateFormat('en-CA', d.timezone).format(now);
  const hours = DAYS.map((day) => {
    const h = d.hours[day];
    return `${day}: ${h ? `${h[0]}-${h[1]}` : 'closed'}`;
  }).join(', ');
  const services = d.services
    .map((s) => `${s.code} ${s.name} (${s.minutes} min, $${(s.priceCents / 100).toFixed(2)})`)
    .join('; ');
  const callerLines = caller
    ? [
        `The caller is a known customer: ${caller.name ?? 'name not on file'}.`,
        caller.vehicles.length > 0
          ? `Vehicles on file: ${caller.vehicles.map((v) => `${v.year} ${v.make} ${v.model} (id ${v.id})`).join('; ')}.`
          : 'No vehicles on file.',
        caller.upcoming.length > 0
          ? `Upcoming appointments: ${caller.upcoming.map((a) => upcomingLine(a, d.timezone)).join('; ')}.`
          : 'No upcoming appointments.',
      ]
    : ['The caller is not on file (a new caller). Ask for their name before booking and confirm it.'];
  return [
    `You are the phone agent of the service department of ${d.name}, ${d.address}.`,
    `Today is ${today} (${iso}); times are ${d.timezone} local time.`,
    `Opening hours: ${hours}. Services: ${services}. "Morning" means opening to 12:00, "afternoon" 12:00 to closing.`,
    ...callerLines,
    'You are speaking on the phone: answer in one or two short sentences, no lists, no markdown, no emojis.',
    'Use the tools for availability, bookings and facts; never invent times, prices or appointments.',
    'Before book_appointment, reschedule_appointment or cancel_appointment, read back service, vehicle, day and time and get a clear yes. ' +
      'If a tool answers NEEDS_CONFIRMATION, read its readBack to the caller and ask for a yes; call it again with the same arguments only after they agree.',
    'After a booking or a change, offer a text message confirmation; use send_confirmation_sms only if the caller says yes.',
    'If the caller asks for a person, or you cannot help, use transfer_to_human. When the caller is done, say goodbye and use end_call.',
  ].join('\n');
}
