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
      const status =
        typeof (err as { status?: unknown }).status === 'number'
          ? (err as { status: number }).status
          : undefined;
      const mapped = new ProviderError(
        PROVIDER,
        status === undefined ? message : `${message} (status ${status})`,
        {
          status,
          cause: err,
        },
      );
      this.#log.warn({ ...fields, status, err: mapped }, 'twilio request failed');
      throw mapped;
    }
  }
}
