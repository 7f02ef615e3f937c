import twilio from 'twilio';
import { ProviderError } from '../../../server/platform/errors';
import { TwilioRestEmulator } from '../../../server/providers/emulators';
import { TwilioRest } from '../../../server/providers/twilio';
import { quietLogger } from './support';

const ACCOUNT = 'AC' + 'a'.repeat(32);
const TOKEN = 'twilio-test-token';
const CALL = 'CA' + 'b'.repeat(32);

describe('TwilioRest against the Twilio REST emulator', () => {
  const emu = new TwilioRestEmulator({ accountSid: ACCOUNT, authToken: TOKEN });
  let baseUrl = '';
  const rest = (authToken = TOKEN) =>
    new TwilioRest({ accountSid: ACCOUNT, authToken, apiBaseUrl: baseUrl, logger: quietLogger });

  beforeAll(async () => {
    baseUrl = (await emu.start()).url;
  });
  afterAll(() => emu.close());
  beforeEach(() => {
    emu.requests.clear();
    emu.calls.clear();
    emu.faults.clear();
  });

  it('updateCallTwiml posts the TwiML to the call resource with Basic auth', async () => {
    const vr = new twilio.twiml.VoiceResponse();
    vr.dial('+13125550100');
    const twiml = vr.toString();
    await rest().updateCallTwiml(CALL, twiml);
    expect(emu.requests.all).toEqual([
      {
        method: 'POST',
        path: `/2010-04-01/Accounts/${ACCOUNT}/Calls/${CALL}.json`,
        accountSid: ACCOUNT,
        resource: 'call',
        callSid: CALL,
        form: {
          Twiml: '<?xml version="1.0" encoding="UTF-8"?><Response><Dial>+13125550100</Dial></Response>',
        },
      },
    ]);
  });

  it('completeCall sends Status=completed, after which the call can no longer be redirected', async () => {
    await rest().completeCall(CALL);
    expect(emu.requests.last?.form).toEqual({ Status: 'completed' });
    expect(emu.calls.get(CALL)).toBe('completed');
    const err = await rest()
      .updateCallTwiml(CALL, '<Response><Hangup/></Response>')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).status).toBe(400);
    expect((err as ProviderError).retryable).toBe(false);
  });

  it('sendSms creates a message and returns its SID', async () => {
    const { sid } = await rest().sendSms('+13125550142', '+13125550100', 'Your booking is confirmed');
    expect(sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(emu.requests.last).toMatchObject({
      resource: 'message',
      form: { To: '+13125550142', From: '+13125550100', Body: 'Your booking is confirmed' },
    });
  });

  it('maps a wrong auth token to a non-retryable 401 and a 503 to a retryable error', async () => {
    const denied = await rest('wrong-token')
      .completeCall(CALL)
      .catch((e: unknown) => e);
    expect((denied as ProviderError).status).toBe(401);
    expect((denied as ProviderError).retryable).toBe(false);

    emu.fail({ kind: 'status', status: 503 });
    const busy = await rest()
      .completeCall(CALL)
      .catch((e: unknown) => e);
    expect((busy as ProviderError).status).toBe(503);
    expect((busy as ProviderError).retryable).toBe(true);
    expect(emu.requests.all).toHaveLength(0); // no silent SDK retry
  });

  it('refuses an account SID that does not start with AC', () => {
    expect(
      () =>
        new TwilioRest({ accountSid: 'XX123', authToken: TOKEN, apiBaseUrl: baseUrl, logger: quietLogger }),
    ).toThrow(ProviderError);
  });
});
