/**
 * One error base for the whole product: a stable `code`, the HTTP status it maps to, and whether a
 * retry may succeed. Modelled on fastify's `errors.js` and livekit's `_exceptions.ts`.
 */
export class AppError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly retryable: boolean;

  constructor(
    code: string,
    message: string,
    opts: { statusCode?: number; retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.statusCode = opts.statusCode ?? 500;
    this.retryable = opts.retryable ?? false;
  }

  toJSON(): { error: { code: string; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

export class ValidationError extends AppError {
  constructor(code: string, message: string) {
    super(code, message, { statusCode: 400 });
  }
}

export class NotFoundError extends AppError {
  constructor(code: string, message: string) {
    super(code, message, { statusCode: 404 });
  }
}

export class ConflictError extends AppError {
  constructor(code: string, message: string) {
    super(code, message, { statusCode: 409 });
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'Authentication required') {
    super('UNAUTHORIZED', message, { statusCode: 401 });
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'Not allowed') {
    super('FORBIDDEN', message, { statusCode: 403 });
  }
}

export class UnavailableError extends AppError {
  constructor(code: string, message: string, cause?: unknown) {
    super(code, message, { statusCode: 503, retryable: true, cause });
  }
}

/** An upstream provider (LLM, STT, TTS, telephony) failed. */
export class ProviderError extends AppError {
  readonly provider: string;
  readonly status: number | undefined;

  constructor(
    provider: string,
    message: string,
    opts: { status?: number; cause?: unknown; retryable?: boolean } = {},
  ) {
    const retryable = opts.retryable ?? isRetryableStatus(opts.status);
    super('PROVIDER_ERROR', message, { statusCode: 502, retryable, cause: opts.cause });
    this.provider = provider;
    this.status = opts.status;
  }
}

/** 408, 429 and 5xx may succeed on retry; other 4xx will not. No status (network failure) is retryable. */
export function isRetryableStatus(status: number | undefined): boolean {
  if (status === undefined) return true;
  return status === 408 || status === 429 || status >= 500;
}
