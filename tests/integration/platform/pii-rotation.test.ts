import { randomBytes } from 'node:crypto';
import { PiiCipher } from '../../../server/platform/crypto';
import { rotatePii } from '../../../server/platform/pii-rotation';
import { seedDemo } from '../../../server/platform/seed';
import { CustomerRepository } from '../../../server/customers';
import { createTestDb, type TestDb } from '../../support/pg';

let tdb: TestDb;
afterAll(async () => {
  await tdb.drop();
});

describe('PII key rotation', () => {
  it('re-encrypts every row under the new version in batches, and every row stays readable', async () => {
    tdb = await createTestDb();
    const k1 = randomBytes(32);
    const index = randomBytes(32);
    const v1 = new PiiCipher(new Map([[1, k1]]), index);
    await seedDemo(tdb.db, v1);
    const repo1 = new CustomerRepository(tdb.db, v1);
    for (let i = 0; i < 25; i++) {
      await repo1.upsert(tdb.db, {
        phoneE164: `+1312555${String(1000 + i)}`,
        name: `Caller ${i}`,
        email: `c${i}@example.com`,
      });
    }
    await tdb.db.query("INSERT INTO calls (call_sid, from_enc, pii_key_version) VALUES ('CA1', $1, 1)", [
      v1.encrypt('+13125550142'),
    ]);
    await tdb.db.query(
      "INSERT INTO call_turns (call_sid, seq, role, text_enc, at, pii_key_version) VALUES ('CA1', 1, 'caller', $1, now(), 1)",
      [v1.encrypt('hello')],
    );

    const k2 = randomBytes(32);
    const v2 = new PiiCipher(
      new Map([
        [1, k1],
        [2, k2],
      ]),
      index,
    );
    const report = await rotatePii(tdb.db, v2, { batchSize: 7 });
    expect(report.version).toBe(2);
    expect(report.rows.customers).toBe(27);
    expect(report.rows.calls).toBe(1);
    expect(report.rows.call_turns).toBe(1);

    const { rows } = await tdb.db.query<{ name_enc: string; phone_enc: string; pii_key_version: number }>(
      'SELECT name_enc, phone_enc, pii_key_version FROM customers',
    );
    expect(
      rows.every(
        (r) => r.name_enc.startsWith('v2.') && r.phone_enc.startsWith('v2.') && r.pii_key_version === 2,
      ),
    ).toBe(true);
    // Readable with only the new key: nothing still depends on version 1.
    const onlyV2 = new PiiCipher(new Map([[2, k2]]), index);
    const dana = await new CustomerRepository(tdb.db, onlyV2).findViewByPhoneIndex(
      onlyV2.blindIndex('+13125550142'),
    );
    expect(dana?.name).toBe('Dana Whitfield');
    expect(dana?.email).toBe('dana@example.com');
    const caller7 = await new CustomerRepository(tdb.db, onlyV2).findViewByPhoneIndex(
      onlyV2.blindIndex('+13125551007'),
    );
    expect(caller7?.name).toBe('Caller 7');

    expect((await rotatePii(tdb.db, v2)).rows.customers).toBe(0);
  });
});
