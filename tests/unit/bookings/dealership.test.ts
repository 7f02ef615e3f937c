import {
  closedMessage,
  dealershipFacts,
  DealershipRepository,
  findService,
  type Dealership,
} from '../../../server/bookings/dealership';
import type { QueryResult, Queryable } from '../../../server/platform/postgres';
import { DEMO_DEALERSHIP as D } from '../../../server/platform/demo-data';

/** Answers the three dealership queries from the demo data, counting round trips. */
class FakeDb implements Queryable {
  queries = 0;
  async query<R>(text: string): Promise<QueryResult<R>> {
    this.queries++;
    const rows: unknown[] = text.includes('FROM dealership')
      ? [{ ...D, hours: JSON.stringify(D.hours), slot_minutes: D.slotMinutes }]
      : text.includes('FROM service_types')
        ? D.services.map((s) => ({
            code: s.code,
            name: s.name,
            duration_minutes: s.minutes,
            price_cents: s.priceCents,
            active: s.code !== 'BATTERY',
          }))
        : D.bays.map((name, i) => ({ id: i + 1, name }));
    return { rows: rows as R[], rowCount: rows.length };
  }
}

async function demo(): Promise<Dealership> {
  return new DealershipRepository(new FakeDb()).get();
}

describe('dealership', () => {
  it('parses opening hours per weekday, closed days as null', async () => {
    const d = await demo();
    expect(d.timezone).toBe('America/Chicago');
    expect(d.hours.mon).toEqual({ open: '07:00', close: '18:00', openMinutes: 420, closeMinutes: 1080 });
    expect(d.hours.sat).toMatchObject({ open: '08:00', close: '14:00' });
    expect(d.hours.sun).toBeNull();
    expect(d.slotMinutes).toBe(30);
    expect(d.bays.map((b) => b.id)).toEqual([1, 2, 3, 4]);
  });

  it('caches for its TTL and shares one load between concurrent callers', async () => {
    const db = new FakeDb();
    const repo = new DealershipRepository(db, { ttlMs: 60_000 });
    await Promise.all([repo.get(), repo.get(), repo.get()]);
    expect(db.queries).toBe(3);
    await repo.get();
    expect(db.queries).toBe(3);
    repo.invalidate();
    await repo.get();
    expect(db.queries).toBe(6);
    const expired = new DealershipRepository(db, { ttlMs: 0 });
    await expired.get();
    await expired.get();
    expect(db.queries).toBe(12);
  });

  it('finds active services case-insensitively and names the known ones otherwise', async () => {
    const d = await demo();
    expect(findService(d, ' oil ').code).toBe('OIL');
    expect(() => findService(d, 'CARWASH')).toThrow(
      expect.objectContaining({ code: 'UNKNOWN_SERVICE', message: expect.stringContaining('BRAKES') }),
    );
    expect(() => findService(d, 'BATTERY')).toThrow(expect.objectContaining({ code: 'UNKNOWN_SERVICE' }));
  });

  it('says which days are closed', async () => {
    expect(closedMessage(await demo(), 'sun')).toMatch(/closed on Sundays/);
  });

  it('gives facts per topic', async () => {
    const d = await demo();
    const hours = dealershipFacts(d, 'hours');
    expect(hours.hours).toMatchObject({
      monday: { open: '07:00', close: '18:00' },
      saturday: { open: '08:00', close: '14:00' },
      sunday: null,
    });
    expect(hours.closedDays).toEqual(['Sunday']);
    expect(dealershipFacts(d, 'address')).toMatchObject({ address: D.address, phone: '(312) 555-0100' });
    const prices = dealershipFacts(d, 'prices');
    expect(prices.prices).toContainEqual({ code: 'OIL', name: 'Oil change', price: '$59.95' });
    expect(JSON.stringify(prices)).not.toContain('BATTERY');
    expect(dealershipFacts(d, 'services').services).toContainEqual({
      code: 'BRAKES',
      name: 'Brake service',
      durationMinutes: 60,
    });
  });
});
