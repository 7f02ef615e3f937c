/**
 * The default chat-completions handler for demo mode and e2e tests: a deterministic keyword policy
 * that drives CONTRACT.md's tools like a careful service-desk agent. It is stateless: everything it
 * knows comes from the request (caller turns, its own earlier tool calls and their results), so
 * any number of calls can share one emulator.
 */
import {
  Intent,
  article,
  errorOf,
  parseJson,
  parseObject,
  textOf,
  dayOf,
  infoTopicOf,
  intentOf,
  is,
  partOfDayOf,
  preferredHourOf,
  serviceCodeOf,
  serviceOf,
  slotHour,
  slotWeekday,
  spokenDay,
  spokenInfo,
  spokenService,
  spokenSlot,
  todayIn,
  weekdayIndexOf,
} from './demo-brain-lang';
import type { ChatHandler, ChatReply, ChatRequestBody } from './openai-chat';

export interface DemoBrainOptions {
  /** The dealership's clock; "tomorrow" is computed from it in `timeZone`. */
  now?: () => Date;
  timeZone?: string;
}

interface WireMessage {
  role: string;
  content?: unknown;
  tool_calls?: Array<{ id?: string; function?: { name?: string; arguments?: string } }>;
  tool_call_id?: string;
}

interface ToolResult {
  index: number;
  name: string;
  args: Record<string, unknown>;
  result: unknown;
}

interface Appointment {
  id?: unknown;
  startsAt?: unknown;
  service?: unknown;
}

const HELP =
  'I can book, move or cancel a service appointment, or tell you our hours. What would you like to do?';
const ANYTHING_ELSE = 'Is there anything else I can help with?';

/** The question that follows a read-back, per write tool (the product asks for a yes before writing). */
const QUESTION: Record<string, string> = {
  book_appointment: 'Shall I book it?',
  reschedule_appointment: 'Shall I make that change?',
  cancel_appointment: 'Shall I cancel it?',
};

/** The product's NEEDS_CONFIRMATION answer carries the sentence to read back to the caller. */
function readBackOf(result: unknown): string | undefined {
  const error = (result as { error?: { code?: unknown; readBack?: unknown } } | null)?.error;
  return error?.code === 'NEEDS_CONFIRMATION' && typeof error.readBack === 'string'
    ? error.readBack
    : undefined;
}

export function createDemoBrain(opts: DemoBrainOptions = {}): ChatHandler {
  const now = opts.now ?? (() => new Date());
  const timeZone = opts.timeZone ?? 'America/Chicago';
  return (body) => new Conversation(body, todayIn(timeZone, now())).reply();
}

class Conversation {
  readonly #messages: WireMessage[];
  readonly #tools: Set<string>;
  readonly #today: string;
  readonly #results: ToolResult[] = [];

