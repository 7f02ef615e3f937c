/**
 * Booking rules in one place, for the phone agent and the staff API alike: availability, booking,
 * moving and cancelling, each write in one transaction, the customer cache invalidated after it.
 * Times cross this boundary as dealership-local `YYYY-MM-DDTHH:mm` (ISO with offset for staff).
 */
import type { CustomerDirectory, CustomerRepository, CustomerView } from '../customers';
import type { PiiCipher } from '../platform/crypto';
import { ConflictError, NotFoundError, ValidationError } from '../platform/errors';
import { normalizePhone } from '../platform/phone';
import type { Db, Queryable } from '../platform/postgres';
import {
  checkBookable,
  checkHorizon,
  findSlots,
  freeBays,
  openingWindow,
  PART_OF_DAY,
  type PartOfDay,
} from './availability';
import {
  closedMessage,
  dealershipFacts,
  DealershipRepository,
  findService,
  INFO_TOPICS,
  type Dealership,
  type InfoTopic,
} from './dealership';
import {
  APPOINTMENT_STATUSES,
  BookingRepository,
  type AppointmentStatus,
  type NewAppointment,
  toStaffAppointment,
  toUpcoming,
  type VehicleRow,
} from './repository';
import { addDays, formatLocal, formatLocalDate, localToUtc, parseLocalDate, weekdayOf } from './time';
import type {
  AppointmentSummary,
  BookInput,
  BookingPreview,
  StaffAppointment,
  UpcomingItem,
  VehicleInput,
} from './index';

const appointmentNotFound = () =>
  new NotFoundError('APPOINTMENT_NOT_FOUND', 'No upcoming appointment with that id for this caller');

export class BookingService {
  readonly #db: Db;
  readonly #cipher: PiiCipher;
  readonly #customers: CustomerDirectory;
  readonly #customerRepo: CustomerRepository;
  readonly #repo: BookingRepository;
  readonly #dealership: DealershipRepository;
  readonly #zone: string | undefined;
  readonly #now: () => Date;

  constructor(opts: {
    db: Db;
    cipher: PiiCipher;
    customers: CustomerDirectory;
    customerRepo: CustomerRepository;
    bookingRepo?: BookingRepository;
    dealership?: DealershipRepository;
    /**
     * DEALERSHIP_TIMEZONE: when set, the dealership's zone whatever the row says (ops set the
     * variable and expect it to hold); unset, the row's.
     */
    timezone?: string | undefined;
    now?: () => Date;
  }) {
    this.#db = opts.db;
    this.#cipher = opts.cipher;
    this.#customers = opts.customers;
    this.#customerRepo = opts.customerRepo;
    this.#repo = opts.bookingRepo ?? new BookingRepository();
    this.#dealership = opts.dealership ?? new DealershipRepository(opts.db);
    this.#zone = opts.timezone;
    this.#now = opts.now ?? (() => new Date());
  }

  async dealership(): Promise<Dealership> {
    const d = await this.#dealership.get();
    const timezone = this.#zone ?? (d.timezone || 'America/Chicago');
    return timezone === d.timezone ? d : { ...d, timezone };
  }

  async findAvailability(
    serviceCode: string,
    date: string,
    partOfDay: PartOfDay = PART_OF_DAY.any,
  ): Promise<{ slots: Array<{ startsAt: string }> }> {
    const d = await this.dealership();
    const service = findService(d, serviceCode);
    if (!Object.values(PART_OF_DAY).includes(partOfDay)) {
      throw new ValidationError('INVALID_PART_OF_DAY', 'partOfDay is morning, afternoon or any');
    }
    parseLocalDate(date);
    const now = this.#now();
    const today = formatLocalDate(now, d.timezone);
    if (date < today) throw new ValidationError('DATE_IN_PAST', `${date} has passed; today is ${today}`);
    checkHorizon(date, now, d.timezone);
    const window = openingWindow(d, date);
    if (!window) throw new ValidationError('CLOSED', closedMessage(d, weekdayOf(date)));
    const booked = await this.#repo.busyIntervals(this.#db, window.open, window.close);
    const slots = findSlots({ dealership: d, service, date, partOfDay, booked, now });
    return { slots: slots.map((startsAt) => ({ startsAt })) };
  }

  /** Every check book() makes, without writing: what the caller is asked to confirm. */
  async previewBooking(input: Omit<BookInput, 'source'>): Promise<BookingPreview> {
    const d = await this.dealership();
    const service = findService(d, input.serviceCode);
    const { start, end } = checkBookable(d, service, input.startsAt, this.#now());
    const customerName = input.customerId ? null : this.#newCaller(input).name;
    const vehicle = await this.#resolveVehicle(
      this.#db,
      input.customerId,
      input.vehicleId,
      input.vehicle,
      false,
    );
    await this.#requireFreeBay(this.#db, d, start, end);
    return {
      service: { code: service.code, name: service.name },
      startsAt: formatLocal(start, d.timezone),
      endsAt: formatLocal(end, d.timezone),
      vehicle: vehicle && { year: vehicle.year, make: vehicle.make, model: vehicle.model },
      customerName,
    };
  }

