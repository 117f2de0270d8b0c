/**
 * The one closed list of error codes (docs: API.md "Envelope"), each with its HTTP status.
 * Every error a client sees is an AppError rendered by the errors plugin.
 */
export const ERROR_STATUS = {
  VALIDATION_ERROR: 400,
  PHONE_CODE_INVALID: 400,
  PHONE_CODE_EXPIRED: 400,
  PHONE_NUMBER_INVALID: 400,
  PASSWORD_INVALID: 400,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  SESSION_NOT_FOUND: 404,
  CHAT_NOT_FOUND: 404,
  MESSAGE_NOT_FOUND: 404,
  WEBHOOK_NOT_FOUND: 404,
  DELIVERY_NOT_FOUND: 404,
  API_KEY_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  MEDIA_NOT_FOUND: 404,
  UPLOAD_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  SESSION_NOT_AUTHORIZED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RANGE_NOT_SATISFIABLE: 416,
  RATE_LIMITED: 429,
  FLOOD_WAIT: 429,
  INTERNAL_ERROR: 500,
  NOT_IMPLEMENTED: 501,
  TELEGRAM_ERROR: 502,
  SESSION_NOT_CONNECTED: 503,
  FFMPEG_UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
  REQUEST_TIMEOUT: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;
export const ERROR_CODES = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];

export class AppError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    /** Seconds, sent as Retry-After (429/503). */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'AppError';
    this.statusCode = ERROR_STATUS[code];
  }
}

export const notFound = (code: Extract<ErrorCode, `${string}_NOT_FOUND`>, what: string) =>
  new AppError(code, `${what} not found`);
