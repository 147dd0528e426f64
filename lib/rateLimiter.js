"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.rateLimiter = exports.RateLimiter = void 0;
const connection_1 = require("./connection");
const errors_1 = require("./errors");
const keys_1 = require("./keys");
const logger_1 = require("./logger");
const access_1 = require("./access");
const native_1 = require("./native");
const rateLimiter_1 = require("./scripts/rateLimiter");
const scripts = { 'sliding-log': (0, native_1.registerScript)(rateLimiter_1.SLIDING_LOG), gcra: (0, native_1.registerScript)(rateLimiter_1.GCRA) };
/** A fail-closed caller retries soon: outages are usually short, windows may be long. */
const DEGRADED_RETRY_MS = 1000;
function validate(config) {
    if (config === null || typeof config !== 'object' || Array.isArray(config)) {
        throw new TypeError(`config must be an object, got ${(0, errors_1.describeType)(config)}`);
    }
    const { windowMs, maxRequests, failOpen, algorithm, burst } = config;
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
    if (burst !== undefined) {
        if (algorithm !== 'gcra')
            throw new RangeError(`config.burst applies to algorithm 'gcra' only`);
        if (typeof burst !== 'number')
            throw new TypeError(`config.burst must be a number, got ${(0, errors_1.describeType)(burst)}`);
        if (!Number.isSafeInteger(burst) || burst < 1)
            throw new RangeError(`config.burst must be an integer >= 1, got ${burst}`);
    }
    return {
        windowMs: Math.ceil(windowMs),
        maxRequests,
        failOpen: failOpen ?? true,
        algorithm: algorithm ?? 'sliding-log',
        capacity: burst ?? maxRequests,
    };
}
/**
 * Rate-limit types are code constants that never hold `:`, so a key
 * `rate_limit:<type>:<identifier>` names one (type, identifier) pair: the identifier,
 * which callers often take from a request, may hold anything.
 */
function requireType(type) {
    const name = (0, errors_1.requireString)(type, 'type');
    if (name.includes(':')) {
        throw new RangeError(`type must not contain ':' (a constant such as 'login'; variable parts go in the identifier), got '${name}'`);
    }
    return name;
}
/** A finite number, or one sent as text (Lua replies turn fractions into integers, so they travel as strings). */
const isNumeric = (value) => typeof value === 'number'
    ? Number.isFinite(value)
    : typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value));
/** The scripts' `{allowed 0|1, count, slot time, now}`; any other shape (a socket in a bad state, say) is an error. */
function scriptReply(reply) {
    if (Array.isArray(reply) &&
        reply.length === 4 &&
        (reply[0] === 0 || reply[0] === 1) &&
        Number.isSafeInteger(reply[1]) &&
        reply[1] >= 0 &&
        isNumeric(reply[2]) &&
        isNumeric(reply[3])) {
        return [reply[0] === 1, reply[1], Number(reply[2]), Number(reply[3])];
    }
    throw new errors_1.RedisLayerError('ERR_UNEXPECTED_REPLY', `Rate limiter script returned an unexpected reply: ${(0, errors_1.describeType)(reply)}`);
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
        requireType(type);
        const checked = validate(config);
        const { windowMs, maxRequests, algorithm, capacity } = checked;
        // Identifiers are often IP addresses or e-mails: logs carry a tag of them, never the value.
        const who = () => ({ identifierTag: (0, logger_1.redactedTag)(identifier), type });
        let reply;
        try {
            reply = await this.connection
                .dispatcher()
                .script(scripts[algorithm], [keys_1.CacheKeys.rateLimit(type, identifier)], [String(windowMs), String(maxRequests), String(capacity)], scriptReply);
        }
        catch (error) {
            return (0, access_1.failSoft)('Rate limiter error', { ...who(), failOpen: checked.failOpen }, degraded(checked))(error);
        }
        const [allowed, count, slot, now] = reply;
        const remaining = algorithm === 'gcra' ? count : Math.max(0, maxRequests - count);
        const nextSlot = algorithm === 'gcra' ? slot : slot + windowMs;
        const resetTime = Math.ceil(nextSlot);
        const retryAfterMs = allowed ? 0 : Math.max(1, Math.ceil(nextSlot - now));
        if (!allowed)
            (0, logger_1.log)('warn', 'Rate limit exceeded', { ...who(), currentCount: algorithm === 'gcra' ? capacity : count });
        return { allowed, remaining, resetTime, retryAfterMs, degraded: false };
    }
    async resetLimit(identifier, type) {
        (0, errors_1.requireString)(identifier, 'identifier');
        requireType(type);
        try {
            const deleted = await this.connection
                .dispatcher()
                .command(['DEL', keys_1.CacheKeys.rateLimit(type, identifier)]);
            if (deleted !== 0 && deleted !== 1) {
                throw new errors_1.RedisLayerError('ERR_UNEXPECTED_REPLY', `DEL returned an unexpected reply: ${(0, errors_1.describeType)(deleted)}`);
            }
            return deleted === 1;
        }
        catch (error) {
            return (0, access_1.failSoft)('Rate limiter reset error', { identifierTag: (0, logger_1.redactedTag)(identifier), type }, false)(error);
        }
    }
}
exports.RateLimiter = RateLimiter;
function degraded({ windowMs, capacity, failOpen }) {
    const now = Date.now();
    return failOpen
        ? { allowed: true, remaining: capacity, resetTime: now + windowMs, retryAfterMs: 0, degraded: true }
        : {
            allowed: false,
            remaining: 0,
            resetTime: now + Math.min(windowMs, DEGRADED_RETRY_MS),
            retryAfterMs: Math.min(windowMs, DEGRADED_RETRY_MS),
            degraded: true,
        };
}
exports.rateLimiter = new RateLimiter();
