/** Shared bits of the command-line scripts: config, a quiet logger, a runtime that closes cleanly. */
import { loadConfig, ConfigError, type Config } from '../server/config';
import { createLogger, type Logger } from '../server/platform/logger';
import { startRuntime, type Runtime } from '../server/runtime';

export async function withRuntime<T>(
  fn: (rt: Runtime, config: Config, logger: Logger) => Promise<T>,
  opts: { migrateAndSeed?: boolean } = {},
): Promise<T> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78);
    }
    throw err;
  }
  // Scripts talk on stdout; logs go to stderr so output stays machine-readable.
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn', destination: process.stderr });
  const rt = await startRuntime(config, logger, opts);
  try {
    return await fn(rt, config, logger);
  } finally {
    await rt.close();
  }
}

export function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

export function fail(message: string): never {
  console.error(message);
  process.exit(2);
}
