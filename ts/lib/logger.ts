import { createHash } from 'node:crypto';

/** Where redis-layer reports connection events and fail-soft errors. Values and passwords never reach it. */
export interface Logger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

function configuredLevel(): number {
  const wanted = (process.env.LOG_LEVEL ?? 'warn').toLowerCase() as LogLevel;
  return LEVELS[wanted] ?? LEVELS.warn;
}

function stderrLine(level: Exclude<LogLevel, 'silent'>) {
  return (message: string, meta?: Record<string, unknown>): void => {
    if (LEVELS[level] < configuredLevel()) return;
    const detail = meta === undefined ? '' : ` ${safeStringify(meta)}`;
    process.stderr.write(`[redis-layer] ${level.toUpperCase()} ${message}${detail}\n`);
  };
}

function safeStringify(meta: Record<string, unknown>): string {
  try {
    return JSON.stringify(meta);
  } catch {
    return '[unserialisable meta]';
  }
}

/** Default: warn and error to stderr; LOG_LEVEL (debug|info|warn|error|silent) changes the level. */
export const defaultLogger: Logger = {
  debug: stderrLine('debug'),
  info: stderrLine('info'),
  warn: stderrLine('warn'),
  error: stderrLine('error'),
};

let current: Logger = defaultLogger;

/** Replaces the logger for every connection and service of this process. */
export function setLogger(logger: Logger): void {
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger?.[level] !== 'function') {
      throw new TypeError(`setLogger: logger.${level} must be a function`);
    }
  }
  current = logger;
}

/** Logs without ever letting a faulty logger break a Redis call. */
export function log(level: Exclude<LogLevel, 'silent'>, message: string, meta?: Record<string, unknown>): void {
  try {
    current[level](message, meta);
  } catch {
    // A throwing logger must not turn a cache miss into an outage.
  }
}

/** A description of an error for logs: code and message only. */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return code === undefined ? { message: error.message } : { code, message: error.message };
  }
  return { message: String(error) };
}

/**
 * A short, non-reversible stand-in for a credential or personal value (a session id, an
 * IP address, an e-mail) in logs and error messages: the first 8 hex digits of its SHA-256.
 * Equal values give equal tags, so log lines about one session can still be correlated.
 */
export function redactedTag(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 8);
}
