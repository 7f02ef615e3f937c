import type { Queryable } from '../platform/postgres';
import { pgErrorCode } from '../platform/postgres';
import { ConflictError } from '../platform/errors';
import type { PiiCipher } from '../platform/crypto';
import { maskPhone } from '../platform/phone';
import type { BookedInterval } from './availability';
import type { StaffAppointment, UpcomingItem } from './index';
import { formatIsoOffset, formatLocal } from './time';

export interface NewAppointment {
  customerId: string;
  vehicleId: string | null;
  serviceCode: string;
  bayId: number;
  startsAt: Date;
  endsAt: Date;
  source: 'phone' | 'staff';
  callSid: string | null;
  notesEnc: string | null;
  idempotencyKey: string | null;
}

export interface AppointmentRow {
  id: string;
  customer_id: string;
  vehicle_id: string | null;
  service_code: string;
  bay_id: number;
  starts_at: Date;
  ends_at: Date;
  status: string;
  source: string;
  call_sid: string | null;
}

/** First key of the per-bay advisory lock; the bay id is the second. */
const BAY_LOCK_NAMESPACE = 0x62617973;

export class BookingRepository {
  /**
   * Inserts a booking. The exclusion constraint is the arbiter of overlaps: a concurrent writer
   * that lost gets SLOT_TAKEN. A replayed idempotency key returns the booking it made the first time.
   */
  async insert(q: Queryable, a: NewAppointment): Promise<{ row: AppointmentRow; replayed: boolean }> {
    if (a.idempotencyKey) {
      const prior = await q.query<AppointmentRow>('SELECT * FROM appointments WHERE idempotency_key = $1', [
        a.idempotencyKey,
      ]);
      if (prior.rows[0]) return { row: prior.rows[0], replayed: true };
    }
    try {
      return { row: await this.#insertRow(q, a), replayed: false };
    } catch (err) {
      const code = pgErrorCode(err);
      if (code === '23P01') throw new ConflictError('SLOT_TAKEN', 'That time is no longer available');
      if (code === '23505' && a.idempotencyKey) {
        const prior = await q.query<AppointmentRow>('SELECT * FROM appointments WHERE idempotency_key = $1', [
          a.idempotencyKey,
        ]);
        if (prior.rows[0]) return { row: prior.rows[0], replayed: true };
      }
      throw err;
    }
  }

  async #insertRow(q: Queryable, a: NewAppointment): Promise<AppointmentRow> {
    // Concurrent inserts that collide on an exclusion constraint wait on each other and deadlock;
    // queueing writers per bay first turns that storm into plain, immediate SLOT_TAKEN answers.
    await q.query('SELECT pg_advisory_xact_lock($1, $2)', [BAY_LOCK_NAMESPACE, a.bayId]);
    const { rows } = await q.query<AppointmentRow>(
      `INSERT INTO appointments (customer_id, vehicle_id, service_code, bay_id, starts_at, ends_at, source, call_sid, notes_enc, idempotency_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *`,
      [
        a.customerId,
        a.vehicleId,
        a.serviceCode,
        a.bayId,
        a.startsAt,
        a.endsAt,
        a.source,
        a.callSid,
        a.notesEnc,
        a.idempotencyKey,
      ],
    );
    return rows[0] as AppointmentRow;
  }

  /**
   * An insert inside a savepoint, so a lost race for this bay leaves the transaction usable and the
   * caller can try the next bay. Returns null when the bay was taken.
   */
  async tryInsert(
    q: Queryable,
    a: NewAppointment,
  ): Promise<{ row: AppointmentRow; replayed: boolean } | null> {
    await q.query('SAVEPOINT try_bay');
    try {
      const row = await this.#insertRow(q, a);
      await q.query('RELEASE SAVEPOINT try_bay');
      return { row, replayed: false };
    } catch (err) {
      await q.query('ROLLBACK TO SAVEPOINT try_bay');
      if (pgErrorCode(err) === '23P01') return null;
      // A concurrent twin with the same idempotency key committed first: answer with its booking.
      if (pgErrorCode(err) === '23505' && a.idempotencyKey) {
        const prior = await this.findByIdempotencyKey(q, a.idempotencyKey);
        if (prior) return { row: prior, replayed: true };
      }
      throw err;
    }
  }

