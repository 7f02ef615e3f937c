import { greetingText, PHRASES } from '../../../server/conversation/phrases';
import { systemPrompt, type DealershipFacts } from '../../../server/conversation/prompts';
import type { CustomerView } from '../../../server/customers';

const dealership: DealershipFacts = {
  name: 'Bayline Motors',
  address: '1200 W Lake St, Chicago, IL 60607',
  timezone: 'America/Chicago',
  hours: { mon: ['07:00', '18:00'], sat: ['08:00', '14:00'], sun: null },
  services: [{ code: 'OIL', name: 'Oil change', minutes: 30, priceCents: 5995 }],
};

const dana: CustomerView = {
  id: 'c1',
  name: 'Dana Whitfield',
  firstName: 'Dana',
  email: null,
  vehicles: [{ id: 'v1', year: 2019, make: 'Toyota', model: 'Camry' }],
  upcoming: [],
  lastServiceDate: null,
};

describe('greeting and prompt', () => {
  it('greets a known caller by first name with a fixed template, and a new caller without', () => {
    expect(greetingText('Bayline Motors', 'Dana')).toBe(
      'Hi Dana, thanks for calling Bayline Motors service. How can I help you today?',
    );
    expect(greetingText('Bayline Motors', null)).toBe(
      'Thanks for calling Bayline Motors service. How can I help you today?',
    );
  });

  it("gives the model today's date in the dealership's time zone, the facts and the caller", () => {
    // 03:00 UTC on Tuesday is still Monday evening in Chicago.
    const p = systemPrompt(dealership, dana, new Date('2026-11-24T03:00:00Z'));
    expect(p).toContain('Monday, November 23, 2026 (2026-11-23)');
    expect(p).toContain('sun: closed');
    expect(p).toContain('OIL Oil change (30 min, $59.95)');
    expect(p).toContain('2019 Toyota Camry (id v1)');
    expect(p).toContain('NEEDS_CONFIRMATION');
    expect(systemPrompt(dealership, null, new Date())).toContain('new caller');
  });

  it("lists a known caller's appointments in dealership time, as the tools write it, never as UTC", () => {
    // The customer view carries UTC instants: 15:00Z in winter and 14:00Z in summer are 09:00 in Chicago.
    const upcoming = [
      { id: 'a1', startsAt: '2026-12-08T15:00:00.000Z', endsAt: '2026-12-08T15:30:00.000Z' },
      { id: 'a2', startsAt: '2027-07-06T19:30:00.000Z', endsAt: '2027-07-06T20:30:00.000Z' },
    ].map((a) => ({ ...a, serviceCode: 'OIL', serviceName: 'Oil change', vehicleId: 'v1' }));
    const p = systemPrompt(dealership, { ...dana, upcoming }, new Date('2026-11-24T15:00:00Z'));
    const line = p.split('\n').find((l) => l.startsWith('Upcoming appointments')) ?? '';
    expect(line).toBe(
      'Upcoming appointments: Oil change on Tuesday, December 8 at 9:00 AM (startsAt 2026-12-08T09:00, id a1); ' +
        'Oil change on Tuesday, July 6 at 2:30 PM (startsAt 2027-07-06T14:30, id a2).',
    );
    expect(p).not.toMatch(/\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z/);
    expect(p).not.toContain('15:00');
  });

  it('does not fail the call start over an appointment time it cannot read', () => {
    const upcoming = [
      {
        id: 'a1',
        startsAt: 'garbage',
        endsAt: 'garbage',
        serviceCode: 'OIL',
        serviceName: 'Oil change',
        vehicleId: null,
      },
    ];
    const p = systemPrompt(dealership, { ...dana, upcoming }, new Date('2026-11-24T15:00:00Z'));
    expect(p).toContain('Oil change (id a1; use list_my_appointments for its time)');
  });

  it('keeps fixed phrases short enough to cache', () => {
    for (const text of Object.values(PHRASES)) expect(text.length).toBeLessThan(300);
  });
});
