"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.toJson = toJson;
exports.fromJson = fromJson;
exports.parseOrMiss = parseOrMiss;
exports.shapedOrMiss = shapedOrMiss;
const errors_1 = require("./errors");
const logger_1 = require("./logger");
/** `JSON.stringify` exactly (toJSON, Dates as ISO strings), but a value JSON cannot hold is an error, not `undefined`. */
function toJson(value, name = 'value') {
    const text = JSON.stringify(value);
    if (text === undefined) {
        throw new TypeError(`${name} cannot be represented as JSON (${value === undefined ? 'undefined' : typeof value})`);
    }
    return text;
}
/** Parses stored JSON; a value that is not JSON throws a SyntaxError for the caller to treat as a miss. */
function fromJson(text) {
    if (text === null || text === undefined)
        return null;
    if (typeof text !== 'string')
        throw new SyntaxError('stored value is not a string');
    return JSON.parse(text);
}
/** Stored JSON parsed; a value that is not JSON is bad data, logged and answered as a miss (null). */
function parseOrMiss(text, key) {
    try {
        return fromJson(text);
    }
    catch (error) {
        (0, logger_1.log)('warn', 'Cache get error: stored value is not JSON, treated as a miss', { key, ...(0, logger_1.describeError)(error) });
        return null;
    }
}
/**
 * A parsed value of the wrong shape (say, a string where the seed stores an array) is bad
 * data like corrupt JSON: logged and answered as a miss.
 */
function shapedOrMiss(value, key, expected) {
    if (value === null)
        return null;
    const ok = expected === 'array' ? Array.isArray(value) : typeof value === 'object' && !Array.isArray(value);
    if (ok)
        return value;
    (0, logger_1.log)('warn', `Cache get error: stored value is not an ${expected}, treated as a miss`, {
        key,
        got: (0, errors_1.describeType)(value),
    });
    return null;
}
