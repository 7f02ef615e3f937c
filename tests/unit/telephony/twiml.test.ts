import twilio from 'twilio';
import {
  answerTwiml,
  apologyTwiml,
  escapeXmlAttr,
  escapeXmlText,
  transferTwiml,
} from '../../../server/telephony/twiml';
import { parseTwiml } from '../../support/twiml-parse';

const STREAM = 'wss://bayline.example.com/twilio/media';

describe('answerTwiml', () => {
  it('matches twilio VoiceResponse output, escaping included', () => {
    const parameters = { callSid: 'CA123', greeting: 'Hi "Dana" & <co>\tnew\nline', "it's": 'ok' };
    const vr = new twilio.twiml.VoiceResponse();
    const stream = vr
      .connect()
      .stream({ url: STREAM, statusCallback: 'https://bayline.example.com/twilio/stream?a=1&b=2' });
    for (const [name, value] of Object.entries(parameters)) stream.parameter({ name, value });
    expect(
      answerTwiml({
        streamUrl: STREAM,
        parameters,
        statusCallback: 'https://bayline.example.com/twilio/stream?a=1&b=2',
      }),
    ).toBe(vr.toString());
  });

  it('writes a self-closing Stream when there are no parameters', () => {
    expect(answerTwiml({ streamUrl: STREAM })).toBe(
      `<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="${STREAM}"/></Connect></Response>`,
    );
  });

  it('round-trips parameters through a TwiML reader', () => {
    const parameters = { a: '1 & 2', b: '"quoted" <tag>', c: 'tab\there' };
    const parsed = parseTwiml(answerTwiml({ streamUrl: STREAM, parameters }));
    expect(parsed.streamUrl).toBe(STREAM);
    expect(parsed.parameters).toEqual(parameters);
  });

  it('refuses a stream URL with a query string (Twilio would drop it)', () => {
    expect(() => answerTwiml({ streamUrl: `${STREAM}?callSid=CA1` })).toThrow(/query string/);
  });
});

describe('apologyTwiml and transferTwiml', () => {
  it('apology says the message then dials the desk, as VoiceResponse would', () => {
    const message = "Sorry, we're busy & <all> lines are taken.";
    const vr = new twilio.twiml.VoiceResponse();
    vr.say({ voice: 'Polly.Joanna' }, message);
    vr.dial('+13125550100');
    expect(apologyTwiml({ message, dialNumber: '+13125550100', voice: 'Polly.Joanna' })).toBe(vr.toString());
    expect(apologyTwiml({ message: 'x', dialNumber: '+1' })).toContain('<Say>x</Say><Dial>+1</Dial>');
  });

  it('transfer is exactly Response/Dial', () => {
    expect(transferTwiml('+13125550100')).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Dial>+13125550100</Dial></Response>',
    );
  });
});

describe('XML escaping', () => {
  it('escapes markup in text and attributes', () => {
    expect(escapeXmlText('a & b < c > d\r')).toBe('a &amp; b &lt; c &gt; d&#xD;');
    expect(escapeXmlAttr('"a" & <b>\t\n')).toBe('&quot;a&quot; &amp; &lt;b>&#x9;&#xA;');
  });

  it('removes characters XML 1.0 cannot carry, so the document stays parsable', () => {
    expect(escapeXmlText('a\u0000b\u0007c\u001fd')).toBe('abcd');
    expect(transferTwiml('+1312\u0008555')).toContain('<Dial>+1312555</Dial>');
  });
});