  constructor(body: ChatRequestBody, today: string) {
    this.#messages = Array.isArray(body.messages) ? (body.messages as WireMessage[]) : [];
    this.#tools = new Set((body.tools ?? []).map((t) => t.function?.name ?? ''));
    this.#today = today;
    const calls = new Map<string, { name: string; args: Record<string, unknown> }>();
    this.#messages.forEach((m, index) => {
      for (const c of m.tool_calls ?? [])
        calls.set(c.id ?? '', { name: c.function?.name ?? '', args: parseObject(c.function?.arguments) });
      if (m.role === 'tool') {
        const call = calls.get(m.tool_call_id ?? '');
        if (call) this.#results.push({ index, ...call, result: parseJson(textOf(m)) });
      }
    });
  }

  reply(): ChatReply {
    const last = this.#messages.at(-1);
    if (last?.role === 'tool') return this.#afterTool();
    if (last?.role === 'user') return this.#afterUser(textOf(last).toLowerCase());
    return { text: HELP };
  }

  #afterUser(t: string): ChatReply {
    if (is.goodbye(t)) return this.#call('end_call', {}, 'Thanks for calling. Goodbye!');
    if (is.human(t))
      return this.#call('transfer_to_human', { reason: 'caller asked for a person' }, 'One moment.');
    const pending = this.#pending();
    if (pending && is.yes(t)) return pending.accept();
    if (pending && is.no(t)) return { text: pending.decline };
    const said = intentOf(t);
    const topic = infoTopicOf(t);
    if (topic && !said) return this.#call('dealership_info', { topic }, HELP);
    if (said === Intent.Cancel || said === Intent.Reschedule) {
      return this.#call('list_my_appointments', {}, 'Let me connect you with an advisor for that.');
    }
    const intent = this.#intentBefore(this.#messages.length);
    if (intent === Intent.Book) return this.#continueBooking();
    if (intent === Intent.Reschedule) return this.#continueReschedule();
    if (is.backchannel(t)) return { text: 'Mm-hm. What can I help you with?' };
    return { text: HELP };
  }

  #afterTool(): ChatReply {
    const r = this.#results.at(-1);
    if (!r) return { text: HELP };
    const readBack = readBackOf(r.result);
    if (readBack) return { text: `${readBack}. ${QUESTION[r.name] ?? 'Shall I go ahead?'}` };
    const failure = errorOf(r.result);
    if (failure) return { text: failure };
    switch (r.name) {
      case 'get_customer_vehicles':
        return this.#continueBooking();
      case 'find_availability': {
        const slot = this.#chooseSlot(r);
        if (!slot) {
          const day = typeof r.args.date === 'string' ? ` ${spokenDay(r.args.date, this.#today)}` : '';
          const part =
            r.args.partOfDay === 'morning' || r.args.partOfDay === 'afternoon' ? ` ${r.args.partOfDay}` : '';
          return { text: `I'm sorry, there's nothing open${day}${part}. Would another day work?` };
        }
        if (this.#intentBefore(r.index) === Intent.Reschedule) {
          const appt = this.#chosenAppointment();
          if (appt)
            return this.#call('reschedule_appointment', { appointmentId: appt.id, startsAt: slot }, HELP);
        }
        const vehicleId = this.#vehicle()?.id;
        return this.#call(
          'book_appointment',
          {
            serviceCode: r.args.serviceCode,
            startsAt: slot,
            ...(vehicleId === undefined ? {} : { vehicleId }),
          },
          `I have ${spokenSlot(slot, this.#today)} for ${article(spokenService(r.args.serviceCode))}.`,
        );
      }
      case 'book_appointment':
      case 'reschedule_appointment': {
        const appt = (r.result as { appointment?: Appointment } | null)?.appointment;
        const when =
          typeof appt?.startsAt === 'string' ? ` for ${spokenSlot(appt.startsAt, this.#today)}` : '';
        return {
          text: `You're all set: your ${spokenService(appt?.service ?? r.args.serviceCode)} is booked${when}. ${ANYTHING_ELSE}`,
        };
      }
      case 'list_my_appointments':
        return this.#afterListing(r);
      case 'cancel_appointment':
        return { text: `Done, your appointment is cancelled. ${ANYTHING_ELSE}` };
      case 'dealership_info':
        return { text: `${spokenInfo(r.result, this.#userTextBefore(r.index))} ${ANYTHING_ELSE}` };
      case 'transfer_to_human':
        return { text: "I'm connecting you with a service advisor now. Please hold." };
      case 'end_call':
        return { text: 'Thanks for calling Bayline Motors. Goodbye!' };
      default:
        return { text: `Okay. ${ANYTHING_ELSE}` };
    }
  }

  #afterListing(r: ToolResult): ChatReply {
    const appt = this.#chosenAppointment();
    if (!appt) return { text: `I don't see any upcoming appointments under this number. ${ANYTHING_ELSE}` };
    const what = `your ${spokenService(appt.service)} on ${spokenSlot(String(appt.startsAt), this.#today)}`;
    if (this.#intentBefore(r.index) === Intent.Cancel)
      return this.#call(
        'cancel_appointment',
        { appointmentId: appt.id },
        `I see ${what}. Would you like me to cancel it?`,
      );
    return this.#continueReschedule() ?? { text: `I see ${what}. What day would you like to move it to?` };
  }

  #continueBooking(): ChatReply {
    const texts = this.#userTextsSinceIntent();
    const service = texts.map(serviceOf).find(Boolean);
    if (!service)
      return {
        text: 'Sure. What does the car need: an oil change, a tire rotation, brakes, or something else?',
      };
    if (this.#tools.has('get_customer_vehicles') && !this.#latest('get_customer_vehicles')) {
      return this.#call('get_customer_vehicles', {}, '');
    }
    const asked = texts.find((t) => dayOf(t, this.#today) !== undefined);
    const date = asked === undefined ? undefined : dayOf(asked, this.#today);
    if (!asked || !date) {
      const vehicle = this.#vehicle();
      const forCar = vehicle
        ? ` for your ${[vehicle.year, vehicle.make, vehicle.model].filter(Boolean).join(' ')}`
        : '';
      return { text: `Sure, I can book ${article(service.name)}${forCar}. What day works for you?` };
    }
    return this.#call(
      'find_availability',
      { serviceCode: service.code, date, partOfDay: partOfDayOf(asked) },
      HELP,
    );
  }

  /** The target day is what follows "to" ("move it from Thursday to Friday"). */
  #continueReschedule(): ChatReply {
    const appt = this.#chosenAppointment();
    if (!appt) return this.#call('list_my_appointments', {}, HELP);
    const target = this.#userTextsSinceIntent()
      .map((t) => t.slice(t.lastIndexOf(' to ') + 1))
      .find((t) => dayOf(t, this.#today) !== undefined);
    const date = target === undefined ? undefined : dayOf(target, this.#today);
    if (!target || !date) return { text: 'What day would you like to move it to?' };
    const serviceCode = serviceCodeOf(appt.service) ?? 'OIL';
    return this.#call('find_availability', { serviceCode, date, partOfDay: partOfDayOf(target) }, HELP);
  }

  /** A yes/no answers the question the last reply asked after a proposal-type tool result. */
  #pending(): { accept: () => ChatReply; decline: string } | undefined {
    const lastUser = this.#messages.length - 1;
    const asked = this.#messages[lastUser - 1];
    const before = this.#results.find((r) => r.index === lastUser - 2);
    if (asked?.role !== 'assistant' || asked.tool_calls?.length || !before) return undefined;
    if (readBackOf(before.result)) {
      return {
        decline: 'No problem. What day and time would suit you better?',
        accept: () => this.#call(before.name, before.args, HELP),
      };
    }
    const intent = this.#intentBefore(before.index);
    const appt = this.#chosenAppointment();
    if (before.name === 'find_availability') {
      const slot = this.#chooseSlot(before);
      if (!slot) return undefined;
      const decline = 'No problem. What day and time would suit you better?';
      if (intent === Intent.Reschedule && appt) {
        return {
          decline,
          accept: () =>
            this.#call('reschedule_appointment', { appointmentId: appt.id, startsAt: slot }, HELP),
        };
      }
      const vehicleId = this.#vehicle()?.id;
      const args = {
        serviceCode: before.args.serviceCode,
        startsAt: slot,
        ...(vehicleId === undefined ? {} : { vehicleId }),
      };
      return { decline, accept: () => this.#call('book_appointment', args, HELP) };
    }
    if (before.name === 'list_my_appointments' && intent === Intent.Cancel && appt) {
      return {
        decline: `Okay, I'll leave it as it is. ${ANYTHING_ELSE}`,
        accept: () => this.#call('cancel_appointment', { appointmentId: appt.id }, HELP),
      };
    }
    return undefined;
  }

  #chooseSlot(r: ToolResult): string | undefined {
    const slots = ((r.result as { slots?: unknown } | null)?.slots ?? []) as Array<{ startsAt?: unknown }>;
    const starts = slots.map((s) => s.startsAt).filter((s): s is string => typeof s === 'string');
    const preferred = preferredHourOf(this.#userTextBefore(r.index));
    if (preferred === undefined) return starts[0];
    return [...starts].sort(
      (a, b) => Math.abs(slotHour(a) - preferred) - Math.abs(slotHour(b) - preferred),
    )[0];
  }

  /** The appointment the caller means: one on the weekday they named ("on Thursday"), else the first. */
  #chosenAppointment(): Appointment | undefined {
    const listing = this.#latest('list_my_appointments');
    const appts = ((listing?.result as { appointments?: unknown } | null)?.appointments ??
      []) as Appointment[];
    const intentText = this.#userTextsSinceIntent().at(-1) ?? '';
    const named = /\b(?:on|from)\s+(\w+day)\b/.exec(intentText)?.[1];
    const weekday = named === undefined ? undefined : weekdayIndexOf(named);
    return (
      appts.find((a) => weekday !== undefined && slotWeekday(String(a.startsAt)) === weekday) ?? appts[0]
    );
  }

  #vehicle(): { id?: unknown; year?: unknown; make?: unknown; model?: unknown } | undefined {
    const result = this.#latest('get_customer_vehicles')?.result as { vehicles?: unknown } | null | undefined;
    const vehicles = (Array.isArray(result?.vehicles) ? result.vehicles : []) as Array<
      Record<string, unknown>
    >;
    // Any turn may name the car, including the one before a later "please book it".
    const said = this.#messages
      .filter((m) => m.role === 'user')
      .map((m) => textOf(m).toLowerCase())
      .join(' ');
    return (
      vehicles.find((v) =>
        [v.model, v.make].some((x) => typeof x === 'string' && said.includes(x.toLowerCase())),
      ) ?? vehicles[0]
    );
  }

  #call(name: string, args: Record<string, unknown>, fallback: string): ChatReply {
    if (this.#tools.has(name)) return { toolCalls: [{ name, arguments: args }] };
    return { text: fallback || HELP };
  }

  #latest(name: string): ToolResult | undefined {
    return this.#results.findLast((r) => r.name === name);
  }

  #intentBefore(index: number): Intent | undefined {
    for (let i = index - 1; i >= 0; i--) {
      const m = this.#messages[i];
      const intent = m?.role === 'user' ? intentOf(textOf(m).toLowerCase()) : undefined;
      if (intent) return intent;
    }
    return undefined;
  }

  /** Caller turns from the one that stated the current intent, newest first. */
  #userTextsSinceIntent(): string[] {
    const out: string[] = [];
    for (let i = this.#messages.length - 1; i >= 0; i--) {
      const m = this.#messages[i];
      if (m?.role !== 'user') continue;
      const t = textOf(m).toLowerCase();
      out.push(t);
      if (intentOf(t)) break;
    }
    return out;
  }

  #userTextBefore(index: number): string {
    for (let i = index - 1; i >= 0; i--) {
      const m = this.#messages[i];
      if (m?.role === 'user') return textOf(m).toLowerCase();
    }
    return '';
  }
}