  async book(
    input: BookInput,
  ): Promise<{ appointment: AppointmentSummary; customerId: string; replayed: boolean }> {
    const d = await this.dealership();
    const service = findService(d, input.serviceCode);
    const { start, end } = checkBookable(d, service, input.startsAt, this.#now());
    const caller = input.customerId ? null : this.#newCaller(input);
    const notesEnc = this.#cipher.encryptNullable(cleanNotes(input.notes));
    const done = await this.#db.tx(async (q) => {
      const prior = input.idempotencyKey
        ? await this.#repo.findByIdempotencyKey(q, input.idempotencyKey)
        : null;
      if (prior) return { id: prior.id, customerId: prior.customer_id, replayed: true };
      const customerId = input.customerId ?? (await this.#ensureCustomer(q, caller as NewCaller));
      const vehicle = await this.#resolveVehicle(q, customerId, input.vehicleId, input.vehicle, true);
      const { row, replayed } = await this.#insertAnyBay(q, d, {
        customerId,
        vehicleId: vehicle?.id ?? null,
        serviceCode: service.code,
        startsAt: start,
        endsAt: end,
        source: input.source,
        callSid: input.callSid ?? null,
        notesEnc,
        idempotencyKey: input.idempotencyKey ?? null,
      });
      return { id: row.id, customerId, replayed };
    });
    await this.#customers.invalidateCustomer(done.customerId);
    return {
      appointment: await this.#summary(d, done.id),
      customerId: done.customerId,
      replayed: done.replayed,
    };
  }

  /** What reschedule() would do, without writing. */
  async previewReschedule(input: {
    customerId: string;
    appointmentId: string;
    startsAt: string;
  }): Promise<{ from: UpcomingItem; to: { startsAt: string; endsAt: string } }> {
    const d = await this.dealership();
    const from = await this.getOwnUpcoming(input.customerId, input.appointmentId);
    const service = d.services.find((s) => s.code === from.service.code);
    if (!service) throw appointmentNotFound();
    const { start, end } = checkBookable(d, service, input.startsAt, this.#now());
    // A move that overlaps the booking's own time must not count the booking against itself.
    const own = localToUtc(from.startsAt, d.timezone).getTime();
    const busy = (await this.#repo.busyIntervals(this.#db, start, end)).filter(
      (b) => !(b.bayId === from.bayId && b.startsAt.getTime() === own),
    );
    if (freeBays(d.bays, busy, start, end).length === 0) throw slotTaken();
    return { from, to: { startsAt: formatLocal(start, d.timezone), endsAt: formatLocal(end, d.timezone) } };
  }

  /** Moves the caller's own booking: the old one cancelled and a new one made in one transaction. */
  async reschedule(input: {
    customerId: string;
    appointmentId: string;
    startsAt: string;
    callSid?: string | null;
    idempotencyKey?: string | null;
    source?: 'phone' | 'staff';
  }): Promise<{ appointment: AppointmentSummary; previous: { id: string; startsAt: string } }> {
    const d = await this.dealership();
    if (!isUuid(input.appointmentId)) throw appointmentNotFound();
    const now = this.#now();
    const key = input.idempotencyKey ?? null;
    const done = await this.#db.tx(async (q) => {
      const prior = key ? await this.#repo.findByIdempotencyKey(q, key) : null;
      if (prior) return { id: prior.id, previousStart: null };
      const old = await this.#repo.lockOwnUpcoming(q, input.customerId, input.appointmentId, now);
      if (!old) {
        // A concurrent twin of this very call may have moved it while this one waited for the lock.
        const twin = key ? await this.#repo.findByIdempotencyKey(q, key) : null;
        if (twin) return { id: twin.id, previousStart: null };
        throw appointmentNotFound();
      }
      const service = d.services.find((s) => s.code === old.service_code);
      if (!service) throw appointmentNotFound();
      const { start, end } = checkBookable(d, service, input.startsAt, now);
      await this.#repo.setStatus(q, old.id, 'cancelled');
      const { row } = await this.#insertAnyBay(q, d, {
        customerId: input.customerId,
        vehicleId: old.vehicle_id,
        serviceCode: old.service_code,
        startsAt: start,
        endsAt: end,
        source: input.source ?? 'phone',
        callSid: input.callSid ?? null,
        notesEnc: old.notes_enc,
        idempotencyKey: key,
      });
      return { id: row.id, previousStart: old.starts_at };
    });
    await this.#customers.invalidateCustomer(input.customerId);
    const previousStart =
      done.previousStart ?? (await this.#repo.findDetailed(this.#db, input.appointmentId))?.starts_at;
    return {
      appointment: await this.#summary(d, done.id),
      previous: {
        id: input.appointmentId,
        startsAt: previousStart ? formatLocal(previousStart, d.timezone) : '',
      },
    };
  }

  async cancel(input: {
    customerId: string;
    appointmentId: string;
  }): Promise<{ cancelled: true; appointment: UpcomingItem }> {
    const appointment = await this.getOwnUpcoming(input.customerId, input.appointmentId);
    const now = this.#now();
    await this.#db.tx(async (q) => {
      const row = await this.#repo.lockOwnUpcoming(q, input.customerId, input.appointmentId, now);
      if (!row) throw appointmentNotFound();
      await this.#repo.setStatus(q, row.id, 'cancelled');
    });
    await this.#customers.invalidateCustomer(input.customerId);
    return { cancelled: true, appointment };
  }

  /** Staff may cancel any live booking; the route audit-logs who did. */
  async cancelByStaff(appointmentId: string): Promise<{ cancelled: true; appointment: StaffAppointment }> {
    const notFound = new NotFoundError('APPOINTMENT_NOT_FOUND', 'No appointment with that id');
    if (!isUuid(appointmentId)) throw notFound;
    const row = await this.#db.tx(async (q) => {
      const cancelled = await this.#repo.cancelIfBooked(q, appointmentId);
      if (cancelled) return cancelled;
      if (await this.#repo.exists(q, appointmentId)) {
        throw new ConflictError('NOT_CANCELLABLE', 'Only a booked appointment can be cancelled');
      }
      throw notFound;
    });
    await this.#customers.invalidateCustomer(row.customer_id);
    const d = await this.dealership();
    const detailed = await this.#repo.findDetailed(this.#db, appointmentId);
    if (!detailed) throw notFound;
    return { cancelled: true, appointment: toStaffAppointment(d.timezone, this.#cipher, detailed) };
  }

  async listUpcoming(customerId: string): Promise<UpcomingItem[]> {
    const d = await this.dealership();
    const rows = await this.#repo.listUpcoming(this.#db, customerId, this.#now());
    return rows.map((r) => toUpcoming(d.timezone, r));
  }

  /** One upcoming booking of this customer's, or APPOINTMENT_NOT_FOUND (also for anyone else's). */
  async getOwnUpcoming(customerId: string, appointmentId: string): Promise<UpcomingItem> {
    if (!isUuid(appointmentId)) throw appointmentNotFound();
    const d = await this.dealership();
    const row = await this.#repo.findDetailed(this.#db, appointmentId);
    if (!row || row.customer_id !== customerId || row.status !== 'booked' || row.starts_at <= this.#now()) {
      throw appointmentNotFound();
    }
    return toUpcoming(d.timezone, row);
  }

  async dealershipInfo(topic: string): Promise<Record<string, unknown>> {
    if (!(INFO_TOPICS as readonly string[]).includes(topic)) {
      throw new ValidationError('INVALID_TOPIC', `topic is one of ${INFO_TOPICS.join(', ')}`);
    }
    return dealershipFacts(await this.dealership(), topic as InfoTopic);
  }

  /** Staff API: appointments starting between two local dates, both inclusive. */
  async listAppointments(opts: { from: string; to: string; status?: string }): Promise<StaffAppointment[]> {
    parseLocalDate(opts.from);
    parseLocalDate(opts.to);
    if (opts.to < opts.from) throw new ValidationError('INVALID_RANGE', '`to` is before `from`');
    if (opts.to > addDays(opts.from, 366))
      throw new ValidationError('INVALID_RANGE', 'At most 366 days at once');
    const status = opts.status || undefined;
    if (status !== undefined && !(APPOINTMENT_STATUSES as readonly string[]).includes(status)) {
      throw new ValidationError('INVALID_STATUS', `status is one of ${APPOINTMENT_STATUSES.join(', ')}`);
    }
    const d = await this.dealership();
    const rows = await this.#repo.listRange(
      this.#db,
      startOfLocalDay(opts.from, d.timezone),
      startOfLocalDay(addDays(opts.to, 1), d.timezone),
      status as AppointmentStatus | undefined,
    );
    return rows.map((r) => toStaffAppointment(d.timezone, this.#cipher, r));
  }

  /** The caller's view fresh from Postgres (after a write the cache entry is gone anyway). */
  async customerView(customerId: string): Promise<CustomerView | null> {
    return this.#customerRepo.findViewById(customerId);
  }

  #newCaller(input: { callerPhone?: string | null; customerName?: string | null }): NewCaller {
    const name = cleanName(input.customerName);
    if (!name) throw new ValidationError('NAME_REQUIRED', "A new caller's name is needed to book");
    if (!input.callerPhone)
      throw new ValidationError('PHONE_REQUIRED', 'A callback number is needed to book');
    return { name, phone: normalizePhone(input.callerPhone) };
  }

  async #ensureCustomer(q: Queryable, caller: NewCaller): Promise<string> {
    const { id, created } = await this.#customerRepo.upsert(q, {
      phoneE164: caller.phone,
      name: caller.name,
      email: null,
    });
    // The number is on file already (the caller's cache entry was stale): keep the name given there.
    if (!created && !(await this.#repo.customerHasName(q, id))) {
      await this.#customerRepo.setName(q, id, caller.name);
    }
    return id;
  }

  async #resolveVehicle(
    q: Queryable,
    customerId: string | null,
    vehicleId: string | null | undefined,
    vehicle: VehicleInput | null | undefined,
    create: boolean,
  ): Promise<VehicleRow | { id: null; year: number; make: string; model: string } | null> {
    if (vehicleId) {
      const found =
        customerId && isUuid(vehicleId) ? await this.#repo.findVehicle(q, customerId, vehicleId) : null;
      if (!found) throw new NotFoundError('VEHICLE_NOT_FOUND', "That vehicle is not on this caller's file");
      return found;
    }
    const v = vehicle ? cleanVehicle(vehicle) : null;
    if (!v) return null;
    const match = customerId ? await this.#repo.findMatchingVehicle(q, customerId, v) : null;
    if (match) return match;
    if (create && customerId) return this.#customerRepo.addVehicle(q, customerId, v);
    return { id: null, ...v };
  }

  async #requireFreeBay(q: Queryable, d: Dealership, start: Date, end: Date): Promise<void> {
    const busy = await this.#repo.busyIntervals(q, start, end);
    if (freeBays(d.bays, busy, start, end).length === 0) throw slotTaken();
  }

  /** Tries each free bay in turn: losing a race for one bay is not losing the slot. */
  async #insertAnyBay(q: Queryable, d: Dealership, a: Omit<NewAppointment, 'bayId'>) {
    const busy = await this.#repo.busyIntervals(q, a.startsAt, a.endsAt);
    for (const bay of freeBays(d.bays, busy, a.startsAt, a.endsAt)) {
      const inserted = await this.#repo.tryInsert(q, { ...a, bayId: bay.id });
      if (inserted) return inserted;
    }
    throw slotTaken();
  }

  async #summary(d: Dealership, appointmentId: string): Promise<AppointmentSummary> {
    const row = await this.#repo.findDetailed(this.#db, appointmentId);
    if (!row) throw appointmentNotFound();
    return { ...toUpcoming(d.timezone, row), bay: { id: Number(row.bay_id), name: row.bay_name } };
  }
}

