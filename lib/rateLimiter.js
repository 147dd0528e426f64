"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.rateLimiter = exports.RateLimiter = void 0;
const connection_1 = require("./connection");
const errors_1 = require("./errors");
const keys_1 = require("./keys");
const logger_1 = require("./logger");
const native_1 = require("./native");
const run_1 = require("./scripts/run");
const rateLimiter_1 = require("./scripts/rateLimiter");
const scripts = { 'sliding-log': (0, native_1.registerScript)(rateLimiter_1.SLIDING_LOG), gcra: (0, native_1.registerScript)(rateLimiter_1.GCRA) };
/** A fail-closed caller retries soon: outages are usually short, windows may be long. */
const DEGRADED_RETRY_MS = 1000;
function validate(config) {
    if (config === null || typeof config !== 'object' || Array.isArray(config)) {
        throw new TypeError(`config must be an object, got ${(0, errors_1.describeType)(config)}`);
    }
    const { windowMs, maxRequests, failOpen, algorithm } = config;
    if (typeof windowMs !== 'number')
        throw new TypeError(`config.windowMs must be a number, got ${(0, errors_1.describeType)(windowMs)}`);
    if (!Number.isFinite(windowMs) || windowMs <= 0 || windowMs > 2 ** 31) {
        throw new RangeError(`config.windowMs must be a positive number of milliseconds up to 2^31, got ${windowMs}`);
    }
    if (typeof maxRequests !== 'number') {
        throw new TypeError(`config.maxRequests must be a number, got ${(0, errors_1.describeType)(maxRequests)}`);
    }
    if (!Number.isInteger(maxRequests) || maxRequests < 1) {
        throw new RangeError(`config.maxRequests must be an integer >= 1, got ${maxRequests}`);
    }
    if (failOpen !== undefined && typeof failOpen !== 'boolean') {
        throw new TypeError(`config.failOpen must be a boolean, got ${(0, errors_1.describeType)(failOpen)}`);
    }
    if (algorithm !== undefined && algorithm !== 'sliding-log' && algorithm !== 'gcra') {
        throw new RangeError(`config.algorithm must be 'sliding-log' or 'gcra', got ${String(algorithm)}`);
    }
    return {
        windowMs: Math.ceil(windowMs),
        maxRequests,
        failOpen: failOpen ?? true,
        algorithm: algorithm ?? 'sliding-log',
    };
}
/**
 * The seed's RateLimiter with the check-and-record done in one Lua step, so exactly
 * `maxRequests` calls pass per window however many run at once.
 */
class RateLimiter {
    connection;
    constructor(connection) {
        this.connection = connection ?? connection_1.redisConnection;
    }
    async checkLimit(identifier, type, config) {
        (0, errors_1.requireString)(identifier, 'identifier');
        (0, errors_1.requireString)(type, 'type');
        const checked = validate(config);
        const { windowMs, maxRequests, algorithm } = checked;
        let reply;
        try {
            reply = await (0, run_1.runScript)(this.connection, scripts[algorithm], [keys_1.CacheKeys.rateLimit(type, identifier)], [
                String(windowMs),
                String(maxRequests),
            ]);
        }
        catch (error) {
            (0, logger_1.log)('error', 'Rate limiter error', { identifier, type, failOpen: checked.failOpen, ...(0, logger_1.describeError)(error) });
            return degraded(checked);
        }
        const [allowedFlag, count, slotText, nowText] = reply;
        const now = Number(nowText);
        const allowed = allowedFlag === 1;
        const remaining = algorithm === 'gcra' ? count : Math.max(0, maxRequests - count);
        const nextSlot = algorithm === 'gcra' ? Number(slotText) : Number(slotText) + windowMs;
        const resetTime = Math.ceil(nextSlot);
        const retryAfterMs = allowed ? 0 : Math.max(1, Math.ceil(nextSlot - now));
        if (!allowed)
            (0, logger_1.log)('warn', 'Rate limit exceeded', { identifier, type, currentCount: algorithm === 'gcra' ? maxRequests : count });
        return { allowed, remaining, resetTime, retryAfterMs, degraded: false };
    }
    async resetLimit(identifier, type) {
        (0, errors_1.requireString)(identifier, 'identifier');
        (0, errors_1.requireString)(type, 'type');
        try {
            return (await (0, run_1.runCommand)(this.connection, ['DEL', keys_1.CacheKeys.rateLimit(type, identifier)])) === 1;
        }
        catch (error) {
            (0, logger_1.log)('error', 'Rate limiter reset error', { identifier, type, ...(0, logger_1.describeError)(error) });
            return false;
        }
    }
}
exports.RateLimiter = RateLimiter;
function degraded({ windowMs, maxRequests, failOpen }) {
    const now = Date.now();
    return failOpen
        ? { allowed: true, remaining: maxRequests, resetTime: now + windowMs, retryAfterMs: 0, degraded: true }
        : {
            allowed: false,
            remaining: 0,
            resetTime: now + Math.min(windowMs, DEGRADED_RETRY_MS),
            retryAfterMs: Math.min(windowMs, DEGRADED_RETRY_MS),
            degraded: true,
        };
}
exports.rateLimiter = new RateLimiter();