  async findByIdempotencyKey(q: Queryable, key: string): Promise<AppointmentRow | null> {
    const { rows } = await q.query<AppointmentRow>('SELECT * FROM appointments WHERE idempotency_key = $1', [
      key,
    ]);
    return rows[0] ?? null;
  }

  async findVehicle(q: Queryable, customerId: string, vehicleId: string): Promise<VehicleRow | null> {
    const { rows } = await q.query<VehicleRow>(
      'SELECT id, year, make, model FROM vehicles WHERE id = $1 AND customer_id = $2',
      [vehicleId, customerId],
    );
    return rows[0] ?? null;
  }

  /** A vehicle already on file that matches what the caller described, so it is not added twice. */
  async findMatchingVehicle(
    q: Queryable,
    customerId: string,
    v: { year: number; make: string; model: string },
  ): Promise<VehicleRow | null> {
    const { rows } = await q.query<VehicleRow>(
      `SELECT id, year, make, model FROM vehicles
       WHERE customer_id = $1 AND year = $2 AND lower(make) = lower($3) AND lower(model) = lower($4)
       ORDER BY created_at LIMIT 1`,
      [customerId, v.year, v.make, v.model],
    );
    return rows[0] ?? null;
  }

  /** Live bookings overlapping [from, to): what availability must route around. */
  async busyIntervals(q: Queryable, from: Date, to: Date): Promise<BookedInterval[]> {
    const { rows } = await q.query<{ bay_id: number; starts_at: Date; ends_at: Date }>(
      `SELECT bay_id, starts_at, ends_at FROM appointments
       WHERE status = 'booked' AND starts_at < $2 AND ends_at > $1`,
      [from, to],
    );
    return rows.map((r) => ({ bayId: Number(r.bay_id), startsAt: r.starts_at, endsAt: r.ends_at }));
  }

  /** The customer's own live, upcoming booking, locked for the change about to be made. */
  async lockOwnUpcoming(
    q: Queryable,
    customerId: string,
    appointmentId: string,
    now: Date,
  ): Promise<(AppointmentRow & { notes_enc: string | null }) | null> {
    const { rows } = await q.query<AppointmentRow & { notes_enc: string | null }>(
      `SELECT * FROM appointments
       WHERE id = $1 AND customer_id = $2 AND status = 'booked' AND starts_at > $3 FOR UPDATE`,
      [appointmentId, customerId, now],
    );
    return rows[0] ?? null;
  }

  async setStatus(q: Queryable, appointmentId: string, status: AppointmentStatus): Promise<void> {
    await q.query('UPDATE appointments SET status = $2, updated_at = now() WHERE id = $1', [
      appointmentId,
      status,
    ]);
  }

  /** Cancels a live booking whoever owns it (staff); the row's customer, or null if none was live. */
  async cancelIfBooked(q: Queryable, appointmentId: string): Promise<{ customer_id: string } | null> {
    const { rows } = await q.query<{ customer_id: string }>(
      `UPDATE appointments SET status = 'cancelled', updated_at = now()
       WHERE id = $1 AND status = 'booked' RETURNING customer_id`,
      [appointmentId],
    );
    return rows[0] ?? null;
  }

  async customerHasName(q: Queryable, customerId: string): Promise<boolean> {
    const { rows } = await q.query<{ named: boolean }>(
      'SELECT name_enc IS NOT NULL AS named FROM customers WHERE id = $1',
      [customerId],
    );
    return rows[0]?.named ?? false;
  }

  async exists(q: Queryable, appointmentId: string): Promise<boolean> {
    const { rows } = await q.query('SELECT 1 FROM appointments WHERE id = $1', [appointmentId]);
    return rows.length > 0;
  }

  async listUpcoming(q: Queryable, customerId: string, now: Date): Promise<DetailedRow[]> {
    const { rows } = await q.query<DetailedRow>(
      `${DETAIL_SQL} WHERE a.customer_id = $1 AND a.status = 'booked' AND a.starts_at > $2
       ORDER BY a.starts_at, a.id`,
      [customerId, now],
    );
    return rows;
  }

