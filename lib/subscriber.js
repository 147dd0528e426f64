"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.Subscriber = exports.Fanout = void 0;
exports.callListener = callListener;
exports.callEach = callEach;
exports.requireSubscription = requireSubscription;
const errors_1 = require("./errors");
const logger_1 = require("./logger");
const native_1 = require("./native");
const pending_1 = require("./pending");
const DEFAULT_MAX_MESSAGES = 100_000;
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/**
 * @internal Listeners per channel (or pattern) name, and the one subscription a name has
 * while it has listeners: the first listener opens it, the last one gone closes it. `R` is
 * what the opener keeps for the closer (the broker's relay on the subscriber socket).
 */
class Fanout {
    entries = new Map();
    /** The listeners of `name`, while it has any. */
    listeners(name) {
        return this.entries.get(name)?.listeners;
    }
    /** Adds `listener`; resolves once the name's subscription is in place (a failed one is forgotten). */
    add(name, listener, open) {
        let entry = this.entries.get(name);
        if (!entry) {
            const listeners = new Set();
            const { relay, ready } = open(listeners);
            const created = { listeners, relay, ready };
            created.ready = ready.catch((error) => {
                if (this.entries.get(name) === created)
                    this.entries.delete(name);
                throw error;
            });
            this.entries.set(name, created);
            entry = created;
        }
        entry.listeners.add(listener);
        return entry.ready;
    }
    /** Removes `listener` (every listener of the name when undefined); the last one gone closes the subscription. */
    remove(name, listener, close) {
        const entry = this.entries.get(name);
        if (!entry)
            return Promise.resolve();
        if (listener === undefined)
            entry.listeners.clear();
        else if (!entry.listeners.delete(listener))
            return Promise.resolve();
        if (entry.listeners.size > 0)
            return Promise.resolve();
        this.entries.delete(name);
        return close(entry.relay);
    }
    clear() {
        this.entries.clear();
    }
}
exports.Fanout = Fanout;
/** Calls `listener`; a throw or a rejected promise it returns is logged, never passed on to the native callback. */
function callListener(listener, message, channel) {
    const onError = (error) => (0, logger_1.log)('error', 'Message handler error', { channel, ...(0, logger_1.describeError)(error) });
    try {
        const result = listener(message, channel);
        if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
            result.then(undefined, onError);
        }
    }
    catch (error) {
        onError(error);
    }
}
/** Calls every listener of a subscription with one message. */
function callEach(listeners, message, channel) {
    if (listeners.size === 1) {
        callListener(listeners.values().next().value, message, channel);
        return;
    }
    // A snapshot: listeners added while this message is delivered get the next one.
    for (const listener of [...listeners])
        callListener(listener, message, channel);
}
/** A name to subscribe to and a function to call, checked: bad ones are a TypeError naming them. */
function requireSubscription(name, kind, listener, listenerName) {
    (0, errors_1.requireString)(name, kind);
    if (typeof listener !== 'function')
        throw new TypeError(`${listenerName} must be a function, got ${(0, errors_1.describeType)(listener)}`);
}
/**
 * The connection's pub/sub socket (`redisConnection.getSubscriber()`, the seed's subscriber
 * connection), shared by every MessageBroker of the connection. One Redis subscription per
 * channel or pattern however many listeners; subscriptions are restored after reconnects
 * and end with the connection. Listeners get the raw text; MessageBroker adds the JSON.
 */
