/**
 * Twilio REST emulator for the calls the product makes mid-call (PROTOCOLS.md §1.7): call updates
 * (`Twiml=`, `Url=`, `Status=completed`) and SMS. Basic auth is checked, bodies are form-encoded,
 * answers are JSON the twilio SDK parses, errors use Twilio's `{code, message, more_info, status}`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FaultQueue, Recorder, StandaloneEmulator, readBody, sendJson, type Fault } from './http';

export interface TwilioRequestRecord {
  method: string;
  path: string;
  accountSid: string;
  resource: 'call' | 'message';
  callSid: string | undefined;
  form: Record<string, string>;
}

export interface TwilioRestEmulatorOptions {
  /** When both are set, Basic auth must match them; otherwise any `AC…` user matching the path is accepted. */
  accountSid?: string;
  authToken?: string;
}

const CALL_PATH = /^\/2010-04-01\/Accounts\/(AC[0-9a-zA-Z]+)\/Calls\/(CA[0-9a-zA-Z]+)\.json$/;
const MESSAGES_PATH = /^\/2010-04-01\/Accounts\/(AC[0-9a-zA-Z]+)\/Messages\.json$/;

export class TwilioRestEmulator extends StandaloneEmulator {
  readonly requests = new Recorder<TwilioRequestRecord>();
  /** Only `status` faults apply. */
  readonly faults = new FaultQueue();
  /** Call status by SID; calls the emulator has not seen are taken to be in progress. */
  readonly calls = new Map<string, string>();
  readonly #opts: TwilioRestEmulatorOptions;
  readonly #listeners: Array<(record: TwilioRequestRecord) => void> = [];
  #seq = 0;

  constructor(opts: TwilioRestEmulatorOptions = {}) {
    super();
    this.#opts = opts;
  }

  fail(fault: Fault & { kind: 'status' }, times = 1): void {
    this.faults.inject(fault, times);
  }

  /** Called after each accepted request (e.g. a simulated caller hangs up on `Status=completed`). */
  onRequest(listener: (record: TwilioRequestRecord) => void): void {
    this.#listeners.push(listener);
  }

  baseUrlFor(origin: string): string {
    return origin;
  }

  handleRequest(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    if (!url.pathname.startsWith('/2010-04-01/')) return false;
    this.#serve(req, res, url).catch((err: unknown) =>
      sendJson(res, 500, twilioError(500, 20500, String(err))),
    );
    return true;
  }

  shutdown(): void {
    // Nothing long-lived: every response is immediate.
  }

  async #serve(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const call = CALL_PATH.exec(url.pathname);
    const messages = MESSAGES_PATH.exec(url.pathname);
    const accountSid = call?.[1] ?? messages?.[1];
    if (!accountSid || req.method !== 'POST') {
      sendJson(res, 404, twilioError(404, 20404, `The requested resource ${url.pathname} was not found`));
      return;
    }
    if (!this.#authorised(req, accountSid)) {
      sendJson(res, 401, twilioError(401, 20003, 'Authenticate'));
      return;
    }
    const form = Object.fromEntries(new URLSearchParams((await readBody(req)).toString('utf8')));
    const fault = this.faults.take();
    if (fault?.kind === 'status') {
      sendJson(
        res,
        fault.status,
        twilioError(fault.status, fault.status === 429 ? 20429 : 20500, `emulated ${fault.status}`),
      );
      return;
    }
    const record: TwilioRequestRecord = {
      method: req.method,
      path: url.pathname,
      accountSid,
      resource: call ? 'call' : 'message',
      callSid: call?.[2],
      form,
    };
    const body = call?.[2]
      ? this.#updateCall(accountSid, call[2], form)
      : this.#createMessage(accountSid, form);
    if ('code' in body) {
      sendJson(res, body.status as number, body);
      return;
    }
    this.requests.add(record);
    sendJson(res, call ? 200 : 201, body);
    for (const listener of this.#listeners) listener(record);
  }

  #authorised(req: IncomingMessage, accountSid: string): boolean {
    const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m?.[1]) return false;
    const [user, ...rest] = Buffer.from(m[1], 'base64').toString('utf8').split(':');
    const token = rest.join(':');
    if (this.#opts.accountSid !== undefined && this.#opts.authToken !== undefined) {
      return user === this.#opts.accountSid && token === this.#opts.authToken && accountSid === user;
    }
    return user === accountSid && token.length > 0;
  }

  #updateCall(accountSid: string, callSid: string, form: Record<string, string>): Record<string, unknown> {
    const current = this.calls.get(callSid) ?? 'in-progress';
    if (!form.Twiml && !form.Url && !form.Status) {
      return twilioError(400, 21201, 'No valid update parameter (Twiml, Url or Status) was given');
    }
    if (form.Status && form.Status !== 'completed' && form.Status !== 'canceled') {
      return twilioError(400, 21218, `Invalid call status: ${form.Status}`);
    }
    if (form.Twiml && !/<Response[\s>/]/.test(form.Twiml))
      return twilioError(400, 12100, 'Document parse failure');
    if (current === 'completed' || current === 'canceled') {
      return twilioError(400, 21220, 'Call is not in-progress. Cannot redirect.');
    }
    const status = form.Status ?? current;
    this.calls.set(callSid, status);
    const now = rfc2822(new Date());
    return {
      sid: callSid,
      date_created: now,
      date_updated: now,
      parent_call_sid: null,
      account_sid: accountSid,
      to: '+13125550100',
      to_formatted: '(312) 555-0100',
      from: '+13125550142',
      from_formatted: '(312) 555-0142',
      phone_number_sid: null,
      status,
      start_time: now,
      end_time: status === 'completed' ? now : null,
      duration: status === 'completed' ? '1' : null,
      price: null,
      price_unit: 'USD',
      direction: 'inbound',
      answered_by: null,
      api_version: '2010-04-01',
      forwarded_from: null,
      group_sid: null,
      caller_name: null,
      queue_time: '0',
      trunk_sid: null,
      uri: `/2010-04-01/Accounts/${accountSid}/Calls/${callSid}.json`,
      subresource_uris: {},
    };
  }

  #createMessage(accountSid: string, form: Record<string, string>): Record<string, unknown> {
    if (!form.To || (!form.From && !form.MessagingServiceSid) || !form.Body) {
      return twilioError(400, 21604, "A 'To', 'From' and 'Body' are required");
    }
    const sid = `SM${(++this.#seq).toString(16).padStart(32, '0')}`;
    const now = rfc2822(new Date());
    return {
      sid,
      date_created: now,
      date_updated: now,
      date_sent: null,
      account_sid: accountSid,
      to: form.To,
      from: form.From ?? null,
      messaging_service_sid: form.MessagingServiceSid ?? null,
      body: form.Body,
      status: 'queued',
      num_segments: '1',
      num_media: '0',
      direction: 'outbound-api',
      api_version: '2010-04-01',
      price: null,
      price_unit: 'USD',
      error_code: null,
      error_message: null,
      uri: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`,
      subresource_uris: { media: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}/Media.json` },
    };
  }
}

function twilioError(status: number, code: number, message: string): Record<string, unknown> {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

function rfc2822(d: Date): string {
  return d.toUTCString().replace('GMT', '+0000');
}
