import { createHash } from 'node:crypto';

/**
 * Where redis-layer reports connection events and fail-soft errors. Values and passwords never reach it.
 * console, winston, pino and bunyan loggers all fit; `setLogger` decides which argument order they get.
 */
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

/** The options of `setLogger`. */
export interface LoggerOptions {
  /**
   * How the logger takes its arguments: 'message-first' calls `logger.info(message, meta)` (console, winston),
   * 'object-first' calls `logger.info(meta, message)` (pino, bunyan). Without it, setLogger detects pino and bunyan.
   */
  style?: 'message-first' | 'object-first' | undefined;
}

type LoggerStyle = NonNullable<LoggerOptions['style']>;

type Level = Exclude<LogLevel, 'silent'>;

/** A pino/bunyan logger as `log()` calls it: the metadata object first, the message second. */
type ObjectFirstLogger = Record<Level, (meta: Record<string, unknown>, message: string) => void>;

const STYLES: readonly unknown[] = ['message-first', 'object-first'] satisfies LoggerStyle[];

let current: Logger = defaultLogger;
let currentStyle: LoggerStyle = 'message-first';

/** pino and bunyan take the metadata object first (see setLogger); a logger whose properties throw is message-first. */
function detectStyle(logger: object): LoggerStyle {
  try {
    const candidate = logger as Record<PropertyKey, unknown>;
    if (typeof candidate.child !== 'function') return 'message-first';
    const levels = candidate.levels as { values?: unknown } | null | undefined;
    const pinoLike =
      typeof levels === 'object' &&
      levels !== null &&
      typeof levels.values === 'object' &&
      levels.values !== null &&
      (Symbol.for('pino.serializers') in logger || typeof candidate.version === 'string');
    const bunyanLike =
      typeof candidate.fields === 'object' && candidate.fields !== null && Array.isArray(candidate.streams);
    return pinoLike || bunyanLike ? 'object-first' : 'message-first';
  } catch {
    return 'message-first';
  }
}

/**
 * Replaces the logger for every connection and service of this process; `setLogger(defaultLogger)` restores
 * the default. The logger gets every level (LOG_LEVEL filters only the default logger).
 *
 * pino and bunyan loggers are detected and called as `logger.info(meta, message)`, so the metadata become
 * fields of the line: pino by its `levels.values`, `child()` and `Symbol.for('pino.serializers')` or `version`,
 * bunyan by its `fields`, `streams` and `child()`. Any other logger (console, winston) is called as
 * `logger.info(message, meta)`. For a wrapper or a logger of your own, pass `{ style: 'object-first' }`
 * or `{ style: 'message-first' }` to skip the detection.
 *
 * @throws TypeError when a level method is missing or `options.style` is neither of those two.
 */
export function setLogger(logger: Logger, options?: LoggerOptions): void {
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger?.[level] !== 'function') {
      throw new TypeError(`setLogger: logger.${level} must be a function`);
    }
  }
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new TypeError("setLogger: options must be an object such as { style: 'object-first' }");
  }
  const style: unknown = options?.style;
  if (style !== undefined && !STYLES.includes(style)) {
    const shown = typeof style === 'string' ? JSON.stringify(style) : style === null ? 'null' : typeof style;
    throw new TypeError(`setLogger: options.style must be 'message-first' or 'object-first', got ${shown}`);
  }
  currentStyle = (style as LoggerStyle | undefined) ?? detectStyle(logger);
  current = logger;
}

/** Logs without ever letting a faulty logger break a Redis call. */
export function log(level: Level, message: string, meta?: Record<string, unknown>): void {
  try {
    if (currentStyle === 'object-first') {
      (current as unknown as ObjectFirstLogger)[level](meta ?? {}, message);
    } else if (meta === undefined) {
      // No trailing `undefined` argument: console would print it.
      current[level](message);
    } else {
      current[level](message, meta);
    }
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
