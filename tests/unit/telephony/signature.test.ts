import { createHash } from 'node:crypto';
import {
  SignatureCheck,
  TwilioSignatureVerifier,
  checkUpgradeSignature,
  checkWebhookBodySignature,
  checkWebhookSignature,
  deriveTwilioUrls,
  mediaStreamUrl,
  publicUrl,
  signRequest,
  signatureError,
} from '../../../server/telephony/signature';

// Vectors from PROTOCOLS.md §1.5 (twilio-node spec/validation.spec.js).
const TOKEN = '12345';
const URL_1 = 'https://mycompany.com/myapp.php?foo=1&bar=2';
const PARAMS = {
  CallSid: 'CA1234567890ABCDE',
  Caller: '+14158675309',
  Digits: '1234',
  From: '+14158675309',
  To: '+18005551212',
};
const SIG_1 = 'RSOYDt4T1cUTdK1PDd93/VVr8B8=';
const BODY = '{"property": "value", "boolean": true}';
const BODY_HASH = '0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620';
const URL_BODY = `${URL_1}&bodySHA256=${BODY_HASH}`;
const SIG_BODY = 'a9nBmqA0ju/hNViExpshrM61xv4=';

describe('webhook signature (form params)', () => {
  it('accepts the documented vector', () => {
    expect(checkWebhookSignature(TOKEN, SIG_1, URL_1, PARAMS)).toBe(SignatureCheck.Ok);
  });

  it('accepts the vector with an explicit non-default port', () => {
    expect(
      checkWebhookSignature(
        TOKEN,
        'Zmvh+3yNM1Phv2jhDCwEM3q5ebU=',
        'http://mycompany.com:1234/myapp.php?foo=1&bar=2',
        PARAMS,
      ),
    ).toBe(SignatureCheck.Ok);
  });

  it('refuses a tampered parameter, an added parameter, another URL and another token', () => {
    expect(checkWebhookSignature(TOKEN, SIG_1, URL_1, { ...PARAMS, Digits: '1235' })).toBe(
      SignatureCheck.Invalid,
    );
    expect(checkWebhookSignature(TOKEN, SIG_1, URL_1, { ...PARAMS, Extra: 'x' })).toBe(
      SignatureCheck.Invalid,
    );
    expect(checkWebhookSignature(TOKEN, SIG_1, 'https://mycompany.com/myapp.php?foo=1&bar=3', PARAMS)).toBe(
      SignatureCheck.Invalid,
    );
    expect(checkWebhookSignature('54321', SIG_1, URL_1, PARAMS)).toBe(SignatureCheck.Invalid);
    expect(checkWebhookSignature(TOKEN, 'RSOYDt4T1cUTdK1PDd93/VVr8B9=', URL_1, PARAMS)).toBe(
      SignatureCheck.Invalid,
    );
  });

  it('reports a missing or repeated header as missing', () => {
    expect(checkWebhookSignature(TOKEN, undefined, URL_1, PARAMS)).toBe(SignatureCheck.Missing);
    expect(checkWebhookSignature(TOKEN, '', URL_1, PARAMS)).toBe(SignatureCheck.Missing);
    expect(checkWebhookSignature(TOKEN, [SIG_1, SIG_1], URL_1, PARAMS)).toBe(SignatureCheck.Missing);
  });

  it('ignores params a body parser left undefined', () => {
    expect(checkWebhookSignature(TOKEN, SIG_1, URL_1, { ...PARAMS, Ghost: undefined })).toBe(
      SignatureCheck.Ok,
    );
  });

  it('signRequest reproduces the vector (and the exact signed string)', () => {
    expect(signRequest(TOKEN, URL_1, PARAMS)).toBe(SIG_1);
  });
});

describe('webhook signature (bodySHA256 variant)', () => {
  it('accepts the documented vector and its body hash', () => {
    expect(createHash('sha256').update(BODY).digest('hex')).toBe(BODY_HASH);
    expect(checkWebhookBodySignature(TOKEN, SIG_BODY, URL_BODY, BODY)).toBe(SignatureCheck.Ok);
  });

  it('accepts both the port-less and the :443 signature of the empty-body vector', () => {
    const url = `${URL_1}&bodySHA256=44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a`;
    expect(checkWebhookBodySignature(TOKEN, 'Ldidvp12m26NI7eqEvxnEpkd9Hc=', url, '{}')).toBe(
      SignatureCheck.Ok,
    );
    expect(checkWebhookBodySignature(TOKEN, 'rw/jVviOgicj2+kHZULvebnA4ag=', url, '{}')).toBe(
      SignatureCheck.Ok,
    );
  });

  it('refuses a tampered body, and a URL without bodySHA256', () => {
    expect(checkWebhookBodySignature(TOKEN, SIG_BODY, URL_BODY, BODY.replace('value', 'valuE'))).toBe(
      SignatureCheck.Invalid,
    );
    expect(checkWebhookBodySignature(TOKEN, signRequest(TOKEN, URL_1), URL_1, BODY)).toBe(
      SignatureCheck.Invalid,
    );
    expect(checkWebhookBodySignature(TOKEN, undefined, URL_BODY, BODY)).toBe(SignatureCheck.Missing);
  });
});

