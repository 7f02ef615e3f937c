import type { Queryable } from '../platform/postgres';
import { pgErrorCode } from '../platform/postgres';
import { ConflictError } from '../platform/errors';

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
      return { row: rows[0] as AppointmentRow, replayed: false };
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
}
