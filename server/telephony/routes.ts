import { parse as parseQuery } from 'node:querystring';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/websocket';
import { greetingText, UNKNOWN_DEALERSHIP_NAME } from '../conversation/phrases';
import { maskPhone, normalizePhone } from '../platform/phone';
import { within } from '../platform/within';
import { SignatureCheck, signatureError } from './signature';
import { answerTwiml, apologyTwiml } from './twiml';
import { MediaStreamConnection } from './media-stream';
import type { VoiceDeps } from './voice-deps';

const OVERFLOW_MESSAGE =
  'Thanks for calling. All of our lines are busy right now; please hold while we connect you to a service advisor.';
const HANDOFF_MESSAGE = 'Thanks for calling. Please hold while we connect you to a service advisor.';
/**
 * How long ring time waits for the dealership's name. Once loaded it answers at once (served
 * stale while it refreshes), so this only bounds a cold start against an unreachable Postgres.
 */
const DEALERSHIP_WAIT_MS = 1500;
/** At start the routes load the dealership once, so a later Postgres outage finds it in memory. */
const DEALERSHIP_WARM_MS = 3000;
const WS_MAX_PAYLOAD = 64 * 1024;

type Form = Record<string, string>;

function form(req: FastifyRequest): Form {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const out: Form = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** Twilio's webhooks and the media-stream socket. Every entry point checks Twilio's signature first. */
export async function telephonyRoutes(app: FastifyInstance, d: VoiceDeps): Promise<void> {
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 32 * 1024 },
    (_req, body, done) => {
      done(null, parseQuery(body as string));
    },
  );

  await within(d.dealership(), DEALERSHIP_WARM_MS).catch((err: unknown) => {
    d.log.warn({ err }, 'dealership not loaded at start; calls greet without its name until it is');
  });

  const verify = (req: FastifyRequest, reply: FastifyReply): boolean => {
    const check = d.verifier.webhook(req.headers['x-twilio-signature'], req.url, form(req));
    if (check === SignatureCheck.Ok) return true;
    const err = signatureError(check);
    void reply
      .code(err?.statusCode ?? 403)
      .send({ error: { code: err?.code ?? 'FORBIDDEN', message: 'Invalid Twilio signature' } });
    return false;
  };

  /** Looks the caller up, prepares the call (greeting, STT socket, session, record) and answers it. */
  const answer = async (callSid: string, p: Form): Promise<string> => {
    let fromE164: string | null = null;
    try {
      fromE164 = p.From ? normalizePhone(p.From) : null;
    } catch {
      fromE164 = null; // withheld or non-numeric caller ID: a new caller
    }
    const [customer, dealershipName] = await Promise.all([
      fromE164
        ? d.customers.lookupByIndex(d.customers.phoneIndex(fromE164)).catch((err: unknown) => {
            d.log.warn({ err, callSid }, 'caller lookup failed; treating as new caller');
            return null;
          })
        : null,
      within(d.dealership(), DEALERSHIP_WAIT_MS).then(
        (dealership) => dealership.name,
        (err: unknown) => {
          d.log.warn({ err, callSid }, 'dealership unavailable; greeting without its name');
          return UNKNOWN_DEALERSHIP_NAME;
        },
      ),
    ]);
    const text = greetingText(dealershipName, customer?.firstName ?? null);
    let toE164: string | null = null;
    try {
      toE164 = p.To ? normalizePhone(p.To) : null;
    } catch {
      toE164 = null;
    }
    // Synthesis starts now, while Twilio is still opening the stream.
    const greetingAudio = d.phrases.get(text);
    // The stream lives as long as the call; it is closed explicitly when the call ends. A failed
    // open is dealt with when the media stream starts (retried, or the caller is handed to a
    // person); until then it must not count as an unhandled rejection, which would end the process.
    // In a cluster the media stream often lands on another worker, which cannot use a socket
    // opened here: it opens its own, holding the caller's audio meanwhile (stt-link.ts).
    const stt = d.cluster ? null : d.stt.open({ signal: new AbortController().signal, callSid });
    stt?.catch(() => undefined);
    // Registered at once: from here a failure's release() closes the socket along with the slot.
    d.registry.prepare({
      callSid,
      fromE164,
      toE164,
      customer,
      greetingText: text,
      greetingAudio,
      stt,
      admittedAt: Date.now(),
    });
    await Promise.all([
      d.sessions
        .create({ callSid, customerId: customer?.id ?? '', state: 'ringing', owner: d.instanceId })
        .catch((err: unknown) => {
          d.log.error({ err, callSid }, 'session not created');
        }),
      d.calls
        .start({
          callSid,
          fromE164,
          fromMasked: fromE164 ? maskPhone(fromE164) : null,
          customerId: customer?.id ?? null,
        })
        .catch((err: unknown) => d.log.error({ err, callSid }, 'call record not created')),
    ]);
    return answerTwiml({
      streamUrl: d.verifier.urls.media,
      parameters: { callSid, known: customer ? 'yes' : 'no' },
    });
  };

  app.post('/twilio/voice', async (req, reply) => {
    if (!verify(req, reply)) return reply;
    const p = form(req);
    const callSid = p.CallSid ?? '';
    if (!/^CA[0-9a-zA-Z]{10,62}$/.test(callSid)) {
      return reply
        .code(400)
        .send({ error: { code: 'INVALID_CALL_SID', message: 'CallSid is missing or malformed' } });
    }
    reply.type('text/xml');
    if (d.isDraining() || !d.registry.admit(callSid)) {
      d.log.warn(
        { callSid, active: d.registry.active, draining: d.isDraining() },
        'call not admitted: overflow to desk',
      );
      return apologyTwiml({ message: OVERFLOW_MESSAGE, dialNumber: d.transferNumber });
    }
    // The slot is taken: whatever fails from here, the caller is answered and the slot given back.
    try {
      return await answer(callSid, p);
    } catch (err) {
      d.registry.release(callSid);
      d.log.error({ err, callSid }, 'call not prepared: handing the caller to the desk');
      return apologyTwiml({ message: HANDOFF_MESSAGE, dialNumber: d.transferNumber });
    }
  });

  app.post('/twilio/status', async (req, reply) => {
    if (!verify(req, reply)) return reply;
    const p = form(req);
    const callSid = p.CallSid ?? '';
    const status = p.CallStatus ?? '';
    if (
      /^CA[0-9a-zA-Z]{10,62}$/.test(callSid) &&
      ['completed', 'busy', 'failed', 'no-answer', 'canceled'].includes(status)
    ) {
      // Only closes a call no stream holds: one whose stream never came (the caller hung up during
      // ring, say) or has ended. This callback and the stream's `stop` come in either order; a
      // stream still holding the call (here or on another instance) writes the record, with its
      // turns, when it ends. Redis down: only this instance's streams are known.
      const streaming = await d.sessions.isLocked(callSid).catch(() => d.registry.isStreaming(callSid));
      if (!streaming) {
        await d.calls
          .finish({
            callSid,
            streamSid: null,
            outcome: 'abandoned',
            customerId: null,
            turns: [],
            latency: [],
          })
          .catch(() => false);
        d.registry.release(callSid);
      }
    }
    return reply.code(204).send();
  });

  app.get(
    '/twilio/media',
    {
      websocket: true,
      preValidation: async (req, reply) => {
        const check = d.verifier.upgrade(req.headers['x-twilio-signature']);
        if (check !== SignatureCheck.Ok) {
          d.log.warn({ check }, 'media stream upgrade refused');
          return reply.code(403).send({ error: { code: 'FORBIDDEN', message: 'Invalid Twilio signature' } });
        }
      },
    },
    (socket) => {
      new MediaStreamConnection(socket, d);
    },
  );
}

export const WEBSOCKET_OPTIONS = { options: { maxPayload: WS_MAX_PAYLOAD } } as const;
