import { loadConfig } from '../server/config';
import { createDb } from '../server/platform/postgres';
import { migrate } from '../server/platform/migrate';
import { withRuntime } from './cli';

async function run(): Promise<void> {
  const config = loadConfig();
  if (config.databaseUrl) {
    const db = createDb({ url: config.databaseUrl, max: 2 });
    try {
      const r = await migrate(db.pool);
      console.log(`migrations: ${r.applied.length} applied, ${r.skipped.length} already present`);
    } finally {
      await db.close();
    }
    return;
  }
  // Embedded database: the runtime starts PGlite and migrates it.
  await withRuntime(async () => console.log('embedded database migrated'));
}

run().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
