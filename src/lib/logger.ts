import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';

/** Query parameters whose values never reach a log line. */
const SECRET_QUERY = /([?&](?:token|apiKey|api_key|key)=)[^&#]*/gi;

export function redactUrl(url: string): string {
  return url.replace(SECRET_QUERY, '$1[REDACTED]');
}

/** Field names that hold secrets wherever they appear in a logged object. */
const SECRET_FIELDS = [
  'password',
  'code',
  'phoneCode',
  'apiKey',
  'key',
  'token',
  'secret',
  'sessionString',
  'authorization',
  'x-api-key',
  'cookie',
  'jwtSecret',
  'sessionEncryptionKey',
];

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-api-key"]',
        'req.headers.cookie',
        ...SECRET_FIELDS.map((f) => (f.includes('-') ? `*["${f}"]` : `*.${f}`)),
        ...SECRET_FIELDS.filter((f) => !f.includes('-')),
      ],
      censor: '[REDACTED]',
    },
    serializers: {
      req: (req: { method: string; url: string; ip?: string; id?: string }) => ({
        method: req.method,
        url: redactUrl(req.url),
        remoteAddress: req.ip,
      }),
    },
  };
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}