  async findDetailed(q: Queryable, appointmentId: string): Promise<DetailedRow | null> {
    const { rows } = await q.query<DetailedRow>(`${DETAIL_SQL} WHERE a.id = $1`, [appointmentId]);
    return rows[0] ?? null;
  }

  /** Staff view: appointments starting in [from, to), optionally of one status. */
  async listRange(q: Queryable, from: Date, to: Date, status?: AppointmentStatus): Promise<DetailedRow[]> {
    const { rows } = await q.query<DetailedRow>(
      `${DETAIL_SQL} WHERE a.starts_at >= $1 AND a.starts_at < $2 AND ($3::text IS NULL OR a.status = $3)
       ORDER BY a.starts_at, a.bay_id, a.id`,
      [from, to, status ?? null],
    );
    return rows;
  }
}

export interface VehicleRow {
  id: string;
  year: number;
  make: string;
  model: string;
}

export const APPOINTMENT_STATUSES = ['booked', 'cancelled', 'completed', 'no_show'] as const;
export type AppointmentStatus = (typeof APPOINTMENT_STATUSES)[number];

/** An appointment with what is shown next to it: service and bay names, vehicle, encrypted contact. */
export interface DetailedRow {
  id: string;
  customer_id: string;
  starts_at: Date;
  ends_at: Date;
  status: AppointmentStatus;
  source: 'phone' | 'staff';
  call_sid: string | null;
  service_code: string;
  service_name: string;
  bay_id: number;
  bay_name: string;
  vehicle_id: string | null;
  vehicle_year: number | null;
  vehicle_make: string | null;
  vehicle_model: string | null;
  customer_name_enc: string | null;
  customer_phone_enc: string;
}

const DETAIL_SQL = `
SELECT a.id, a.customer_id, a.starts_at, a.ends_at, a.status, a.source, a.call_sid,
       a.service_code, s.name AS service_name, a.bay_id, b.name AS bay_name,
       a.vehicle_id, v.year AS vehicle_year, v.make AS vehicle_make, v.model AS vehicle_model,
       c.name_enc AS customer_name_enc, c.phone_enc AS customer_phone_enc
FROM appointments a
JOIN service_types s ON s.code = a.service_code
JOIN bays b ON b.id = a.bay_id
JOIN customers c ON c.id = a.customer_id
LEFT JOIN vehicles v ON v.id = a.vehicle_id`;

function vehicleOf(r: DetailedRow): { id: string; year: number; make: string; model: string } | null {
  return r.vehicle_id && r.vehicle_year !== null && r.vehicle_make !== null && r.vehicle_model !== null
    ? { id: r.vehicle_id, year: r.vehicle_year, make: r.vehicle_make, model: r.vehicle_model }
    : null;
}

export function toUpcoming(tz: string, r: DetailedRow): UpcomingItem {
  return {
    id: r.id,
    startsAt: formatLocal(r.starts_at, tz),
    endsAt: formatLocal(r.ends_at, tz),
    status: r.status,
    service: { code: r.service_code, name: r.service_name },
    vehicle: vehicleOf(r),
    bayId: Number(r.bay_id),
  };
}

export function toStaffAppointment(tz: string, cipher: PiiCipher, r: DetailedRow): StaffAppointment {
  const v = vehicleOf(r);
  return {
    id: r.id,
    startsAt: formatIsoOffset(r.starts_at, tz),
    endsAt: formatIsoOffset(r.ends_at, tz),
    status: r.status,
    service: { code: r.service_code, name: r.service_name },
    bay: { id: Number(r.bay_id), name: r.bay_name },
    customer: {
      id: r.customer_id,
      name: cipher.decryptNullable(r.customer_name_enc),
      phoneMasked: maskPhone(cipher.decrypt(r.customer_phone_enc)),
    },
    vehicle: v && { year: v.year, make: v.make, model: v.model },
    source: r.source,
    callSid: r.call_sid,
  };
}
