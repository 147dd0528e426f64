"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.failSoft = failSoft;
exports.softly = softly;
exports.replicaAcks = replicaAcks;
const dispatcher_1 = require("./dispatcher");
const errors_1 = require("./errors");
const logger_1 = require("./logger");
/** Logs the trouble as `context` (with `meta`, then the error's code and message) and answers `fallback`. */
function failSoft(context, meta, fallback) {
    return (error) => {
        (0, logger_1.log)('error', context, { ...meta, ...(0, logger_1.describeError)(error) });
        return fallback;
    };
}
/** Runs `call` on the command socket, or, when not connected, answers what `recover` makes of that. */
function softly(connection, recover, call) {
    let dispatcher;
    try {
        dispatcher = connection.dispatcher();
    }
    catch (error) {
        return Promise.resolve(recover(error));
    }
    return call(dispatcher);
}
/**
 * Strict: Redis WAIT on the node holding `key` (the EXISTS routes the pipeline there on a
 * cluster and orders it after the caller's write): how many replicas acknowledged, within
 * timeoutMs.
 */
async function replicaAcks(connection, key, replicas, timeoutMs) {
    const replies = await connection.dispatcher().pipeline([
        ['EXISTS', key],
        ['WAIT', String(replicas), String(timeoutMs)],
    ], false, dispatcher_1.allOrError);
    const reached = replies[1];
    if (typeof reached !== 'number')
        throw (0, errors_1.unexpectedReply)('WAIT', reached);
    return reached;
}
