"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.Dispatcher = void 0;
exports.inPlaceErrors = inPlaceErrors;
exports.allOrError = allOrError;
const errors_1 = require("./errors");
const logger_1 = require("./logger");
const native_1 = require("./native");
const pending_1 = require("./pending");
const queue_1 = require("./queue");
/**
 * One command socket. Every operation takes an id and is queued (see NativeQueue); the
 * native side answers in batches (one wake-up of this thread for many results) and
 * `Calls` turns each reply into its caller's value. Each method takes the same optional
 * `map` (reply → result) and `recover` (Redis error → result, for fail-soft callers).
 */
class Dispatcher extends pending_1.Calls {
    native;
    constructor(options, role) {
        super();
        const client = new native_1.binding.NativeClient(options, (batch) => this.settle(batch), ([level, message]) => (0, logger_1.log)(level, message, { role }));
        this.native = new queue_1.NativeQueue(client, (ops, error) => this.failBatch(ops, error));
    }
    get isConnected() {
        return this.native.isConnected;
    }
    /** `GET key`. */
    get(key, map, recover) {
        const id = this.take();
        this.native.get(id, key);
        return this.track(id, map, recover);
    }
    /** `SET key value [EX ttlSeconds]`. */
    set(key, value, ttlSeconds, map, recover) {
        const id = this.take();
        this.native.set(id, key, value, ttlSeconds);
        return this.track(id, map, recover);
    }
    /** Any command as `[name, ...args]`. */
    command(args, map, recover) {
        const id = this.take();
        this.native.command(id, args);
        return this.track(id, map, recover);
    }
    /**
     * Several commands in one round trip (`atomic`: MULTI/EXEC). Replies come in call order; a
     * failed command's reply is its error in place, as `{ code, message }` (see inPlaceErrors).
     */
    pipeline(commands, atomic, map, recover) {
        const id = this.take();
        this.native.pipeline(id, commands, atomic);
        return this.track(id, map, recover);
    }
    /** A script registered with `registerScript`. */
    script(handle, keys, args, map, recover) {
        const id = this.take();
        this.native.script(id, handle, keys, args);
        return this.track(id, map, recover);
    }
    /** An MGET whose reply is `[arrayText, [index, raw, ...]]`: the values that are JSON spliced into one array text. */
    jsonArray(args, map, recover) {
        const id = this.take();
        this.native.jsonArray(id, args);
        return this.track(id, map, recover);
    }
    /** Deletes the keys matching `pattern` (SCAN + UNLINK, `count` per step); the reply is how many. */
    scanDelete(pattern, count, map, recover) {
        return this.submit((id) => this.native.scanDelete(id, pattern, count), map, recover);
    }
    /** Opens the socket; rejects (naming the cause) within the connect timeout. */
    connect() {
        return this.submit((id) => this.native.connect(id));
    }
    /** @internal Panics in native code on purpose (in the operation's task, or at once), for the test suite. */
    panicForTesting(inTask) {
        return this.submit((id) => this.native.panicForTesting(id, inTask));
    }
    /** Sends what is queued, then ends the socket; calls in flight still settle. */
    close() {
        this.native.close();
    }
    /** A batch native code refused as a whole (a bug, not a Redis error): fail its calls. */
    failBatch(ops, error) {
        const failure = (0, errors_1.fromNative)(error);
        for (const id of (0, queue_1.batchIds)(ops))
            this.refuse(id, failure);
    }
}
exports.Dispatcher = Dispatcher;
/** A pipeline's replies with each failed command's `{ code, message }` turned into an Error, in place. */
function inPlaceErrors(replies) {
    return replies.map((reply) => (isErrorReply(reply) ? (0, errors_1.fromNative)(reply) : reply));
}
/** A pipeline's replies, or its first failed command's error, thrown. */
function allOrError(replies) {
    for (const reply of replies)
        if (isErrorReply(reply))
            throw (0, errors_1.fromNative)(reply);
    return replies;
}
/** A failed command inside a pipeline reply: the only plain object a reply can be. */
const isErrorReply = (reply) => reply !== null && typeof reply === 'object' && !Array.isArray(reply);
