/**
 * Runs the model's tool calls for one phone call. Whatever the model passes, the product's rules
 * hold: it acts only for the caller on the line, reads back and waits for the caller's yes before
 * writing, books once however often an action is repeated, and never throws at the orchestrator.
 */
import type { BookingService } from '../../bookings';
import type { CustomerView } from '../../customers';
import { AppError } from '../../platform/errors';
import {
  actionHash,
  bookReadBack,
  cancelReadBack,
  ConfirmationGate,
  rescheduleReadBack,
  type TurnContext,
} from './confirm';
import { TOOL, TOOL_ARGS, type ToolArgs, type ToolName } from './definitions';

export type ToolOutcome = 'booked' | 'rescheduled' | 'cancelled' | 'info' | 'transferred';
export type ToolAction = { type: 'transfer'; reason: string } | { type: 'end' };
export interface ToolExecution {
  result: unknown;
  outcome?: ToolOutcome;
}

export interface ToolExecutorOptions {
  bookings: BookingService;
  callSid: string;
  /** E.164; a new caller who books becomes a customer under this number. */
  callerPhone: string;
  getCustomer: () => CustomerView | null;
  setCustomer: (view: CustomerView) => void;
  /** The orchestrator plays the announcement or goodbye first, then acts. */
  onAction: (action: ToolAction) => void;
  /** Accepted for wiring symmetry; tool times are already dealership-local. */
  timezone?: string;
}

const fail = (code: string, message: string, extra: Record<string, unknown> = {}): ToolExecution => ({
  result: { error: { code, message, ...extra } },
});

/** A write already done in this call: repeated, it answers the same without writing again. */
interface Done {
  execution: ToolExecution;
  appointmentId: string;
}

