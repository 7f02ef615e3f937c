/**
 * The three Twilio REST actions the product takes mid-call, behind the real SDK. twilio-node has no
 * base-URL option, so `client.api.baseUrl` is set (PROTOCOLS.md §1.7); everything under `api.v2010`
 * (calls, messages) then goes there.
 */
import twilio from 'twilio';
import { ProviderError } from '../../platform/errors';
import type { Logger } from '../../platform/logger';

export interface TwilioRestOptions {
  /** Must start with `AC` (the SDK throws otherwise). */
  accountSid: string;
  authToken: string;
  /** `https://api.twilio.com`, or an emulator. */
  apiBaseUrl: string;
  logger: Logger;
  /** Per-request timeout. */
  timeoutMs?: number;
}

const PROVIDER = 'twilio';

export class TwilioRest {
  readonly #client: twilio.Twilio;
  readonly #log: Logger;

  constructor(opts: TwilioRestOptions) {
    if (!opts.accountSid.startsWith('AC'))
      throw new ProviderError(PROVIDER, 'account SID must start with AC', { retryable: false });
    this.#log = opts.logger.child({ provider: PROVIDER });
    // Retries belong to the caller: a repeated call update can double-transfer a caller.
    this.#client = twilio(opts.accountSid, opts.authToken, {
      autoRetry: false,
      maxRetries: 0,
      timeout: opts.timeoutMs ?? 10_000,
    });
    this.#client.api.baseUrl = opts.apiBaseUrl.replace(/\/+$/, '');
  }

  /** Replaces the live call's TwiML (e.g. `<Response><Dial>…</Dial></Response>` to transfer). */
  async updateCallTwiml(callSid: string, twiml: string): Promise<void> {
    await this.#call('call update failed', { callSid }, () => this.#client.calls(callSid).update({ twiml }));
  }

  /** Hangs up an answered call. */
  async completeCall(callSid: string): Promise<void> {
    await this.#call('call completion failed', { callSid }, () =>
      this.#client.calls(callSid).update({ status: 'completed' }),
    );
  }

  /** Returns the message SID. */
  async sendSms(to: string, from: string, body: string): Promise<{ sid: string }> {
    const message = await this.#call('sms send failed', {}, () =>
      this.#client.messages.create({ to, from, body }),
    );
    return { sid: message.sid };
  }

  async #call<T>(message: string, fields: Record<string, string>, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (err) {
      const { status, twilioCode, moreInfo } = twilioFailure(err);
      const mapped = new TwilioRestError(message, {
        status,
        twilioCode,
        moreInfo,
        // A request Twilio answered keeps only its code: the text often quotes the number refused
        // ("The 'To' number +1… is not a valid phone number"). One it never answered keeps the
        // network error (refused, timed out), which carries no caller data and explains the failure.
        ...(status === undefined ? { cause: err } : {}),
      });
      this.#log.warn({ ...fields, status, twilioCode, moreInfo, err: mapped }, 'twilio request failed');
      throw mapped;
    }
  }
}

/** A failed Twilio request, with Twilio's numeric error code and docs link as fields. */
export class TwilioRestError extends ProviderError {
  /** Twilio's error code, e.g. 21211 (invalid 'To' number), 21614 (not a mobile number). */
  readonly twilioCode: number | undefined;
  readonly moreInfo: string | undefined;

  constructor(
    message: string,
    opts: { status?: number; twilioCode?: number; moreInfo?: string; cause?: unknown },
  ) {
    const detail = [
      ...(opts.status === undefined ? [] : [`status ${opts.status}`]),
      ...(opts.twilioCode === undefined ? [] : [`twilio ${opts.twilioCode}`]),
    ].join(', ');
    super(PROVIDER, detail === '' ? message : `${message} (${detail})`, {
      status: opts.status,
      cause: opts.cause,
    });
    this.twilioCode = opts.twilioCode;
    this.moreInfo = opts.moreInfo;
  }
}

/** The structured part of what the SDK threw (its RestException): never the free text. */
function twilioFailure(err: unknown): {
  status: number | undefined;
  twilioCode: number | undefined;
  moreInfo: string | undefined;
} {
  const e = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>;
  return {
    status: typeof e.status === 'number' ? e.status : undefined,
    twilioCode: typeof e.code === 'number' ? e.code : undefined,
    moreInfo: typeof e.moreInfo === 'string' ? e.moreInfo : undefined,
  };
}
