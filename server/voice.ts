/**
 * Composes the phone agent from the runtime's stores and the configured providers. Used by
 * main.ts and by the e2e tests, so both run the same wiring.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from './config';
import type { Logger } from './platform/logger';
import type { Runtime } from './runtime';
import { BookingService, loadDealership, type Dealership } from './bookings';
import { CustomerRepository } from './customers';
import { CallRepository } from './calls';
import { PhraseCache } from './conversation/phrases';
import type { DealershipFacts } from './conversation/prompts';
import type { ToolAction, ToolRunner } from './conversation/ports';
import { TOOL_SPECS } from './conversation/tools/definitions';
import { ToolExecutor } from './conversation/tools/executor';
import { ConfirmationSms, SMS_TOOL } from './conversation/tools/sms';
import type { LlmProvider, SttProvider, TtsProvider } from './providers/types';
import { CallRegistry } from './telephony/call-registry';
import { TwilioSignatureVerifier } from './telephony/signature';
import type { ClusterLink } from './telephony/handoff';
import type { TelephonyRest, VoiceDeps } from './telephony/voice-deps';

export interface VoiceProviders {
  stt: SttProvider;
  llm: LlmProvider;
  tts: TtsProvider;
  rest: TelephonyRest;
}

export function toFacts(d: Dealership): DealershipFacts {
  const hours: Record<string, readonly string[] | null> = {};
  for (const [day, h] of Object.entries(d.hours)) hours[day] = h ? [h.open, h.close] : null;
  return {
    name: d.name,
    address: d.address,
    timezone: d.timezone,
    hours,
    services: d.services
      .filter((s) => s.active)
      .map((s) => ({ code: s.code, name: s.name, minutes: s.durationMinutes, priceCents: s.priceCents })),
  };
}

/**
 * DEALERSHIP_TIMEZONE holds over the dealership row's zone: say so at start when they differ, so
 * an environment copied from elsewhere cannot shift every slot by an hour unnoticed.
 */
export async function warnOnZoneMismatch(
  zone: string | undefined,
  db: Runtime['db'],
  logger: Pick<Logger, 'warn'>,
): Promise<void> {
  if (!zone) return;
  await loadDealership(db).then(
    (d) => {
      if (d.timezone !== zone)
        logger.warn(
          { dealershipRow: d.timezone, DEALERSHIP_TIMEZONE: zone },
          'DEALERSHIP_TIMEZONE differs from the dealership row; DEALERSHIP_TIMEZONE holds',
        );
    },
    () => undefined,
  );
}

export function createVoice(opts: {
  config: Config;
  logger: Logger;
  runtime: Pick<Runtime, 'db' | 'cipher' | 'sessions' | 'customers' | 'metrics'>;
  providers: VoiceProviders;
  lifecycle: { draining: boolean };
  now?: () => Date;
  /** Set in a cluster worker: rings are announced, streams of other workers' rings claimed. */
  cluster?: ClusterLink | null;
  /** Told each time this process's count of live calls changes. */
  onCalls?: (active: number) => void;
}): { deps: VoiceDeps; bookings: BookingService; phrases: PhraseCache; registry: CallRegistry } {
  const { config, logger, runtime, providers } = opts;
  const bookings = new BookingService({
    db: runtime.db,
    cipher: runtime.cipher,
    customers: runtime.customers,
    customerRepo: new CustomerRepository(runtime.db, runtime.cipher),
    timezone: config.timezone,
    ...(opts.now ? { now: opts.now } : {}),
  });
  void warnOnZoneMismatch(config.timezone, runtime.db, logger);
  const phrases = new PhraseCache(providers.tts);
  const cluster = opts.cluster ?? null;
  const registry = new CallRegistry({
    // Our cluster's workers count each other's calls against the whole server's limit. Without
    // that channel (another process manager's cluster), each admits an even share.
    maxConcurrentCalls: cluster
      ? config.maxConcurrentCalls
      : Math.ceil(config.maxConcurrentCalls / config.workers),
    onChange: (n) => {
      runtime.metrics.activeCalls.set(n);
      opts.onCalls?.(n);
    },
    ...(cluster ? { peers: cluster } : {}),
  });
  cluster?.serve(registry);
  const deps: VoiceDeps = {
    log: logger,
    metrics: runtime.metrics,
    sessions: runtime.sessions,
    customers: runtime.customers,
    calls: new CallRepository(runtime.db, runtime.cipher),
    registry,
    verifier: new TwilioSignatureVerifier(config.twilio.authToken, config.publicBaseUrl),
    stt: providers.stt,
    llm: providers.llm,
    tts: providers.tts,
    phrases,
    rest: providers.rest,
    transferNumber: config.twilio.transferNumber,
    instanceId: `${process.pid}-${randomBytes(3).toString('hex')}`,
    sessionTtlMs: config.sessionTtlSeconds * 1000,
    dealership: async () => toFacts(await bookings.dealership()),
    tools: (ctx) => {
      let action: ToolAction | undefined;
      const executor = new ToolExecutor({
        bookings,
        callSid: ctx.callSid,
        callerPhone: ctx.callerPhone ?? '',
        getCustomer: ctx.getCustomer,
        setCustomer: ctx.setCustomer,
        onAction: (a) => {
          action = a;
        },
      });
      const sms = new ConfirmationSms({
        bookings,
        sms: providers.rest,
        dealershipName: async () => (await bookings.dealership()).name,
        callerPhone: ctx.callerPhone,
        dealershipNumber: ctx.dealershipNumber,
        getCustomer: ctx.getCustomer,
      });
      const runner: ToolRunner = {
        specs: [...TOOL_SPECS, SMS_TOOL],
        async execute(name, argsJson, turn) {
          if (name === SMS_TOOL.function.name) return { result: await sms.send(argsJson) };
          action = undefined;
          const r = await executor.execute(name, argsJson, turn);
          return action ? { ...r, action } : r;
        },
      };
      return runner;
    },
    isDraining: () => opts.lifecycle.draining,
    ...(cluster ? { cluster } : {}),
  };
  return { deps, bookings, phrases, registry };
}