export class ToolExecutor {
  readonly #o: ToolExecutorOptions;
  readonly #gate = new ConfirmationGate();
  readonly #done = new Map<string, Done>();
  // Bumped when an appointment this call made is later cancelled or moved, so booking the same
  // thing again gets a fresh idempotency key instead of replaying the dead booking.
  readonly #generation = new Map<string, number>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(opts: ToolExecutorOptions) {
    this.#o = opts;
  }

  /**
   * Never throws. Calls run one at a time, so parallel tool calls in one model turn cannot both
   * pass the confirmation gate or race each other past the per-call replay memory.
   */
  execute(name: string, argsJson: string, ctx: TurnContext): Promise<ToolExecution> {
    const run = this.#queue.then(() => this.#execute(name, argsJson, ctx));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #execute(name: string, argsJson: string, ctx: TurnContext): Promise<ToolExecution> {
    try {
      if (!Object.hasOwn(TOOL_ARGS, name))
        return fail('UNKNOWN_TOOL', `There is no tool "${name.slice(0, 64)}"`);
      const tool = name as ToolName;
      let raw: unknown;
      try {
        raw = argsJson.trim() === '' ? {} : JSON.parse(argsJson);
      } catch {
        return fail('INVALID_ARGUMENTS', 'Arguments are not valid JSON');
      }
      const parsed = TOOL_ARGS[tool].safeParse(raw ?? {});
      if (!parsed.success) {
        const message = parsed.error.issues
          .map((i) => `${i.path.length > 0 ? i.path.join('.') : 'arguments'}: ${i.message}`)
          .join('; ');
        return fail('INVALID_ARGUMENTS', message);
      }
      return await this.#run(tool, parsed.data, ctx);
    } catch (err) {
      if (err instanceof AppError) return fail(err.code, err.message);
      return fail('INTERNAL', 'Something went wrong on our side; offer to transfer the caller to an advisor');
    }
  }

  async #run(tool: ToolName, args: unknown, ctx: TurnContext): Promise<ToolExecution> {
    const b = this.#o.bookings;
    switch (tool) {
      case TOOL.findAvailability: {
        const a = args as ToolArgs[typeof tool];
        return {
          result: await b.findAvailability(a.serviceCode, a.date, a.partOfDay ?? 'any'),
          outcome: 'info',
        };
      }
      case TOOL.getCustomerVehicles: {
        const vehicles = this.#o.getCustomer()?.vehicles ?? [];
        return {
          result: { vehicles: vehicles.map(({ id, year, make, model }) => ({ id, year, make, model })) },
        };
      }
      case TOOL.bookAppointment:
        return this.#book(args as ToolArgs[typeof tool], ctx);
      case TOOL.listMyAppointments: {
        const customer = this.#o.getCustomer();
        const list = customer ? await b.listUpcoming(customer.id) : [];
        const appointments = list.map((a) => ({
          id: a.id,
          startsAt: a.startsAt,
          endsAt: a.endsAt,
          service: a.service,
          vehicle: a.vehicle,
        }));
        return { result: { appointments }, outcome: 'info' };
      }
      case TOOL.rescheduleAppointment:
        return this.#reschedule(args as ToolArgs[typeof tool], ctx);
      case TOOL.cancelAppointment:
        return this.#cancel(args as ToolArgs[typeof tool], ctx);
      case TOOL.dealershipInfo:
        return { result: await b.dealershipInfo((args as ToolArgs[typeof tool]).topic), outcome: 'info' };
      case TOOL.transferToHuman:
        this.#o.onAction({
          type: 'transfer',
          reason: (args as ToolArgs[typeof tool]).reason ?? 'caller request',
        });
        return { result: { ok: true }, outcome: 'transferred' };
      case TOOL.endCall:
        this.#o.onAction({ type: 'end' });
        return { result: { ok: true } };
    }
  }

  async #book(a: ToolArgs['book_appointment'], ctx: TurnContext): Promise<ToolExecution> {
    // The key is taken from the arguments as given, before any defaulting, so that repeating the
    // call after the caller has become identified is still recognised as the same action.
    const hash = actionHash(TOOL.bookAppointment, {
      serviceCode: a.serviceCode.toUpperCase(),
      startsAt: a.startsAt,
      vehicleId: a.vehicleId?.toLowerCase(),
      vehicle: a.vehicle && {
        year: a.vehicle.year,
        make: a.vehicle.make.toLowerCase(),
        model: a.vehicle.model.toLowerCase(),
      },
      customerName: a.customerName?.replace(/\s+/g, ' ').trim().toLowerCase() || undefined,
    });
    const done = this.#done.get(hash);
    if (done) return done.execution;

    const customer = this.#o.getCustomer();
    let vehicleId = a.vehicleId;
    if (customer && !vehicleId && !a.vehicle) {
      const [only, ...more] = customer.vehicles;
      if (only && more.length === 0) vehicleId = only.id;
      else if (only) {
        const onFile = customer.vehicles.map((v) => `${v.year} ${v.make} ${v.model} (vehicleId ${v.id})`);
        return fail('VEHICLE_REQUIRED', `Ask which car this is for: ${onFile.join(', ')}`);
      }
    }
    const input = {
      customerId: customer?.id ?? null,
      callerPhone: this.#o.callerPhone,
      customerName: customer ? null : (a.customerName ?? null),
      serviceCode: a.serviceCode,
      startsAt: a.startsAt,
      vehicleId: vehicleId ?? null,
      vehicle: a.vehicle ?? null,
      notes: a.notes ?? null,
    };
    if (!this.#gate.confirm(hash, ctx)) {
      const p = await this.#o.bookings.previewBooking(input);
      this.#gate.propose(hash, ctx);
      const readBack = bookReadBack({ serviceName: p.service.name, ...p });
      return this.#needsConfirmation(readBack);
    }
    const booked = await this.#o.bookings.book({
      ...input,
      source: 'phone',
      callSid: this.#o.callSid,
      idempotencyKey: this.#idempotencyKey(TOOL.bookAppointment, hash),
    });
    await this.#refresh(booked.customerId);
    const ap = booked.appointment;
    return this.#remember(hash, ap.id, {
      result: { appointment: publicAppointment(ap) },
      outcome: 'booked',
    });
  }

  async #reschedule(a: ToolArgs['reschedule_appointment'], ctx: TurnContext): Promise<ToolExecution> {
    const hash = actionHash(TOOL.rescheduleAppointment, {
      appointmentId: a.appointmentId.toLowerCase(),
      startsAt: a.startsAt,
    });
    const done = this.#done.get(hash);
    if (done) return done.execution;
    const customer = this.#o.getCustomer();
    if (!customer) return notFound();
    const input = { customerId: customer.id, appointmentId: a.appointmentId, startsAt: a.startsAt };
    if (!this.#gate.confirm(hash, ctx)) {
      const p = await this.#o.bookings.previewReschedule(input);
      this.#gate.propose(hash, ctx);
      return this.#needsConfirmation(
        rescheduleReadBack({
          serviceName: p.from.service.name,
          vehicle: p.from.vehicle,
          from: p.from.startsAt,
          to: p.to.startsAt,
        }),
      );
    }
    const moved = await this.#o.bookings.reschedule({
      ...input,
      callSid: this.#o.callSid,
      idempotencyKey: this.#idempotencyKey(TOOL.rescheduleAppointment, hash),
    });
    this.#forget(moved.previous.id);
    await this.#refresh(customer.id);
    return this.#remember(hash, moved.appointment.id, {
      result: { appointment: publicAppointment(moved.appointment), previous: moved.previous },
      outcome: 'rescheduled',
    });
  }

  async #cancel(a: ToolArgs['cancel_appointment'], ctx: TurnContext): Promise<ToolExecution> {
    const hash = actionHash(TOOL.cancelAppointment, { appointmentId: a.appointmentId.toLowerCase() });
    const done = this.#done.get(hash);
    if (done) return done.execution;
    const customer = this.#o.getCustomer();
    if (!customer) return notFound();
    const input = { customerId: customer.id, appointmentId: a.appointmentId };
    if (!this.#gate.confirm(hash, ctx)) {
      const ap = await this.#o.bookings.getOwnUpcoming(input.customerId, input.appointmentId);
      this.#gate.propose(hash, ctx);
      return this.#needsConfirmation(
        cancelReadBack({ serviceName: ap.service.name, vehicle: ap.vehicle, startsAt: ap.startsAt }),
      );
    }
    const cancelled = await this.#o.bookings.cancel(input);
    this.#forget(cancelled.appointment.id);
    await this.#refresh(customer.id);
    return this.#remember(hash, cancelled.appointment.id, {
      result: { cancelled: true, appointment: publicAppointment(cancelled.appointment) },
      outcome: 'cancelled',
    });
  }

  #needsConfirmation(readBack: string): ToolExecution {
    return fail(
      'NEEDS_CONFIRMATION',
      'Nothing has been written yet. Read `readBack` to the caller and ask them to confirm; call this tool again with the same arguments only after they say yes.',
      { readBack },
    );
  }

  #idempotencyKey(tool: string, hash: string): string {
    const generation = this.#generation.get(hash) ?? 0;
    return `${this.#o.callSid}:${tool}:${hash}${generation > 0 ? `:${generation}` : ''}`;
  }

  #remember(hash: string, appointmentId: string, execution: ToolExecution): ToolExecution {
    this.#done.set(hash, { execution, appointmentId });
    return execution;
  }

  /** The appointment is gone: writes that produced it may be asked for, and must happen, again. */
  #forget(appointmentId: string): void {
    for (const [hash, d] of this.#done) {
      if (d.appointmentId !== appointmentId) continue;
      this.#done.delete(hash);
      this.#generation.set(hash, (this.#generation.get(hash) ?? 0) + 1);
    }
  }

  async #refresh(customerId: string): Promise<void> {
    const view = await this.#o.bookings.customerView(customerId);
    if (view) this.#o.setCustomer(view);
  }
}

function notFound(): ToolExecution {
  return fail('APPOINTMENT_NOT_FOUND', 'No upcoming appointment with that id for this caller');
}

function publicAppointment(a: {
  id: string;
  startsAt: string;
  endsAt: string;
  service: { code: string; name: string };
  vehicle: { id: string; year: number; make: string; model: string } | null;
}) {
  return { id: a.id, startsAt: a.startsAt, endsAt: a.endsAt, service: a.service, vehicle: a.vehicle };
}