class Subscriber {
    limits;
    native;
    calls = new pending_1.Calls();
    channels = new Fanout();
    patterns = new Fanout();
    closed = false;
    /** @internal Events log with `role`; past `limits` the oldest undelivered messages are dropped (logged). */
    constructor(options, role, limits = {}) {
        this.limits = limits;
        this.native = new native_1.binding.NativeSubscriber(options, limits, (batch) => this.calls.settle(batch), (batch) => this.receive(batch), ([level, message]) => (0, logger_1.log)(level, message, { role }));
    }
    /** Calls `listener` with every message published to `channel` from now on. */
    subscribe(channel, listener) {
        return this.add(this.channels, 'channel', 'subscribe', channel, listener);
    }
    /** Stops calling `listener` (every listener of the channel when none is given). */
    unsubscribe(channel, listener) {
        return this.remove(this.channels, 'channel', 'unsubscribe', channel, listener);
    }
    /** Like `subscribe` for every channel matching a glob (`post:*`). */
    pSubscribe(pattern, listener) {
        return this.add(this.patterns, 'pattern', 'psubscribe', pattern, listener);
    }
    /** Stops calling `listener` for the pattern (every listener of it when none is given). */
    pUnsubscribe(pattern, listener) {
        return this.remove(this.patterns, 'pattern', 'punsubscribe', pattern, listener);
    }
    /** True while the socket is up. */
    get isConnected() {
        return !this.closed && this.native.isConnected;
    }
    /** @internal Messages received but not yet handed to listeners (for backpressure tests). */
    get backlog() {
        return this.closed ? 0 : this.native.backlog;
    }
    /** @internal Opens the socket; rejects (naming the cause) within the connect timeout. */
    connect() {
        return this.send('connect', '');
    }
    /** @internal Ends the socket and every subscription; later calls reject with ERR_CLOSED. */
    close() {
        this.closed = true;
        this.channels.clear();
        this.patterns.clear();
        this.native.close();
    }
    add(fanout, kind, op, name, listener) {
        try {
            requireSubscription(name, kind, listener, 'listener');
        }
        catch (error) {
            return Promise.reject(error);
        }
        return fanout.add(name, listener, () => ({ relay: undefined, ready: this.send(op, name) }));
    }
    remove(fanout, kind, op, name, listener) {
        try {
            (0, errors_1.requireString)(name, kind);
            if (listener !== undefined && typeof listener !== 'function') {
                throw new TypeError(`listener must be a function, got ${(0, errors_1.describeType)(listener)}`);
            }
        }
        catch (error) {
            return Promise.reject(error);
        }
        // A closed socket has no subscriptions left to end.
        return fanout.remove(name, listener, () => (this.closed ? Promise.resolve() : this.send(op, name)));
    }
    /** One native call by id, settled by `Calls.settle` like the command socket's. */
    send(op, name) {
        return this.calls.submit((id) => (op === 'connect' ? this.native.connect(id) : this.native[op](id, name)));
    }
    /** One batch of messages: `[dropped, pattern | null, channel, payload, ...]` (src/subscriber.rs). */
    receive(batch) {
        // A throw escaping here would be an uncaught exception on the native callback.
        try {
            const dropped = batch[0];
            if (dropped > 0) {
                (0, logger_1.log)('warn', 'Pub/sub messages dropped: callbacks fell behind and the queue was full', {
                    dropped,
                    maxQueuedMessages: this.limits.maxMessages ?? DEFAULT_MAX_MESSAGES,
                    maxQueuedBytes: this.limits.maxBytes ?? DEFAULT_MAX_BYTES,
                });
            }
            for (let i = 1; i < batch.length; i += 3) {
                const pattern = batch[i];
                const channel = batch[i + 1];
                const payload = batch[i + 2];
                // What no JavaScript string can hold comes as its size in bytes.
                if (typeof payload !== 'string') {
                    (0, logger_1.log)('error', 'Pub/sub message dropped: too large for a JavaScript string', { channel, bytes: payload });
                    continue;
                }
                const listeners = pattern === null ? this.channels.listeners(channel) : this.patterns.listeners(pattern);
                if (listeners !== undefined)
                    callEach(listeners, payload, channel);
            }
        }
        catch (error) {
            (0, logger_1.log)('error', 'Message delivery error', (0, logger_1.describeError)(error));
        }
    }
}
exports.Subscriber = Subscriber;
