import { seedDemo } from '../server/platform/seed';
import { withRuntime } from './cli';

withRuntime(async (rt) => {
  const r = await seedDemo(rt.db, rt.cipher);
  console.log(`seeded Bayline Motors (${r.customers} demo customers)`);
}).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
