import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';

/**
 * Query parameter names whose values never reach a log line, matched on the name as the query
 * parser sees it and beyond: percent-decoded (repeatedly), lower-cased, letters only. So
 * `?%74oken=`, `?TOKEN=`, `?token[]=`, `?api_key=` and `?%2574oken=` are all caught, whether or
 * not they authenticate.
 */
const SECRET_QUERY_NAME = /token|key|secret|pass|auth|jwt|sessionstring|code|cookie|signature/;

/** The name as far as it decodes: `%2574oken` -> `%74oken` -> `token`. */
function decodedName(raw: string): { name: string; complete: boolean } {
  let name = raw.replace(/\+/g, ' ');
  for (let i = 0; i < 5 && name.includes('%'); i++) {
    try {
      const next = decodeURIComponent(name);
      if (next === name) break;
      name = next;
    } catch {
      return { name, complete: false };
    }
  }
  return { name, complete: true };
}

function isSecretQueryName(raw: string): boolean {
  const { name, complete } = decodedName(raw);
  // A name that does not decode is logged without its value rather than guessed at.
  return !complete || SECRET_QUERY_NAME.test(name.toLowerCase().replace(/[^a-z]/g, ''));
}

/** The URL with the value of every secret-looking query parameter replaced by `[REDACTED]`. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      const name = eq < 0 ? part : part.slice(0, eq);
      return eq >= 0 && isSecretQueryName(name) ? `${name}=[REDACTED]` : part;
    })
    .join('&');
  return `${url.slice(0, q)}?${query}`;
}

/**
 * Field names that hold secrets wherever they appear in a logged object. `code` is not one of
 * them: it is the error code of most log lines; a login code is `body.code` below.
 */
const SECRET_FIELDS = [
  'password',
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
        // A login code as the verify-code body carries it.
        'body.code',
        '*.body.code',
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