describe('WebSocket upgrade signature', () => {
  it('accepts the documented wss vector, with and without the default port', () => {
    expect(checkUpgradeSignature(TOKEN, '7PR3qMkpDyEJtMrVOY/LDyNq8J8=', 'wss://example.com/media')).toBe(
      SignatureCheck.Ok,
    );
    expect(checkUpgradeSignature(TOKEN, '7PR3qMkpDyEJtMrVOY/LDyNq8J8=', 'wss://example.com:443/media')).toBe(
      SignatureCheck.Ok,
    );
  });

  it('refuses a signature made over the https URL (scheme matters) or another path', () => {
    const httpsSig = signRequest(TOKEN, 'https://example.com/media');
    expect(checkUpgradeSignature(TOKEN, httpsSig, 'wss://example.com/media')).toBe(SignatureCheck.Invalid);
    expect(
      checkUpgradeSignature(TOKEN, '7PR3qMkpDyEJtMrVOY/LDyNq8J8=', 'wss://example.com/twilio/media'),
    ).toBe(SignatureCheck.Invalid);
    expect(checkUpgradeSignature(TOKEN, undefined, 'wss://example.com/media')).toBe(SignatureCheck.Missing);
  });
});

describe('public URLs', () => {
  it('derives webhook and stream URLs from PUBLIC_BASE_URL', () => {
    expect(deriveTwilioUrls('https://bayline.example.com')).toEqual({
      voice: 'https://bayline.example.com/twilio/voice',
      status: 'https://bayline.example.com/twilio/status',
      media: 'wss://bayline.example.com/twilio/media',
    });
  });

  it('keeps a path prefix and a port, drops query and fragment, maps http to ws', () => {
    expect(mediaStreamUrl('https://x.example.com:8443/bay/?a=1#f')).toBe(
      'wss://x.example.com:8443/bay/twilio/media',
    );
    expect(mediaStreamUrl('http://127.0.0.1:8080')).toBe('ws://127.0.0.1:8080/twilio/media');
    expect(publicUrl('https://x.example.com/bay', '/twilio/voice?tenant=1')).toBe(
      'https://x.example.com/bay/twilio/voice?tenant=1',
    );
  });

  it('refuses a non-http base URL', () => {
    expect(() => deriveTwilioUrls('ftp://x.example.com')).toThrow(/PUBLIC_BASE_URL/);
  });
});

describe('TwilioSignatureVerifier', () => {
  const token = 'test-token-123';
  const verifier = new TwilioSignatureVerifier(token, 'https://bayline.example.com');

  it('checks a webhook against the public URL of the path the server saw, query included', () => {
    const params = { CallSid: 'CA1', From: '+13125550142' };
    const sig = signRequest(token, 'https://bayline.example.com/twilio/voice?x=1', params);
    expect(verifier.webhook(sig, '/twilio/voice?x=1', params)).toBe(SignatureCheck.Ok);
    expect(verifier.webhook(sig, '/twilio/voice', params)).toBe(SignatureCheck.Invalid);
    expect(verifier.webhook(sig, '/twilio/voice?x=1', { ...params, From: '+10000000000' })).toBe(
      SignatureCheck.Invalid,
    );
  });

  it('checks a JSON webhook with bodySHA256', () => {
    const body = '{"a":1}';
    const hash = createHash('sha256').update(body).digest('hex');
    const sig = signRequest(token, `https://bayline.example.com/hook?bodySHA256=${hash}`);
    expect(verifier.webhookWithBody(sig, `/hook?bodySHA256=${hash}`, body)).toBe(SignatureCheck.Ok);
    expect(verifier.webhookWithBody(sig, `/hook?bodySHA256=${hash}`, '{"a":2}')).toBe(SignatureCheck.Invalid);
  });

  it('checks the upgrade against the configured wss stream URL only', () => {
    expect(verifier.upgrade(signRequest(token, 'wss://bayline.example.com/twilio/media'))).toBe(
      SignatureCheck.Ok,
    );
    expect(verifier.upgrade(signRequest(token, 'wss://evil.example.com/twilio/media'))).toBe(
      SignatureCheck.Invalid,
    );
    expect(verifier.upgrade(signRequest('other-token', 'wss://bayline.example.com/twilio/media'))).toBe(
      SignatureCheck.Invalid,
    );
    expect(verifier.upgrade(undefined)).toBe(SignatureCheck.Missing);
  });

  it('refuses an empty auth token', () => {
    expect(() => new TwilioSignatureVerifier('', 'https://x.example.com')).toThrow(/auth token/);
  });
});

describe('signatureError', () => {
  it('maps missing to 400, invalid to 403, ok to nothing', () => {
    expect(signatureError(SignatureCheck.Ok)).toBeUndefined();
    expect(signatureError(SignatureCheck.Missing)?.statusCode).toBe(400);
    expect(signatureError(SignatureCheck.Missing)?.code).toBe('TWILIO_SIGNATURE_MISSING');
    expect(signatureError(SignatureCheck.Invalid)?.statusCode).toBe(403);
  });
});
