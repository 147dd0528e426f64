"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.runScript = runScript;
exports.runPipeline = runPipeline;
exports.runCommand = runCommand;
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
