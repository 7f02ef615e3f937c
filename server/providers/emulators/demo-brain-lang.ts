/**
 * The demo brain's reading and speaking: keyword matching over caller text and phrasing of tool
 * results. Deliberately small and literal; it only has to carry the fixture phrases and ordinary
 * demo calls, never to understand language.
 */

export const SERVICES = [
  { code: 'OIL', name: 'oil change', pattern: /\boil\b/ },
  { code: 'ROTATE', name: 'tire rotation', pattern: /\b(rotat\w*|tires?)\b/ },
  { code: 'BRAKES', name: 'brake service', pattern: /\bbrakes?\b/ },
  { code: 'BATTERY', name: 'battery replacement', pattern: /\bbattery\b/ },
  { code: 'ALIGN', name: 'wheel alignment', pattern: /\balign\w*\b/ },
  { code: 'DIAG', name: 'diagnostic check', pattern: /\b(diagnos\w*|check engine|warning light|noise)\b/ },
] as const;

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const NUMBER_WORDS: Record<string, number> = {
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
  noon: 12,
};

export const Intent = { Book: 'book', Cancel: 'cancel', Reschedule: 'reschedule' } as const;
export type Intent = (typeof Intent)[keyof typeof Intent];

export const is = {
  goodbye: (t: string) => /\b(bye|goodbye|that'?s all|that is all|no thanks|nothing else)\b/.test(t),
  human: (t: string) => /\b(person|human|someone|somebody|advisor|representative|agent|operator)\b/.test(t),
  yes: (t: string) =>
    /\b(uh[\s-]*huh|mm[\s-]*hm+|yes|yeah|yep|sure|ok|okay|works|sounds good|please book|book it|go ahead|do it|correct)\b/.test(
      t,
    ),
  no: (t: string) => /\b(no|nope|not really|don'?t)\b/.test(t),
  backchannel: (t: string) => /^\W*(uh[\s-]*huh|mm[\s-]*hm+|hmm+|right|okay|ok)\W*$/.test(t),
};

export function intentOf(text: string): Intent | undefined {
  if (/\bcancel\w*\b/.test(text)) return Intent.Cancel;
  // "change" alone would catch "oil change".
  if (/\b(move|reschedul\w*|push)\b|\bchange (my|the|it|that)\b/.test(text)) return Intent.Reschedule;
  if (/\b(book|schedule|appointment|bring (it|my car) in)\b/.test(text) || serviceOf(text))
    return Intent.Book;
  return undefined;
}

export function serviceOf(text: string): (typeof SERVICES)[number] | undefined {
  return SERVICES.find((s) => s.pattern.test(text));
}

export function infoTopicOf(text: string): 'hours' | 'address' | 'prices' | 'services' | undefined {
  if (/\b(hours?|open|close|closing|closed)\b/.test(text)) return 'hours';
  if (/\b(address|where are you|located|location|directions)\b/.test(text)) return 'address';
  if (/\b(price|prices|cost|how much)\b/.test(text)) return 'prices';
  if (/\bwhat services\b/.test(text)) return 'services';
  return undefined;
}

export function partOfDayOf(text: string): 'morning' | 'afternoon' | 'any' {
  if (/\bmorning\b/.test(text)) return 'morning';
  if (/\b(afternoon|evening)\b/.test(text)) return 'afternoon';
  return 'any';
}

export function weekdayIndexOf(text: string): number | undefined {
  const i = WEEKDAYS.findIndex((d) => new RegExp(`\\b${d}\\b`).test(text));
  return i < 0 ? undefined : i;
}

/** The day a caller asks for (`today`, `tomorrow`, a weekday: its next occurrence after today). */
export function dayOf(text: string, today: string): string | undefined {
  if (/\btoday\b/.test(text)) return today;
  if (/\btomorrow\b/.test(text)) return addDays(today, 1);
  const target = weekdayIndexOf(text);
  if (target === undefined) return undefined;
  const delta = ((target - weekdayOf(today) + 6) % 7) + 1;
  return addDays(today, delta);
}

/** Preferred hour (0–23) when the caller names one: "around nine", "at 2:30", "10 am". */
export function preferredHourOf(text: string): number | undefined {
  const clockish =
    /\b(at|around|about|by|after|before)?\s*(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|noon)(?::(\d{2}))?\s*(a\.?m\.?|p\.?m\.?|o'?clock)?(?=\W|$)/g;
  for (const m of text.matchAll(clockish)) {
    // A bare number ("my 2 cars") is not a time; a preposition or an am/pm makes it one.
    if (!m[1] && !m[4] && m[2] !== 'noon') continue;
    let hour = NUMBER_WORDS[m[2] ?? ''] ?? Number(m[2]);
    if (!Number.isInteger(hour) || hour < 1 || hour > 23) continue;
    const pm = m[4]?.startsWith('p') || (!m[4] && (partOfDayOf(text) === 'afternoon' || hour < 7));
    if (pm && hour < 12) hour += 12;
    return hour;
  }
  return undefined;
}

export function todayIn(timeZone: string, now: Date): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(now);
}

export function addDays(ymd: string, days: number): string {
  const [y, m, d] = ymd.split('-').map(Number);
  return new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, (d ?? 1) + days)).toISOString().slice(0, 10);
}

export function weekdayOf(ymd: string): number {
  const [y, m, d] = ymd.split('-').map(Number);
  return new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1)).getUTCDay();
}

