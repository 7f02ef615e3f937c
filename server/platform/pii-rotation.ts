import type { Db, Queryable } from './postgres';
import type { PiiCipher } from './crypto';

/** Every encrypted column, with the key that identifies its row. */
const TARGETS = [
  {
    table: 'customers',
    key: 'id',
    columns: ['name_enc', 'email_enc', 'phone_enc'],
    versionColumn: 'pii_key_version',
  },
  { table: 'calls', key: 'call_sid', columns: ['from_enc'], versionColumn: 'pii_key_version' },
  { table: 'call_turns', key: 'ctid', columns: ['text_enc'], versionColumn: 'pii_key_version' },
  { table: 'appointments', key: 'id', columns: ['notes_enc'], versionColumn: null },
] as const;

export interface RotationReport {
  version: number;
  rows: Record<string, number>;
}

/**
 * Re-encrypts every PII value under the current key version, in short batched transactions that
 * skip rows other writers hold: the service keeps running while it works.
 */
export async function rotatePii(
  db: Db,
  cipher: PiiCipher,
  opts: { batchSize?: number } = {},
): Promise<RotationReport> {
  const batchSize = opts.batchSize ?? 500;
  const version = cipher.currentVersion;
  const prefix = `v${version}.`;
  const report: RotationReport = { version, rows: {} };
  for (const t of TARGETS) {
    const stale = t.columns
      .map((c) => `(${c} IS NOT NULL AND left(${c}, ${prefix.length}) <> '${prefix}')`)
      .join(' OR ');
    let total = 0;
    for (;;) {
      const n = await db.tx(async (q: Queryable) => {
        const { rows } = await q.query<Record<string, string | null>>(
          `SELECT ${t.key}::text AS k, ${t.columns.join(', ')} FROM ${t.table} WHERE ${stale} LIMIT $1 FOR UPDATE SKIP LOCKED`,
          [batchSize],
        );
        for (const row of rows) {
          const values = t.columns.map((c) => {
            const v = row[c];
            return v === null || v === undefined ? null : cipher.encrypt(cipher.decrypt(v));
          });
          const sets = t.columns.map((c, i) => `${c} = $${i + 2}`);
          if (t.versionColumn) sets.push(`${t.versionColumn} = ${version}`);
          const keyExpr = t.key === 'ctid' ? 'ctid = $1::tid' : `${t.key} = $1`;
          await q.query(`UPDATE ${t.table} SET ${sets.join(', ')} WHERE ${keyExpr}`, [row.k, ...values]);
        }
        return rows.length;
      });
      total += n;
      if (n === 0) break;
    }
    report.rows[t.table] = total;
  }
  return report;
}
