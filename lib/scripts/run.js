"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.runScript = runScript;
exports.runPipeline = runPipeline;
exports.runCommand = runCommand;
exports.replicaAcks = replicaAcks;
const errors_1 = require("../errors");
/** The command client, or a rejected-style error with a stable code while not connected. */
function dispatcherOf(connection) {
    try {
        return connection.getClient().dispatcher;
    }
    catch (error) {
        throw new errors_1.RedisLayerError('ERR_NOT_CONNECTED', error?.message ?? String(error));
    }
}
/** Runs a registered script; rejects with a RedisLayerError on any Redis trouble. */
function runScript(connection, handle, keys, args, map) {
    try {
        const dispatcher = dispatcherOf(connection);
        return dispatcher.run((id) => dispatcher.native.script(id, handle, keys, args), map);
    }
    catch (error) {
        return Promise.reject(error);
    }
}
/** Several commands in one round trip (not atomic); a failed command rejects the whole call. */
function runPipeline(connection, commands) {
    try {
        const dispatcher = dispatcherOf(connection);
        return dispatcher.run((id) => dispatcher.native.pipeline(id, commands, false), (replies) => replies.map((reply) => {
            if (reply !== null && typeof reply === 'object' && !Array.isArray(reply))
                throw (0, errors_1.fromNative)(reply);
            return reply;
        }));
    }
    catch (error) {
        return Promise.reject(error);
    }
}
/** One command; rejects with a RedisLayerError on any Redis trouble. */
function runCommand(connection, args) {
    try {
        const dispatcher = dispatcherOf(connection);
        return dispatcher.run((id) => dispatcher.native.command(id, args));
    }
    catch (error) {
        return Promise.reject(error);
    }
}
/**
 * Redis WAIT on the node holding `key` (the EXISTS routes the pipeline there on a cluster
 * and orders it after the caller's write): how many replicas acknowledged, within timeoutMs.
 */
async function replicaAcks(connection, key, replicas, timeoutMs) {
    const replies = await runPipeline(connection, [
        ['EXISTS', key],
        ['WAIT', String(replicas), String(timeoutMs)],
    ]);
    const reached = replies[1];
    if (typeof reached !== 'number')
        throw (0, errors_1.unexpectedReply)('WAIT', reached);
    return reached;
}
