import type { Queryable } from '../platform/postgres';
import type { PiiCipher } from '../platform/crypto';
import type { CustomerView, UpcomingAppointment, VehicleView } from './types';

interface Row {
  id: string;
  name_enc: string | null;
  email_enc: string | null;
  vehicles: VehicleView[];
  upcoming: Array<Omit<UpcomingAppointment, 'startsAt' | 'endsAt'> & { startsAt: string; endsAt: string }>;
  last_service: Date | null;
}

// One round trip: the customer with vehicles, upcoming bookings and last service date.
const VIEW_SQL = `
SELECT c.id, c.name_enc, c.email_enc,
  COALESCE((SELECT json_agg(json_build_object('id', v.id, 'year', v.year, 'make', v.make, 'model', v.model) ORDER BY v.created_at, v.year, v.make, v.model)
            FROM vehicles v WHERE v.customer_id = c.id), '[]'::json) AS vehicles,
  COALESCE((SELECT json_agg(json_build_object('id', a.id, 'startsAt', a.starts_at, 'endsAt', a.ends_at, 'serviceCode', a.service_code,
                                              'serviceName', s.name, 'vehicleId', a.vehicle_id) ORDER BY a.starts_at)
            FROM appointments a JOIN service_types s ON s.code = a.service_code
            WHERE a.customer_id = c.id AND a.status = 'booked' AND a.starts_at > now()), '[]'::json) AS upcoming,
  (SELECT max(a.starts_at) FROM appointments a
    WHERE a.customer_id = c.id AND (a.status = 'completed' OR (a.status = 'booked' AND a.ends_at <= now()))) AS last_service
FROM customers c`;

export class CustomerRepository {
  readonly #db: Queryable;
  readonly #cipher: PiiCipher;

  constructor(db: Queryable, cipher: PiiCipher) {
    this.#db = db;
    this.#cipher = cipher;
  }

  async findViewByPhoneIndex(phoneIndex: string): Promise<CustomerView | null> {
    const { rows } = await this.#db.query<Row>(`${VIEW_SQL} WHERE c.phone_index = $1`, [phoneIndex]);
    return rows[0] ? this.#toView(rows[0]) : null;
  }

  async findViewById(id: string): Promise<CustomerView | null> {
    const { rows } = await this.#db.query<Row>(`${VIEW_SQL} WHERE c.id = $1`, [id]);
    return rows[0] ? this.#toView(rows[0]) : null;
  }

  async phoneIndexOf(customerId: string): Promise<string | null> {
    const { rows } = await this.#db.query<{ phone_index: string }>(
      'SELECT phone_index FROM customers WHERE id = $1',
      [customerId],
    );
    return rows[0]?.phone_index ?? null;
  }

  /** Inserts or returns the existing customer for this phone (the blind index is unique). */
  async upsert(
    q: Queryable,
    c: { phoneE164: string; name: string | null; email: string | null },
  ): Promise<{ id: string; created: boolean }> {
    const { rows } = await q.query<{ id: string; created: boolean }>(
      `INSERT INTO customers (name_enc, email_enc, phone_enc, phone_index, pii_key_version)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (phone_index) DO UPDATE SET updated_at = customers.updated_at
       RETURNING id, (xmax = 0) AS created`,
      [
        this.#cipher.encryptNullable(c.name),
        this.#cipher.encryptNullable(c.email),
        this.#cipher.encrypt(c.phoneE164),
        this.#cipher.blindIndex(c.phoneE164),
        this.#cipher.currentVersion,
      ],
    );
    return rows[0] as { id: string; created: boolean };
  }

  async setName(q: Queryable, customerId: string, name: string): Promise<void> {
    await q.query('UPDATE customers SET name_enc = $2, updated_at = now() WHERE id = $1', [
      customerId,
      this.#cipher.encrypt(name),
    ]);
  }

  async addVehicle(
    q: Queryable,
    customerId: string,
    v: { year: number; make: string; model: string },
  ): Promise<VehicleView> {
    const { rows } = await q.query<{ id: string }>(
      'INSERT INTO vehicles (customer_id, year, make, model) VALUES ($1, $2, $3, $4) RETURNING id',
      [customerId, v.year, v.make, v.model],
    );
    return { id: (rows[0] as { id: string }).id, ...v };
  }

  #toView(row: Row): CustomerView {
    const name = this.#cipher.decryptNullable(row.name_enc);
    return {
      id: row.id,
      name,
      firstName: name ? (name.trim().split(/\s+/)[0] ?? null) : null,
      email: this.#cipher.decryptNullable(row.email_enc),
      vehicles: row.vehicles,
      upcoming: row.upcoming.map((a) => ({
        ...a,
        startsAt: new Date(a.startsAt).toISOString(),
        endsAt: new Date(a.endsAt).toISOString(),
      })),
      lastServiceDate: row.last_service ? row.last_service.toISOString() : null,
    };
  }
}
