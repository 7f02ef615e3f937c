import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const FAST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** Greeting: the aim is 50 ms (DESIGN.md § Performance), the usual case one or two ticks. */
const GREETING_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Barge-in: speech must last 800 ms to interrupt, `clear` must go by 1.5 s (CONTRACT.md). */
const BARGE_IN_BUCKETS = [0.8, 0.85, 0.9, 1, 1.1, 1.25, 1.5, 2, 3, 5];
/** Outbound pacing: most messages leave within a few ms of due; past 60 ms a frame counts as late. */
const PACING_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.04, 0.06, 0.1, 0.25, 1];
const TURN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5];

/** One registry per app instance, so tests can build many apps in one process. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    activeCalls: new Gauge({
      name: 'bayline_active_calls',
      help: 'Calls in progress',
      registers: [registry],
    }),
    turnLatency: new Histogram({
      name: 'bayline_turn_latency_seconds',
      help: 'Turn latency by stage',
      labelNames: ['stage'] as const,
      buckets: TURN_BUCKETS,
      registers: [registry],
    }),
    greeting: new Histogram({
      name: 'bayline_greeting_seconds',
      help: 'Stream start received to the first greeting audio sent to Twilio',
      buckets: GREETING_BUCKETS,
      registers: [registry],
    }),
    pacingLateness: new Histogram({
      name: 'bayline_pacing_lateness_seconds',
      help: "Outbound media messages: send time minus due time (when Twilio's buffer would fall to the pacer lead)",
      buckets: PACING_BUCKETS,
      registers: [registry],
    }),
    bargeIns: new Counter({
      name: 'bayline_barge_ins_total',
      help: 'Caller interruptions',
      registers: [registry],
    }),
    bargeInLatency: new Histogram({
      name: 'bayline_barge_in_seconds',
      help: 'Caller speech onset to the clear sent to Twilio, on the caller audio timeline',
      buckets: BARGE_IN_BUCKETS,
      registers: [registry],
    }),
    providerErrors: new Counter({
      name: 'bayline_provider_errors_total',
      help: 'Provider errors',
      labelNames: ['provider', 'kind'] as const,
      registers: [registry],
    }),
    providerFailovers: new Counter({
      name: 'bayline_provider_failovers_total',
      help: 'Switches to a fallback provider',
      labelNames: ['kind', 'from', 'to'] as const,
      registers: [registry],
    }),
    toolCalls: new Counter({
      name: 'bayline_tool_calls_total',
      help: 'Tool calls by tool and result',
      labelNames: ['tool', 'result'] as const,
      registers: [registry],
    }),
    customerCache: new Counter({
      name: 'bayline_customer_cache_requests_total',
      help: 'Customer cache lookups',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    redisLatency: new Histogram({
      name: 'bayline_redis_latency_seconds',
      help: 'Redis command latency',
      labelNames: ['op'] as const,
      buckets: FAST_BUCKETS,
      registers: [registry],
    }),
    dbLatency: new Histogram({
      name: 'bayline_db_latency_seconds',
      help: 'PostgreSQL query latency',
      buckets: FAST_BUCKETS,
      registers: [registry],
    }),
    sessionWritesQueued: new Counter({
      name: 'bayline_session_writes_queued_total',
      help: 'Session writes of live calls queued in process while Redis was unavailable, by operation',
      labelNames: ['op'] as const,
      registers: [registry],
    }),
    sessionWritesReplayed: new Counter({
      name: 'bayline_session_writes_replayed_total',
      help: 'Queued session writes replayed to Redis once it answered, by operation',
      labelNames: ['op'] as const,
      registers: [registry],
    }),
    sessionWritesDropped: new Counter({
      name: 'bayline_session_writes_dropped_total',
      help: 'Queued session writes given up, by operation and reason (call_cap, calls_cap, call_ended, lock_released, expired, rejected, closed)',
      labelNames: ['op', 'reason'] as const,
      registers: [registry],
    }),
    sessionWriteQueueCalls: new Gauge({
      name: 'bayline_session_write_queue_calls',
      help: 'Calls with session writes queued for replay',
      registers: [registry],
    }),
    callHandoffs: new Counter({
      name: 'bayline_call_handoffs_total',
      help: 'Media streams that reached a cluster worker other than the ringing one, by claim result',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    mediaFrames: new Counter({
      name: 'bayline_media_frames_total',
      help: 'Media stream messages by direction and result',
      labelNames: ['direction', 'result'] as const,
      registers: [registry],
    }),
    mallocTrims: new Counter({
      name: 'bayline_malloc_trims_total',
      help: 'Idle malloc_trim runs, by whether memory went back to the system',
      labelNames: ['released'] as const,
      registers: [registry],
    }),
    mallocTrimmedBytes: new Counter({
      name: 'bayline_malloc_trim_released_bytes_total',
      help: 'RSS given back to the system by idle malloc_trim runs',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
