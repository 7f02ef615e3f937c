/**
 * A call's agent bound to its Twilio stream. The conversation knows nothing of Twilio: here its
 * audio and marks go out through a pacer at real time, `clear` empties it, transfer and hang-up
 * go to Twilio's REST API, and its turns, state and a caller it comes to know go to the session.
 */
import type { WebSocket } from 'ws';
import { CallAgent, type AgentTurn } from '../conversation/agent';
import { systemPrompt, type DealershipFacts } from '../conversation/prompts';
import type { CustomerView } from '../customers';
import type { Logger } from '../platform/logger';
import { OutboundEncoder } from './frames';
import { OutboundPacer } from './pacer';
import { transferTwiml } from './twiml';
import type { PreparedCall } from './call-registry';
import type { VoiceDeps } from './voice-deps';

const PACER_LEAD_MS = 180;
/** Audio per outbound media message: half the messages (and write syscalls) of 20 ms ones. */
const OUTBOUND_MESSAGE_MS = 40;

/**
 * Agent audio to the stream's socket at real time. `startAt` is when `start` arrived
 * (performance.now): the greeting's latency runs to its first audio sent.
 */
export function createPacer(
  socket: WebSocket,
  streamSid: string,
  metrics: VoiceDeps['metrics'],
  startAt: number | null,
): OutboundPacer {
  let greetingTimed = false;
  const encoder = new OutboundEncoder(streamSid);
  return new OutboundPacer({
    encoder,
    // 180 ms ahead rides out a garbage-collection pause (the loadtest saw 10–77 ms) without an
    // audible gap; barge-in still cuts at once, since `clear` empties Twilio's buffer.
    leadMs: PACER_LEAD_MS,
    frameMs: OUTBOUND_MESSAGE_MS,
    // Ops see pacing as the load test does (0.16 µs an observation, against ~15 µs for the send).
    onFrame: (latenessMs) => metrics.pacingLateness.observe(latenessMs / 1000),
    send: (json) => {
      if (socket.readyState !== socket.OPEN) return;
      socket.send(json);
      if (!greetingTimed && startAt !== null && json.startsWith('{"event":"media"')) {
        greetingTimed = true;
        metrics.greeting.observe((performance.now() - startAt) / 1000);
      }
    },
  });
}

export interface StreamAgentOptions {
  deps: VoiceDeps;
  log: Logger;
  callSid: string;
  prepared: PreparedCall;
  /** Null when the dealership's facts are unavailable: the agent can then only hand the caller over. */
  dealership: DealershipFacts | null;
  socket: WebSocket;
  pacer: OutboundPacer;
  /** The call's turns, collected for its record. */
  turns: AgentTurn[];
  getCustomer: () => CustomerView | null;
  setCustomer: (c: CustomerView) => void;
  /** `clear` has emptied the pacer: a barge-in's latency ends here. */
  onClear: () => void;
}

/** The call's agent, speaking through `pacer` and acting on the call through Twilio. */
export function createStreamAgent(o: StreamAgentOptions): CallAgent {
  const { deps: d, callSid, pacer, prepared } = o;
  return new CallAgent({
    callSid,
    log: o.log,
    metrics: d.metrics,
    llm: d.llm,
    tts: d.tts,
    phrases: d.phrases,
    tools: d.tools({
      callSid,
      callerPhone: prepared.fromE164,
      dealershipNumber: prepared.toE164,
      getCustomer: o.getCustomer,
      setCustomer: (c) => {
        o.setCustomer(c);
        void d.sessions.update(callSid, { customerId: c.id }).catch(() => undefined);
      },
    }),
    systemPrompt: o.dealership ? systemPrompt(o.dealership, prepared.customer, new Date()) : '',
    output: {
      push: (audio) => pacer.push(audio),
      mark: (name) => pacer.mark(name),
      clear: () => {
        const r = pacer.clear();
        o.onClear();
        return { unplayed: [...r.droppedMarks, ...r.unplayedMarks] };
      },
    },
    control: {
      transfer: async () => {
        await d.rest.updateCallTwiml(callSid, transferTwiml(d.transferNumber));
      },
      hangup: async () => {
        try {
          await d.rest.completeCall(callSid);
        } finally {
          // Closing our side of <Connect><Stream> (the answer's only verb) ends the call too: a
          // failed REST hang-up must not leave the caller in dead air.
          o.socket.close(1000, 'call ended');
        }
      },
    },
    onTurn: (turn) => {
      o.turns.push(turn);
      void d.sessions.appendTurn(callSid, turn).catch(() => undefined);
    },
    onState: (state) => {
      void d.sessions.update(callSid, { state, speaking: state === 'speaking' }).catch(() => undefined);
    },
  });
}
