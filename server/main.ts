import closeWithGrace from 'close-with-grace';
import { loadConfig, ConfigError } from './config';
import { createLogger } from './platform/logger';
import { startRuntime } from './runtime';
import { buildApp, type Lifecycle } from './app';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel });
  const runtime = await startRuntime(config, logger);
  const lifecycle: Lifecycle = { draining: false };
  const app = await buildApp({ config, logger, lifecycle, ...runtime });

  closeWithGrace({ delay: 30_000, logger }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'closing after an error');
    logger.info({ signal }, 'shutting down: draining calls');
    lifecycle.draining = true;
    await app.close();
    await runtime.close();
  });

  await app.listen({ port: config.port, host: config.host });
  const base = `http://127.0.0.1:${config.port}`;
  logger.info(
    {
      url: base,
      dashboard: `${base}/dashboard`,
      demoMode: config.demoMode,
      embeddedDb: runtime.embedded,
      sessions: runtime.sessions.backend,
    },
    'Bayline is listening',
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
