"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.defaultLogger = void 0;
exports.setLogger = setLogger;
exports.log = log;
exports.describeError = describeError;
exports.redactedTag = redactedTag;
const node_crypto_1 = require("node:crypto");
const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
function configuredLevel() {
    const wanted = (process.env.LOG_LEVEL ?? 'warn').toLowerCase();
    return LEVELS[wanted] ?? LEVELS.warn;
}
function stderrLine(level) {
    return (message, meta) => {
        if (LEVELS[level] < configuredLevel())
            return;
        const detail = meta === undefined ? '' : ` ${safeStringify(meta)}`;
        process.stderr.write(`[redis-layer] ${level.toUpperCase()} ${message}${detail}\n`);
    };
}
function safeStringify(meta) {
    try {
        return JSON.stringify(meta);
    }
    catch {
        return '[unserialisable meta]';
    }
}
/** Default: warn and error to stderr; LOG_LEVEL (debug|info|warn|error|silent) changes the level. */
exports.defaultLogger = {
    debug: stderrLine('debug'),
    info: stderrLine('info'),
    warn: stderrLine('warn'),
    error: stderrLine('error'),
};
let current = exports.defaultLogger;
/** Replaces the logger for every connection and service of this process. */
function setLogger(logger) {
    for (const level of ['debug', 'info', 'warn', 'error']) {
        if (typeof logger?.[level] !== 'function') {
            throw new TypeError(`setLogger: logger.${level} must be a function`);
        }
    }
    current = logger;
}
/** Logs without ever letting a faulty logger break a Redis call. */
function log(level, message, meta) {
    try {
        current[level](message, meta);
    }
    catch {
        // A throwing logger must not turn a cache miss into an outage.
    }
}
/** A description of an error for logs: code and message only. */
function describeError(error) {
    if (error instanceof Error) {
        const code = error.code;
        return code === undefined ? { message: error.message } : { code, message: error.message };
    }
    return { message: String(error) };
}
/**
 * A short, non-reversible stand-in for a credential or personal value (a session id, an
 * IP address, an e-mail) in logs and error messages: the first 8 hex digits of its SHA-256.
 * Equal values give equal tags, so log lines about one session can still be correlated.
 */
function redactedTag(value) {
    return (0, node_crypto_1.createHash)('sha256').update(value).digest('hex').slice(0, 8);
}
