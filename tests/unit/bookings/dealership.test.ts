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
  /** `down`: refused at once (ECONNREFUSED); `hung`: never answers (a black-holed server). */
  state: 'up' | 'down' | 'hung' = 'up';
  name: string = D.name;
  async query<R>(text: string): Promise<QueryResult<R>> {
    this.queries++;
    if (this.state === 'down')
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    if (this.state === 'hung') return new Promise<never>(() => undefined);
    const rows: unknown[] = text.includes('FROM dealership')
      ? [{ ...D, name: this.name, hours: JSON.stringify(D.hours), slot_minutes: D.slotMinutes }]
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

/** Resolves to what `p` settled with, or 'pending' if it has not within a few event-loop turns. */
async function settledSoon<T>(p: Promise<T>): Promise<T | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), 20))]);
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

  describe('with Postgres down', () => {
    let clock = 1_000_000;
    beforeEach(() => {
      jest.spyOn(Date, 'now').mockImplementation(() => clock);
    });
    afterEach(() => jest.restoreAllMocks());

    it('serves the last good value once it expired, and no read waits on the refresh', async () => {
      const db = new FakeDb();
      const repo = new DealershipRepository(db, { ttlMs: 60_000 });
      const first = await repo.get();
      clock += 61_000;
      db.state = 'hung';
      expect(await settledSoon(repo.get())).toBe(first);
      expect(db.queries).toBe(6); // the refresh was started, in the background
      db.state = 'down';
      expect(await settledSoon(repo.get())).toBe(first);
    });

    it('keeps the last value after a failed refresh, asks again only after retryMs, then picks up changes', async () => {
      const db = new FakeDb();
      const repo = new DealershipRepository(db, { ttlMs: 60_000, retryMs: 5_000 });
      const first = await repo.get();
      clock += 61_000;
      db.state = 'down';
      await repo.get();
      await new Promise((r) => setImmediate(r)); // the background refresh fails
      const afterFailure = db.queries;
      clock += 4_000;
      expect(await repo.get()).toBe(first);
      expect(db.queries).toBe(afterFailure); // a database that is down is not asked on every read
      db.state = 'up';
      db.name = 'Bayline Motors North';
      clock += 2_000;
      expect(await repo.get()).toBe(first); // still no wait: stale while the refresh runs
      await new Promise((r) => setImmediate(r));
      expect((await repo.get()).name).toBe('Bayline Motors North');
    });

    it('waits only when it has no value: nothing loaded yet, or right after invalidate()', async () => {
      const db = new FakeDb();
      db.state = 'down';
      const repo = new DealershipRepository(db);
      // Nothing to serve: the caller gets the error and picks its own fallback; the next read retries.
      await expect(repo.get()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      db.state = 'up';
      const first = await repo.get();
      expect(first.name).toBe(D.name);
      db.state = 'down';
      repo.invalidate();
      expect(await repo.get()).toBe(first);
    });
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
