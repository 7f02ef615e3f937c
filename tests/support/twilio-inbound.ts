/**
 * What Twilio accepts from our server on a bidirectional stream (PROTOCOLS.md §1.2): text frames
 * carrying `media`, `mark` or `clear` for this stream. Anything else is what Twilio would report
 * as error 31950 (binary) or 31924 (protocol error), so the caller records it as such.
 */
import { base64DecodedLength } from '../../server/telephony/frames';

export type ServerMessage =
  | { readonly kind: 'media'; readonly audio: Buffer }
  | { readonly kind: 'mark'; readonly name: string }
  | { readonly kind: 'clear' }
  | { readonly kind: 'error'; readonly error: string };

interface Loose {
  event?: unknown;
  streamSid?: unknown;
  media?: { payload?: unknown };
  mark?: { name?: unknown };
}

const error = (text: string): ServerMessage => ({ kind: 'error', error: text });

export function classifyServerMessage(data: Buffer, isBinary: boolean, streamSid: string): ServerMessage {
  if (isBinary) return error('31950: binary frame');
  let msg: Loose;
  try {
    msg = JSON.parse(data.toString('utf8')) as Loose;
  } catch {
    return error('31924: not JSON');
  }
  if (typeof msg !== 'object' || msg === null) return error('31924: not a JSON object');
  if (msg.streamSid !== streamSid) return error(`31924: wrong streamSid on ${String(msg.event)}`);
  switch (msg.event) {
    case 'media': {
      const payload = msg.media?.payload;
      if (typeof payload !== 'string' || base64DecodedLength(payload) <= 0)
        return error('31924: bad media payload');
      return { kind: 'media', audio: Buffer.from(payload, 'base64') };
    }
    case 'mark': {
      const name = msg.mark?.name;
      return typeof name === 'string' ? { kind: 'mark', name } : error('31924: mark without name');
    }
    case 'clear':
      return { kind: 'clear' };
    default:
      return error(`31924: unsupported event ${String(msg.event)}`);
  }
}
