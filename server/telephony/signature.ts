/**
 * X-Twilio-Signature checks for the voice/status webhooks and the Media Streams WebSocket upgrade.
 *
 * URLs are derived from the configured PUBLIC_BASE_URL, never from Host / X-Forwarded-* headers:
 * Twilio signs the URL it was configured with, and a header-derived URL would let a client choose
 * what gets verified. The upgrade is a bodyless GET, so Twilio signs the exact `wss://` URL from
 * the TwiML `<Stream url>` with no params (PROTOCOLS.md §1.5).
 */
import {
  getExpectedTwilioSignature,
  validateRequest,
  validateRequestWithBody,
} from '../providers/twilio/webhooks';
import { ForbiddenError, ValidationError, type AppError } from '../platform/errors';

export const SignatureCheck = { Ok: 'ok', Missing: 'missing', Invalid: 'invalid' } as const;
export type SignatureCheck = (typeof SignatureCheck)[keyof typeof SignatureCheck];

/** Form params as a body parser hands them over; repeated keys arrive as arrays. */
export type WebhookParams = Readonly<Record<string, string | readonly string[] | undefined>>;

export const TWILIO_PATHS = {
  voice: '/twilio/voice',
  status: '/twilio/status',
  media: '/twilio/media',
} as const;

export interface TwilioUrls {
  /** https URL Twilio POSTs the voice webhook to (configure it on the number). */
  readonly voice: string;
  /** https URL of the number's status callback. */
  readonly status: string;
  /** wss URL written into `<Stream url>`; also exactly what Twilio signs on the upgrade. */
  readonly media: string;
}

function normalizedBase(publicBaseUrl: string): URL {
  const base = new URL(publicBaseUrl);
  if (base.protocol !== 'https:' && base.protocol !== 'http:') {
    throw new ValidationError('BAD_PUBLIC_BASE_URL', 'PUBLIC_BASE_URL must be an http(s) URL');
  }
  // Twilio strips query strings from <Stream url>, and a fragment never reaches a server.
  base.search = '';
  base.hash = '';
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  return base;
}

/**
 * The public URL of `pathAndQuery` under PUBLIC_BASE_URL. Assumes the server sees the same paths
 * as the public side (a proxy that strips a prefix must be reflected in PUBLIC_BASE_URL's path).
 */
export function publicUrl(publicBaseUrl: string, pathAndQuery: string): string {
  const base = normalizedBase(publicBaseUrl);
  const rel = pathAndQuery.startsWith('/') ? pathAndQuery.slice(1) : pathAndQuery;
  return base.href + rel;
}

/** https → wss, http → ws (http only in local demo mode; Twilio itself accepts wss only). */
export function mediaStreamUrl(publicBaseUrl: string, path: string = TWILIO_PATHS.media): string {
  const url = publicUrl(publicBaseUrl, path);
  return url.startsWith('https:') ? 'wss:' + url.slice('https:'.length) : 'ws:' + url.slice('http:'.length);
}

export function deriveTwilioUrls(publicBaseUrl: string): TwilioUrls {
  return Object.freeze({
    voice: publicUrl(publicBaseUrl, TWILIO_PATHS.voice),
    status: publicUrl(publicBaseUrl, TWILIO_PATHS.status),
    media: mediaStreamUrl(publicBaseUrl),
  });
}

/** Node gives a string[] for a repeated header; Twilio sends exactly one, so anything else is refused. */
function headerValue(header: string | readonly string[] | undefined): string | undefined {
  return typeof header === 'string' && header.length > 0 ? header : undefined;
}

/** Form-param webhook (voice, status). `url` is the full public URL including any query string. */
export function checkWebhookSignature(
  authToken: string,
  header: string | readonly string[] | undefined,
  url: string,
  params: WebhookParams,
): SignatureCheck {
  const signature = headerValue(header);
  if (signature === undefined) return SignatureCheck.Missing;
  const clean: Record<string, string | readonly string[]> = {};
  for (const key of Object.keys(params)) {
    const v = params[key];
    if (v !== undefined) clean[key] = v;
  }
  return validateRequest(authToken, signature, url, clean) ? SignatureCheck.Ok : SignatureCheck.Invalid;
}

/**
 * JSON-bodied webhook: the URL carries `bodySHA256`, the signature covers the URL alone and the
 * hash covers the raw body. Without `bodySHA256` in the URL the body would be unauthenticated.
 */
export function checkWebhookBodySignature(
  authToken: string,
  header: string | readonly string[] | undefined,
  url: string,
  rawBody: string,
): SignatureCheck {
  const signature = headerValue(header);
  if (signature === undefined) return SignatureCheck.Missing;
  if (!url.includes('bodySHA256=')) return SignatureCheck.Invalid;
  return validateRequestWithBody(authToken, signature, url, rawBody)
    ? SignatureCheck.Ok
    : SignatureCheck.Invalid;
}

/** The WebSocket upgrade: Twilio signs the `<Stream url>` exactly, with empty params. */
export function checkUpgradeSignature(
  authToken: string,
  header: string | readonly string[] | undefined,
  streamUrl: string,
): SignatureCheck {
  const signature = headerValue(header);
  if (signature === undefined) return SignatureCheck.Missing;
  return validateRequest(authToken, signature, streamUrl, {}) ? SignatureCheck.Ok : SignatureCheck.Invalid;
}

/** What Twilio would put in X-Twilio-Signature; for the test caller and the call simulator. */
export function signRequest(
  authToken: string,
  url: string,
  params: Readonly<Record<string, string>> = {},
): string {
  return getExpectedTwilioSignature(authToken, url, params);
}

/** Maps a failed check to the product's error base: missing → 400, invalid → 403 (twilio's webhook() does the same). */
export function signatureError(check: SignatureCheck): AppError | undefined {
  if (check === SignatureCheck.Ok) return undefined;
  if (check === SignatureCheck.Missing) {
    return new ValidationError('TWILIO_SIGNATURE_MISSING', 'X-Twilio-Signature header is missing');
  }
  return new ForbiddenError('Twilio request validation failed');
}

/**
 * The auth token and public URLs bound once, so routes pass only what varies per request.
 * `pathAndQuery` is the request's URL as the server sees it (Fastify's `req.url`).
 */
export class TwilioSignatureVerifier {
  readonly urls: TwilioUrls;
  private readonly authToken: string;
  private readonly publicBaseUrl: string;

  constructor(authToken: string, publicBaseUrl: string) {
    if (authToken.length === 0)
      throw new ValidationError('TWILIO_AUTH_TOKEN_MISSING', 'Twilio auth token is empty');
    this.authToken = authToken;
    this.publicBaseUrl = publicBaseUrl;
    this.urls = deriveTwilioUrls(publicBaseUrl);
  }

  webhook(
    header: string | readonly string[] | undefined,
    pathAndQuery: string,
    params: WebhookParams,
  ): SignatureCheck {
    return checkWebhookSignature(this.authToken, header, publicUrl(this.publicBaseUrl, pathAndQuery), params);
  }

  webhookWithBody(
    header: string | readonly string[] | undefined,
    pathAndQuery: string,
    rawBody: string,
  ): SignatureCheck {
    return checkWebhookBodySignature(
      this.authToken,
      header,
      publicUrl(this.publicBaseUrl, pathAndQuery),
      rawBody,
    );
  }

  /** Verified against the configured stream URL, whatever path or query the upgrade request carries. */
  upgrade(header: string | readonly string[] | undefined): SignatureCheck {
    return checkUpgradeSignature(this.authToken, header, this.urls.media);
  }
}
