/**
 * One server process: builds the runtime, the providers, the phone agent and the app, listens,
 * and on SIGTERM (or, in a cluster worker, the primary's drain message) drains live calls and
 * closes everything in reverse. main.ts runs it directly, or in each cluster worker.
 */
import closeWithGrace from 'close-with-grace';
import type { Config } from './config';
import type { Logger } from './platform/logger';
import type { Metrics } from './platform/metrics';
import { exposeWorkerMetrics } from './platform/cluster';
import { startRuntime } from './runtime';
import { buildApp, type Lifecycle } from './app';
import { createProviders, type ProviderUrls } from './providers';
import { createDemoBrain, startEmulators } from './providers/emulators';
import { createVoice } from './voice';
import { DEMO_DEALERSHIP } from './platform/demo-data';
import { IdleTrim, loadNativeTrim } from './platform/malloc-trim';
import { Accounts } from './dashboard/accounts';
import type { ClusterLink } from './telephony/handoff';

const DRAIN_TIMEOUT_MS = 25_000;

/** Demo mode: the same emulators the tests use, on loopback, with the rule-based demo model. */
async function demoProviders(
  config: Config,
  logger: Logger,
): Promise<{ urls: ProviderUrls; close(): Promise<void> }> {
  const emulators = await startEmulators({
    openai: { chat: { handler: createDemoBrain({ timeZone: config.timezone ?? DEMO_DEALERSHIP.timezone }) } },
  });
  logger.warn({ urls: emulators.urls }, 'OPENAI_API_KEY not set: demo mode, providers are local emulators');
  return { urls: emulators.urls, close: () => emulators.close() };
}

function createIdleTrim(config: Config, logger: Logger, metrics: Metrics): IdleTrim {
  const native =
    config.idleTrimSeconds > 0
      ? loadNativeTrim((err) => logger.warn({ err }, 'the malloc_trim addon is built but does not load'))
      : null;
  if (config.idleTrimSeconds > 0 && !native) {
    logger.info(
      'malloc_trim is not available (the addon npm install builds in native/, on glibc): freed memory stays with the allocator when idle',
    );
  }
  return new IdleTrim({
    trim: native && (() => native.trim()),
    delayMs: config.idleTrimSeconds * 1000,
    log: logger,
    metrics: { trims: metrics.mallocTrims, releasedBytes: metrics.mallocTrimmedBytes },
  });
}

async function waitForDrain(active: () => number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (active() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
}

/** `cluster` is set in a cluster worker: its channel to the primary and siblings. */
export async function serve(config: Config, logger: Logger, cluster: ClusterLink | null): Promise<void> {
  const runtime = await startRuntime(config, logger);
  const demo = config.demoMode ? await demoProviders(config, logger) : null;
  const providers = createProviders(config, logger, demo?.urls, runtime.metrics);
  const lifecycle: Lifecycle = { draining: false };
  const idleTrim = createIdleTrim(config, logger, runtime.metrics);
  const voice = createVoice({
    config,
    logger,
    runtime,
    providers,
    lifecycle,
    cluster,
    onCalls: (n) => idleTrim.calls(n),
  });
  if (cluster) exposeWorkerMetrics(runtime.metrics.registry);
  const app = await buildApp({
    config,
    logger,
    lifecycle,
    ...runtime,
    voice: voice.deps,
    ...(cluster ? { clusterMetrics: () => cluster.metrics() } : {}),
  });

  // A worker drains when the primary says so, once. SIGTERM and SIGINT may reach it as well (a
  // systemd control group, a terminal's process group): a second signal would end it mid-call.
  const skip: Array<'SIGTERM' | 'SIGINT'> = cluster ? ['SIGTERM', 'SIGINT'] : [];
  for (const s of skip) process.on(s, () => undefined);
  const closer = closeWithGrace(
    { delay: DRAIN_TIMEOUT_MS + 5_000, logger, skip },
    async ({ signal, err }) => {
      if (err) logger.error({ err }, 'closing after an error');
      logger.info({ signal, activeCalls: voice.registry.active }, 'shutting down: draining calls');
      lifecycle.draining = true;
      await waitForDrain(() => voice.registry.active, DRAIN_TIMEOUT_MS);
      idleTrim.close();
      await app.close();
      voice.registry.close();
      await demo?.close();
      await runtime.close();
    },
  );

  if (cluster) {
    let asked = false;
    const drain = () => {
      if (asked) return;
      asked = true;
      void closer.close();
    };
    cluster.onDrain(drain);
    // The primary is gone (killed): nobody will say when to stop, so stop now, gently.
    process.once('disconnect', drain);
  }

  await app.listen({ port: config.port, host: config.host });
  // Fixed lines are synthesised once, now, so the first caller hears no synthesis delay.
  void voice.phrases.warm();
  // Idle from the start: what start-up allocated and freed goes back too.
  idleTrim.calls(voice.registry.active);
  const base = `http://127.0.0.1:${config.port}`;
  // A fresh install gets one admin with a one-time password (changed at first login). It is shown
  // once, on the terminal, never in the structured log.
  const firstAdmin =
    runtime.embedded || config.demoMode ? await new Accounts(runtime.db).ensureFirstAdmin() : null;
  if (firstAdmin) {
    process.stdout.write(
      `\n  Bayline dashboard: ${base}/dashboard\n  Staff login: ${firstAdmin.email} / ${firstAdmin.password} (one-time; you will choose a new password)\n\n`,
    );
  }
  logger.info(
    {
      url: base,
      dashboard: `${base}/dashboard`,
      twilioVoiceWebhook: `${config.publicBaseUrl}/twilio/voice`,
      demoMode: config.demoMode,
      embeddedDb: runtime.embedded,
      sessions: runtime.sessions.backend,
    },
    'Bayline is listening',
  );
}
