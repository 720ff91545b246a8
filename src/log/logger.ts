import pino, { type Logger } from 'pino';
import { logContext } from './context.js';

export type { Logger };

/**
 * Paths scrubbed from every log line. Keys and connection strings must never reach a log
 * aggregator, whichever module logs them.
 */
const REDACT = [
  'apiKey',
  'apiKeys',
  'authorization',
  'password',
  '*.apiKey',
  '*.apiKeys',
  '*.authorization',
  '*.password',
  'req.headers.authorization',
  'req.headers.cookie',
  'config.OPENAI_API_KEY',
  'config.API_KEYS',
  'config.DATABASE_URL',
];

/**
 * Structured JSON logs written synchronously, so the last lines before `process.exit(0)` (the
 * drain report) are never lost in a buffer.
 */
export function createLogger(
  level: string,
  base: Record<string, unknown> = {},
  destination: pino.DestinationStream = pino.destination({ dest: 1, sync: true }),
): Logger {
  return pino(
    {
      level,
      base: { service: 'lastcall', ...base },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Every line written while serving a request names it (and its stream or task).
      mixin: () => ({ ...logContext() }),
    },
    destination,
  );
}

/** Strips the password from a connection URL so it can be logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}
