/** The demo dealership of CONTRACT.md; `npm run seed` and the embedded default load it. */
export const DEMO_DEALERSHIP = {
  name: 'Bayline Motors',
  timezone: 'America/Chicago',
  address: '1200 W Lake St, Chicago, IL 60607',
  phone: '+13125550100',
  hours: {
    mon: ['07:00', '18:00'],
    tue: ['07:00', '18:00'],
    wed: ['07:00', '18:00'],
    thu: ['07:00', '18:00'],
    fri: ['07:00', '18:00'],
    sat: ['08:00', '14:00'],
    sun: null,
  },
  slotMinutes: 30,
  bays: ['Bay 1', 'Bay 2', 'Bay 3', 'Bay 4'],
  services: [
    { code: 'OIL', name: 'Oil change', minutes: 30, priceCents: 5995 },
    { code: 'ROTATE', name: 'Tire rotation', minutes: 30, priceCents: 2995 },
    { code: 'BRAKES', name: 'Brake service', minutes: 60, priceCents: 14900 },
    { code: 'DIAG', name: 'Diagnostic check', minutes: 60, priceCents: 12900 },
    { code: 'BATTERY', name: 'Battery replacement', minutes: 30, priceCents: 3900 },
    { code: 'ALIGN', name: 'Wheel alignment', minutes: 60, priceCents: 9900 },
  ],
  customers: [
    {
      name: 'Dana Whitfield',
      phone: '+13125550142',
      email: 'dana@example.com',
      vehicles: [
        { year: 2019, make: 'Toyota', model: 'Camry' },
        { year: 2022, make: 'Honda', model: 'CR-V' },
      ],
    },
    {
      name: 'Luis Ortega',
      phone: '+13125550199',
      email: null,
      vehicles: [{ year: 2017, make: 'Ford', model: 'F-150' }],
    },
  ],
} as const;
