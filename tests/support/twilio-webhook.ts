/** The HTTP half of a Twilio call: the signed voice webhook and where its stream URL really points. */
import { signRequest } from '../../server/telephony/signature';
import { parseTwiml, type ParsedTwiml } from './twiml-parse';

export interface RingResult extends ParsedTwiml {
  readonly status: number;
  readonly body: string;
}

export interface WebhookRequest {
  /** Where the request really goes. */
  readonly baseUrl: string;
  /** The URL Twilio is configured with, which is what gets signed. */
  readonly publicBaseUrl: string;
  readonly path: string;
  readonly authToken: string;
  readonly params: Readonly<Record<string, string>>;
  /** undefined: sign correctly; null: omit the header; a string: send it as is. */
  readonly signature?: string | null;
}

export function joinUrl(base: string, p: string): string {
  return base.replace(/\/+$/, '') + (p.startsWith('/') ? p : `/${p}`);
}

/** POSTs form params the way Twilio does and reads the TwiML answer. */
export async function postSignedWebhook(req: WebhookRequest): Promise<RingResult> {
  const signedUrl = joinUrl(req.publicBaseUrl, req.path);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const signature =
    req.signature === undefined ? signRequest(req.authToken, signedUrl, req.params) : req.signature;
  if (signature !== null) headers['x-twilio-signature'] = signature;
  const res = await fetch(joinUrl(req.baseUrl, req.path), {
    method: 'POST',
    headers,
    body: new URLSearchParams(req.params).toString(),
  });
  const body = await res.text();
  return { status: res.status, body, ...parseTwiml(body) };
}

/** The TwiML names the public wss URL; the socket goes to the same path on the real server. */
export function socketUrl(baseUrl: string, streamUrl: string): string {
  const target = new URL(baseUrl);
  const stream = new URL(streamUrl);
  target.protocol = target.protocol === 'https:' ? 'wss:' : 'ws:';
  target.pathname = stream.pathname;
  target.search = stream.search;
  return target.href;
}
