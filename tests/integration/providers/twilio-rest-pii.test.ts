/**
 * Twilio's error texts quote the number they refused. TwilioRest talks to a local server that
 * answers as api.twilio.com does for a bad 'To' (21211), and nothing of the number may reach the
 * log or the thrown error; Twilio's code, status and docs link must.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { ProviderError } from '../../../server/platform/errors';
import { createLogger } from '../../../server/platform/logger';
import { TwilioRest } from '../../../server/providers/twilio';

const ACCOUNT = 'AC' + '0'.repeat(32);
const CALLER = '+13125550142';

describe('TwilioRest errors carry no phone number', () => {
  let server: http.Server;
  let baseUrl = '';
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            code: 21211,
            message: `The 'To' number ${CALLER} is not a valid phone number.`,
            more_info: 'https://www.twilio.com/docs/errors/21211',
            status: 400,
          }),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('logs and throws Twilio code, status and docs link, never its text', async () => {
    const chunks: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, cb) {
        chunks.push(String(chunk));
        cb();
      },
    });
    const rest = new TwilioRest({
      accountSid: ACCOUNT,
      authToken: 'x',
      apiBaseUrl: baseUrl,
      logger: createLogger({ level: 'info', destination }),
    });
    const err = (await rest
      .sendSms(CALLER, '+13125550100', 'hi')
      .catch((e: unknown) => e)) as ProviderError & {
      twilioCode?: number;
      moreInfo?: string;
    };
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({
      provider: 'twilio',
      status: 400,
      retryable: false,
      twilioCode: 21211,
      moreInfo: 'https://www.twilio.com/docs/errors/21211',
    });
    expect(err.message).toBe('sms send failed (status 400, twilio 21211)');
    expect(err.cause).toBeUndefined();

    const log = chunks.join('');
    expect(log).not.toContain('5550142');
    const line = JSON.parse(log.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    expect(line).toMatchObject({
      msg: 'twilio request failed',
      provider: 'twilio',
      status: 400,
      twilioCode: 21211,
      moreInfo: 'https://www.twilio.com/docs/errors/21211',
      err: { message: 'sms send failed (status 400, twilio 21211)', twilioCode: 21211 },
    });
  });
});
