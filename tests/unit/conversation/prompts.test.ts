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

  it('keeps fixed phrases short enough to cache', () => {
    for (const text of Object.values(PHRASES)) expect(text.length).toBeLessThan(300);
  });
});
