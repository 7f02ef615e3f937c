/**
 * The three TwiML documents the product answers with. Hand-built strings rather than twilio's
 * VoiceResponse: they are tiny, the ring path is latency-sensitive, and the escaping below
 * reproduces the builder's output byte for byte (the tests compare against it).
 */

const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

// XML 1.0 forbids most C0 controls even as character references; a caller name or parameter
// taken from data must never make the whole document unparsable, so they are removed.
// eslint-disable-next-line no-control-regex
const INVALID_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

/** Element text: `&`, `<`, `>` and CR escaped (as xmlbuilder does). */
export function escapeXmlText(value: string): string {
  return value
    .replace(INVALID_XML_CHARS, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\r/g, '&#xD;');
}

/** Attribute values: also `"` and the whitespace that attribute normalisation would otherwise eat. */
export function escapeXmlAttr(value: string): string {
  return value
    .replace(INVALID_XML_CHARS, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/"/g, '&quot;')
    .replace(/\t/g, '&#x9;')
    .replace(/\n/g, '&#xA;')
    .replace(/\r/g, '&#xD;');
}

export interface AnswerTwimlOptions {
  /** wss URL of the media stream, without a query string (Twilio drops it). */
  readonly streamUrl: string;
  /** Delivered back to us as `start.customParameters`; keep PII out, it passes through Twilio. */
  readonly parameters?: Readonly<Record<string, string>>;
  /** Stream status callback (stream-started/stopped/error). */
  readonly statusCallback?: string;
}

/** `<Connect><Stream>`: Twilio opens the bidirectional media stream to `streamUrl`. */
export function answerTwiml(opts: AnswerTwimlOptions): string {
  if (opts.streamUrl.includes('?')) {
    throw new RangeError('Stream url must not carry a query string; Twilio drops it (use parameters)');
  }
  let attrs = ` url="${escapeXmlAttr(opts.streamUrl)}"`;
  if (opts.statusCallback !== undefined) attrs += ` statusCallback="${escapeXmlAttr(opts.statusCallback)}"`;
  let params = '';
  for (const [name, value] of Object.entries(opts.parameters ?? {})) {
    params += `<Parameter name="${escapeXmlAttr(name)}" value="${escapeXmlAttr(value)}"/>`;
  }
  const stream = params === '' ? `<Stream${attrs}/>` : `<Stream${attrs}>${params}</Stream>`;
  return `${XML_DECLARATION}<Response><Connect>${stream}</Connect></Response>`;
}

export interface ApologyTwimlOptions {
  readonly message: string;
  /** The human desk (TRANSFER_PHONE_NUMBER). */
  readonly dialNumber: string;
  /** A Twilio `<Say>` voice such as `Polly.Joanna`; Twilio's default when absent. */
  readonly voice?: string;
}

/** Over capacity or draining: the caller still gets a person, never a dead line. */
export function apologyTwiml(opts: ApologyTwimlOptions): string {
  const voice = opts.voice === undefined ? '' : ` voice="${escapeXmlAttr(opts.voice)}"`;
  return (
    `${XML_DECLARATION}<Response><Say${voice}>${escapeXmlText(opts.message)}</Say>` +
    `<Dial>${escapeXmlText(opts.dialNumber)}</Dial></Response>`
  );
}

/** Sent over REST (calls(sid).update({ twiml })) once the transfer announcement's mark returns. */
export function transferTwiml(dialNumber: string): string {
  return `${XML_DECLARATION}<Response><Dial>${escapeXmlText(dialNumber)}</Dial></Response>`;
}
