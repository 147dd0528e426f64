/** Where redis-layer reports connection events and fail-soft errors. Values and passwords never reach it. */
export interface Logger {
    debug(message: string, meta?: Record<string, unknown>): void;
    info(message: string, meta?: Record<string, unknown>): void;
    warn(message: string, meta?: Record<string, unknown>): void;
    error(message: string, meta?: Record<string, unknown>): void;
}
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
/** Default: warn and error to stderr; LOG_LEVEL (debug|info|warn|error|silent) changes the level. */
export declare const defaultLogger: Logger;
/** Replaces the logger for every connection and service of this process. */
export declare function setLogger(logger: Logger): void;
/** Logs without ever letting a faulty logger break a Redis call. */
export declare function log(level: Exclude<LogLevel, 'silent'>, message: string, meta?: Record<string, unknown>): void;
/** A description of an error for logs: code and message only. */
export declare function describeError(error: unknown): Record<string, unknown>;
/**
 * A short, non-reversible stand-in for a credential or personal value (a session id, an
 * IP address, an e-mail) in logs and error messages: the first 8 hex digits of its SHA-256.
 * Equal values give equal tags, so log lines about one session can still be correlated.
 */
export declare function redactedTag(value: string): string;