interface NewCaller {
  name: string;
  phone: string;
}

function slotTaken(): ConflictError {
  return new ConflictError(
    'SLOT_TAKEN',
    'That time is no longer available; offer another from find_availability',
  );
}

/** Local midnight as an instant; where a clock change skips midnight, the day starts at 01:00. */
function startOfLocalDay(date: string, tz: string): Date {
  try {
    return localToUtc(`${date}T00:00`, tz);
  } catch {
    return localToUtc(`${date}T01:00`, tz);
  }
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids come from a language model: anything not shaped like one is simply not found. */
export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

export function cleanName(name: string | null | undefined): string | null {
  const n = (name ?? '').replace(/\s+/g, ' ').trim();
  if (n.length === 0) return null;
  if (n.length > 100 || !/\p{L}/u.test(n))
    throw new ValidationError('INVALID_NAME', 'That does not look like a name');
  return n;
}

export function cleanNotes(notes: string | null | undefined): string | null {
  const n = (notes ?? '').trim();
  return n.length === 0 ? null : n.slice(0, 500);
}

export function cleanVehicle(v: VehicleInput): VehicleInput {
  const make = String(v.make ?? '').trim();
  const model = String(v.model ?? '').trim();
  const year = Number(v.year);
  if (
    !Number.isInteger(year) ||
    year < 1900 ||
    year > 2100 ||
    !make ||
    !model ||
    make.length > 40 ||
    model.length > 60
  ) {
    throw new ValidationError('INVALID_VEHICLE', 'A vehicle needs a year (e.g. 2019), a make and a model');
  }
  return { year, make, model };
}
