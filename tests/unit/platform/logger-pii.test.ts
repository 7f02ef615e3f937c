import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { ProviderError } from '../../../server/platform/errors';
import { createLogger, maskPhoneNumbers } from '../../../server/platform/logger';

/** A logger writing JSON lines into an array. */
function capture(): {
  log: ReturnType<typeof createLogger>;
  lines: () => Array<Record<string, unknown>>;
  text: () => string;
} {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  const log = createLogger({ level: 'debug', destination });
  const text = () => chunks.join('');
  const lines = () =>
    text()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, lines, text };
}

/** What Twilio answers for a bad 'To' (21211), as the SDK's RestException carries it. */
function twilioException(): Error {
  return Object.assign(new Error("The 'To' number +13125550142 is not a valid phone number."), {
    status: 400,
    code: 21211,
    moreInfo: 'https://www.twilio.com/docs/errors/21211',
    details: { to: '+13125550142', note: 'called 312-555-0142' },
  });
}

describe('logger: phone numbers in errors', () => {
  it('masks a number in a cause, which pino folds into message and stack', () => {
    const { log, lines, text } = capture();
    const err = new ProviderError('twilio', 'sms send failed (status 400)', {
      status: 400,
      cause: twilioException(),
    });
    log.warn({ err }, 'twilio request failed');
    expect(text()).not.toContain('5550142');
    const logged = lines()[0]?.err as Record<string, unknown>;
    expect(logged.message).toBe(
      "sms send failed (status 400): The 'To' number [phone] is not a valid phone number.",
    );
    expect(logged.stack).toContain("caused by: Error: The 'To' number [phone] is not a valid");
    expect(logged).toMatchObject({
      type: 'ProviderError',
      code: 'PROVIDER_ERROR',
      status: 400,
      provider: 'twilio',
    });
  });

  it('masks nested fields and aggregated errors, without touching the error itself', () => {
    const { log, text } = capture();
    const inner = twilioException();
    const aggregate = new AggregateError(
      [inner, new Error('To number: +1 312 555 0199, is not a mobile number')],
      'both failed',
    );
    log.error({ err: inner }, 'one');
    log.error({ err: aggregate }, 'two');
    expect(text()).not.toMatch(/555.?01(42|99)/);
    expect(text()).toContain('"moreInfo":"https://www.twilio.com/docs/errors/21211"');
    expect(inner.message).toContain('+13125550142');
    expect((inner as unknown as { details: { note: string } }).details.note).toBe('called 312-555-0142');
  });

  it('masks the plain { message } objects the call path logs as err, in child loggers too', () => {
    const { log, text } = capture();
    log
      .child({ callSid: 'CA' + '1'.repeat(32) })
      .warn({ err: { message: 'no route to 3125550142' } }, 'stt error');
    expect(text()).not.toContain('3125550142');
    expect(text()).toContain('"callSid":"CA' + '1'.repeat(32) + '"');
  });

  it('masks an error logged without a message (err.message becomes msg)', () => {
    const { log, lines } = capture();
    log.warn(twilioException());
    const line = lines()[0];
    expect(line?.msg).toBe("The 'To' number [phone] is not a valid phone number.");
    expect(JSON.stringify(line)).not.toContain('5550142');
  });

  it("covers fastify's request logger, which keeps the given instance's err serializer", async () => {
    const { log, text } = capture();
    const app = Fastify({ loggerInstance: log as FastifyBaseLogger });
    app.get('/boom', async () => {
      throw new Error('lookup failed for +13125550142');
    });
    const res = await app.inject('/boom');
    await app.close();
    expect(res.statusCode).toBe(500);
    expect(text()).toContain('lookup failed for [phone]');
    expect(text()).not.toContain('5550142');
  });

  it.each([
    ['+13125550142', '[phone]'],
    ['call +44 20 7946 0958 now', 'call [phone] now'],
    ['(312) 555-0142.', '[phone].'],
    ['312-555-0142', '[phone]'],
    ['312.555.0142', '[phone]'],
    ['1-312-555-0142', '[phone]'],
    ['number:3125550142,', 'number:[phone],'],
    ['To=%2B13125550142&From=%2b13125550100', 'To=[phone]&From=[phone]'],
    ['dial 555-0142', 'dial [phone]'],
    ['3125550142 3125550199', '[phone]'],
  ])('masks %j', (input, masked) => {
    expect(maskPhoneNumbers(input)).toBe(masked);
  });

  it.each([
    'connect ECONNREFUSED 127.0.0.1:5432',
    'connect ETIMEDOUT 192.168.100.200:443',
    'slot 2026-11-24T09:00 is taken',
    'slot 2026-11-24 09:00 is taken',
    'Timed out after 10000 ms',
    'call CA0123456789012345678901234567890a not found',
    'appointment 123e4567-e89b-12d3-a456-426614174000 not found',
    'https://www.twilio.com/docs/errors/21211',
    'at Db.query (/work/main/server/platform/postgres.ts:33:15)',
    'sms send failed (status 400, twilio 21211)',
  ])('leaves %j alone', (input) => {
    expect(maskPhoneNumbers(input)).toBe(input);
  });
});
