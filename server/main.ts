/**
 * The entry point: reads config, then runs the server in this process (serve.ts) or, with
 * WORKERS > 1, as a cluster primary that forks one server process per worker. The primary loads
 * none of the server's modules (the SDKs alone are ≈ 100 MB of RSS).
 */
import cluster from 'node:cluster';
import { loadConfig, ConfigError, type Config } from './config';
import { createLogger } from './platform/logger';
import { runPrimary } from './platform/cluster';
import { DATA_DIR, loadOrCreateDevKeys } from './platform/dev-keys';
import { ClusterLink } from './telephony/handoff';

/** The workers' own drain (25 s) and close (5 s), with room to spare. */
const WORKERS_STOP_TIMEOUT_MS = 40_000;

async function main(): Promise<void> {
  let config: Config;
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
  if (config.workers > 1 && cluster.isPrimary) {
    if (!config.piiKeys) {
      // Demo keys are created on first use: once, here, not by each worker at the same time.
      await loadOrCreateDevKeys(DATA_DIR);
    }
    runPrimary({ workers: config.workers, logger, drainTimeoutMs: WORKERS_STOP_TIMEOUT_MS });
    return;
  }
  // Loaded here, not at the top: the primary never needs it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { serve } = require('./serve') as typeof import('./serve');
  // Forked by our primary (it passes WORKERS on). Under another cluster master (PM2's, say), no one
  // answers claims or metric requests: each process then serves alone, as separate instances do.
  if (cluster.isWorker && config.workers > 1) {
    const link = new ClusterLink({
      send: (msg: object) => process.send?.(msg),
      on: (event: 'message', fn: (msg: unknown) => void) => process.on(event, fn),
    });
    await serve(config, logger.child({ worker: cluster.worker?.id }), link);
  } else {
    await serve(config, logger, null);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