/** `2026-11-24T09:30` (offsets ignored: tools speak dealership local time) → "tomorrow at 9:30 AM". */
export function spokenSlot(startsAt: string, today: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})/.exec(startsAt);
  if (!m || !m[1]) return startsAt;
  return `${spokenDay(m[1], today)} at ${spokenTime(Number(m[2]), Number(m[3]))}`;
}

export function spokenDay(ymd: string, today: string): string {
  if (ymd === today) return 'today';
  if (ymd === addDays(today, 1)) return 'tomorrow';
  const [, month, day] = ymd.split('-').map(Number);
  const weekday = WEEKDAYS[weekdayOf(ymd)] ?? '';
  return `${weekday.charAt(0).toUpperCase()}${weekday.slice(1)}, ${MONTHS[(month ?? 1) - 1]} ${day}`;
}

export function spokenTime(hour: number, minute: number): string {
  const h12 = hour % 12 === 0 ? 12 : hour % 12;
  return `${h12}${minute ? `:${String(minute).padStart(2, '0')}` : ''} ${hour < 12 ? 'AM' : 'PM'}`;
}

export function slotHour(startsAt: string): number {
  const m = /T(\d{2}):(\d{2})/.exec(startsAt);
  return m ? Number(m[1]) + Number(m[2]) / 60 : 0;
}

export function slotWeekday(startsAt: string): number | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})/.exec(startsAt);
  return m?.[1] ? weekdayOf(m[1]) : undefined;
}

/** A service as list/book results give it: a code, a name, or `{code, name}`. */
export function spokenService(service: unknown): string {
  const code =
    typeof service === 'object' && service !== null ? (service as { code?: unknown }).code : service;
  const name =
    typeof service === 'object' && service !== null ? (service as { name?: unknown }).name : undefined;
  const known = SERVICES.find((s) => s.code === code || s.name === String(name ?? code).toLowerCase());
  if (known) return known.name;
  return typeof name === 'string'
    ? name.toLowerCase()
    : typeof code === 'string'
      ? code.toLowerCase()
      : 'service';
}

export function serviceCodeOf(service: unknown): string | undefined {
  const raw =
    typeof service === 'object' && service !== null ? (service as { code?: unknown }).code : service;
  if (typeof raw !== 'string') return undefined;
  return SERVICES.find((s) => s.code === raw || s.name === raw.toLowerCase())?.code ?? raw;
}

/** dealership_info results are free-form JSON: speak opening hours if it has them, else its strings. */
export function spokenInfo(result: unknown, askedText: string): string {
  if (typeof result === 'string') return result;
  if (typeof result !== 'object' || result === null) return 'Sorry, I could not look that up just now.';
  const r = result as Record<string, unknown>;
  for (const key of ['text', 'answer', 'summary']) if (typeof r[key] === 'string') return r[key];
  const hours = r.hours ?? r.openingHours;
  if (hours && typeof hours === 'object') {
    const asked = weekdayIndexOf(askedText);
    const entries = Object.entries(hours as Record<string, unknown>);
    const spoken = (d: number) => {
      const entry = entries.find(([k]) => k.toLowerCase().startsWith((WEEKDAYS[d] ?? '').slice(0, 3)));
      return entry ? spokenRange(entry[1]) : undefined;
    };
    if (asked !== undefined && spoken(asked) !== undefined) {
      const name = WEEKDAYS[asked] ?? '';
      const range = spoken(asked);
      return range === 'closed'
        ? `We're closed on ${capital(name)}s.`
        : `On ${capital(name)}s we're open ${range}.`;
    }
    const parts = [1, 2, 3, 4, 5, 6, 0].map((d) => `${capital(WEEKDAYS[d] ?? '')} ${spoken(d) ?? 'closed'}`);
    return `Our service hours are: ${parts.join('; ')}.`;
  }
  const strings = Object.values(r).filter((v): v is string => typeof v === 'string');
  return strings.length > 0 ? `${strings.join('. ')}.` : 'Sorry, I do not have that information.';
}

function spokenRange(value: unknown): string {
  if (value === null || value === false || value === 'closed') return 'closed';
  const pair = Array.isArray(value)
    ? value
    : typeof value === 'object' && value !== null
      ? [(value as { open?: unknown }).open, (value as { close?: unknown }).close]
      : undefined;
  if (!pair) return String(value);
  const [open, close] = pair.map((t) =>
    typeof t === 'string' && /^\d{1,2}:\d{2}/.test(t) ? clock(t) : String(t),
  );
  return `from ${open} to ${close}`;
}

function clock(hhmm: string): string {
  const [h, m] = hhmm.split(':').map(Number);
  return spokenTime(h ?? 0, m ?? 0);
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A tool result of the `{"error":{"code","message"}}` shape, as something to say. */
export function errorOf(result: unknown): string | undefined {
  const error = (result as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (!error) return undefined;
  if (error.code === 'SLOT_TAKEN') return "I'm sorry, that time was just taken. Would another time work?";
  const why = typeof error.message === 'string' ? ` ${error.message.replace(/\.?$/, '.')}` : '';
  return `I'm sorry, I couldn't do that.${why} Would you like me to connect you with a service advisor?`;
}

/** Message content as text: a string, or the text parts of a content array. */
export function textOf(m: { content?: unknown }): string {
  if (typeof m.content === 'string') return m.content;
  if (Array.isArray(m.content)) {
    return m.content
      .map((p) => (typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : ''))
      .join(' ');
  }
  return '';
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export function parseObject(text: string | undefined): Record<string, unknown> {
  const value = parseJson(text ?? '{}');
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

export function article(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}
