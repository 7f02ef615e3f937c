import { seedDemo } from '../server/platform/seed';
import { withRuntime } from './cli';

withRuntime(async (rt, config) => {
  const r = await seedDemo(rt.db, rt.cipher, { timezone: config.timezone });
  console.log(`seeded Bayline Motors (${r.customers} demo customers)`);
}).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
