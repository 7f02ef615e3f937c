import type { Db } from './postgres';
import type { PiiCipher } from './crypto';
import { DEMO_DEALERSHIP as D } from './demo-data';

/**
 * Loads the demo dealership. Idempotent: run it twice, get the same rows once. `timezone`
 * (DEALERSHIP_TIMEZONE) replaces the demo's America/Chicago.
 */
export async function seedDemo(
  db: Db,
  cipher: PiiCipher,
  opts: { timezone?: string | undefined } = {},
): Promise<{ customers: number }> {
  return db.tx(async (q) => {
    await q.query(
      `INSERT INTO dealership (id, name, timezone, address, phone, hours, slot_minutes) VALUES (1, $1, $2, $3, $4, $5, $6)
       ON CONFLICT (id) DO UPDATE SET name = $1, timezone = $2, address = $3, phone = $4, hours = $5, slot_minutes = $6, updated_at = now()`,
      [D.name, opts.timezone ?? D.timezone, D.address, D.phone, JSON.stringify(D.hours), D.slotMinutes],
    );
    for (const s of D.services) {
      await q.query(
        `INSERT INTO service_types (code, name, duration_minutes, price_cents) VALUES ($1, $2, $3, $4)
         ON CONFLICT (code) DO UPDATE SET name = $2, duration_minutes = $3, price_cents = $4`,
        [s.code, s.name, s.minutes, s.priceCents],
      );
    }
    for (const bay of D.bays) {
      await q.query('INSERT INTO bays (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [bay]);
    }
    for (const c of D.customers) {
      const index = cipher.blindIndex(c.phone);
      const { rows } = await q.query<{ id: string }>(
        `INSERT INTO customers (name_enc, email_enc, phone_enc, phone_index, pii_key_version) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (phone_index) DO UPDATE SET updated_at = customers.updated_at RETURNING id`,
        [
          cipher.encrypt(c.name),
          cipher.encryptNullable(c.email),
          cipher.encrypt(c.phone),
          index,
          cipher.currentVersion,
        ],
      );
      const id = (rows[0] as { id: string }).id;
      for (const v of c.vehicles) {
        await q.query(
          `INSERT INTO vehicles (customer_id, year, make, model) SELECT $1, $2, $3, $4
           WHERE NOT EXISTS (SELECT 1 FROM vehicles WHERE customer_id = $1 AND year = $2 AND make = $3 AND model = $4)`,
          [id, v.year, v.make, v.model],
        );
      }
    }
    return { customers: D.customers.length };
  });
}
