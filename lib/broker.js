"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.messageBroker = exports.MessageBroker = void 0;
const node_crypto_1 = require("node:crypto");
const connection_1 = require("./connection");
const errors_1 = require("./errors");
const json_1 = require("./json");
const logger_1 = require("./logger");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding = require('../binding.js');
const DEFAULT_MAX_MESSAGES = 100_000;
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
// 64 random bits per process keep ids from different processes apart; the
// millisecond prefix (never going backwards here) keeps them in time order.
const ID_PREFIX = (0, node_crypto_1.randomBytes)(8).toString('hex');
let lastMillis = 0;
let sequence = 0;
function nextMessageId() {
    const now = Date.now();
    if (now > lastMillis) {
        lastMillis = now;
        sequence = 0;
    }
    else {
        sequence += 1;
    }
    return `${lastMillis}-${ID_PREFIX}-${sequence.toString(36).padStart(4, '0')}`;
}
function limitsFrom(options) {
    if (options === undefined || options === null)
        return {};
    if (typeof options !== 'object')
        throw new TypeError(`options must be an object, got ${(0, errors_1.describeType)(options)}`);
    const { maxQueuedMessages, maxQueuedBytes } = options;
    const check = (value, name) => {
        if (value === undefined)
            return undefined;
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 0xffffffff) {
            throw new TypeError(`options.${name} must be a positive integer, got ${String(value)}`);
        }
        return value;
    };
    return { maxMessages: check(maxQueuedMessages, 'maxQueuedMessages'), maxBytes: check(maxQueuedBytes, 'maxQueuedBytes') };
}
function requireCallback(value) {
    if (typeof value !== 'function')
        throw new TypeError(`callback must be a function, got ${(0, errors_1.describeType)(value)}`);
}
function callHandler(handler, message, channel) {
    const onError = (error) => (0, logger_1.log)('error', 'Message handler error', { channel, ...(0, logger_1.describeError)(error) });
    try {
        const result = handler(message, channel);
        if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
            result.then(undefined, onError);
        }
    }
    catch (error) {
        onError(error);
    }
}
/**
 * JSON.stringify({ ...message, timestamp: new Date(), messageId }) without the copy:
 * for a plain object the two members are appended to its own text (ISO dates and
 * message ids need no escaping). Anything else takes the spread.
 */
function messageText(message, messageId) {
    const plain = !Array.isArray(message) &&
        typeof message.toJSON !== 'function' &&
        !Object.prototype.hasOwnProperty.call(message, 'timestamp') &&
        !Object.prototype.hasOwnProperty.call(message, 'messageId');
    if (plain) {
        const body = JSON.stringify(message);
        const stamp = `"timestamp":"${new Date().toISOString()}","messageId":"${messageId}"}`;
        if (body === '{}')
            return `{${stamp}`;
        if (body.length > 2 && body.endsWith('}'))
            return `${body.slice(0, -1)},${stamp}`;
    }
    return (0, json_1.toJson)({ ...message, timestamp: new Date(), messageId }, 'message');
}
function toDate(value) {
    return typeof value === 'string' || typeof value === 'number' ? new Date(value) : new Date(NaN);
}
/** One pub/sub socket: subscribe-like calls settle by id, in batches, like `Dispatcher`. */
class SubscriberSocket {
    native;
    /** After close() the native socket refuses calls (it has released its callbacks). */
    closed = false;
    pending = new Map();
    nextId = 1;
    constructor(options, limits, onMessages) {
        this.native = new binding.NativeSubscriber(options, limits, (batch) => this.settle(batch), onMessages, ([level, message]) => (0, logger_1.log)(level, message, { role: 'broker' }));
    }
    run(submit) {
        const id = this.nextId;
        this.nextId = id === 0xffffffff ? 1 : id + 1;
        return new Promise((resolve, reject) => {
            this.pending.set(id, { resolve, reject });
            try {
                submit(id);
            }
            catch (error) {
                this.pending.delete(id);
                reject((0, errors_1.fromNative)(error));
            }
        });
    }
    close() {
        this.closed = true;
        this.native.close();
    }
    settle(batch) {
        for (let i = 0; i < batch.length; i += 3) {
            const entry = this.pending.get(batch[i]);
            if (entry === undefined)
                continue;
            this.pending.delete(batch[i]);
            if (batch[i + 1] === true) {
                entry.resolve();
            }
            else {
                const [code, message] = batch[i + 2];
                entry.reject(new errors_1.RedisLayerError(code, message));
            }
        }
    }
}
/**
 * The seed's MessageBroker: JSON messages over Redis pub/sub, one Redis
 * subscription per channel however many callbacks. Its own socket subscribes
 * lazily on first use, restores subscriptions after reconnects, and closes with
 * the connection.
 */
class MessageBroker {
    connection;
    limits;
    channels = new Map();
    patterns = new Map();
    socket;
    opened;
    outbox = [];
    sending = false;
    constructor(connection, options) {
        this.connection = connection ?? connection_1.redisConnection;
        this.limits = limitsFrom(options);
    }
    subscribe(channel, callback) {
        return this.add('channel', channel, callback);
    }
    unsubscribe(channel, callback) {
        return this.remove('channel', channel, callback);
    }
    /** Like `subscribe` for every channel matching a glob (`post:*`); the callback gets the channel too. */
    psubscribe(pattern, callback) {
        return this.add('pattern', pattern, callback);
    }
    punsubscribe(pattern, callback) {
        return this.remove('pattern', pattern, callback);
    }
    publish(channel, message) {
        let text;
        let messageId;
        try {
            (0, errors_1.requireString)(channel, 'channel');
            if (message === null || typeof message !== 'object') {
                throw new TypeError(`message must be an object, got ${(0, errors_1.describeType)(message)}`);
            }
            if (typeof message.type !== 'string')
                throw new TypeError(`message.type must be a string, got ${(0, errors_1.describeType)(message.type)}`);
            messageId = nextMessageId();
            text = messageText(message, messageId);
            this.connection.getPublisher(); // throws "Redis not connected" before connect()
        }
        catch (error) {
            return Promise.reject(error);
        }
        return new Promise((resolve, reject) => {
            this.outbox.push({ channel, text, messageId, resolve, reject });
            if (!this.sending)
                this.flush();
        });
    }
    /** @internal Messages received but not yet handed to callbacks (for backpressure tests). */
    get backlog() {
        return this.opened?.native.backlog ?? 0;
    }
    add(kind, name, callback) {
        try {
            (0, errors_1.requireString)(name, kind);
            requireCallback(callback);
        }
        catch (error) {
            return Promise.reject(error);
        }
        const map = kind === 'channel' ? this.channels : this.patterns;
        let subscription = map.get(name);
        if (!subscription) {
            const created = { handlers: new Set(), ready: Promise.resolve() };
            created.ready = this.open()
                .then((socket) => socket.run((id) => (kind === 'channel' ? socket.native.subscribe(id, name) : socket.native.psubscribe(id, name))))
                .catch((error) => {
                if (map.get(name) === created)
                    map.delete(name);
                throw error;
            });
            map.set(name, created);
            subscription = created;
        }
        subscription.handlers.add(callback);
        return subscription.ready.then(() => (0, logger_1.log)('info', kind === 'channel' ? 'Subscribed to channel' : 'Subscribed to pattern', { [kind]: name }));
    }
    remove(kind, name, callback) {
        try {
            (0, errors_1.requireString)(name, kind);
            requireCallback(callback);
        }
        catch (error) {
            return Promise.reject(error);
        }
        const map = kind === 'channel' ? this.channels : this.patterns;
        const subscription = map.get(name);
        if (!subscription || !subscription.handlers.delete(callback) || subscription.handlers.size > 0)
            return Promise.resolve();
        map.delete(name);
        const socket = this.socket;
        if (!socket)
            return Promise.resolve();
        return socket
            .then((open) => {
            // A closed socket has no subscriptions left to end.
            if (open.closed)
                return;
            return open.run((id) => (kind === 'channel' ? open.native.unsubscribe(id, name) : open.native.punsubscribe(id, name)));
        })
            .then(() => (0, logger_1.log)('info', kind === 'channel' ? 'Unsubscribed from channel' : 'Unsubscribed from pattern', { [kind]: name }));
    }
    /**
     * Sends everything published so far as one pipeline, and the next batch only
     * after it: PUBLISH reaches Redis in call order even when callers do not await,
     * which concurrent single commands on the client do not promise.
     */
    flush() {
        const batch = this.outbox.splice(0);
        this.sending = batch.length > 0;
        if (!this.sending)
            return;
        let publisher;
        try {
            publisher = this.connection.getPublisher();
        }
        catch (error) {
            for (const item of batch)
                item.reject((0, errors_1.fromNative)(error));
            this.flush();
            return;
        }
        const pipeline = publisher.pipeline();
        for (const item of batch)
            pipeline.publish(item.channel, item.text);
        pipeline
            .exec()
            .then((replies) => batch.forEach((item, i) => {
            const reply = replies[i];
            if (reply instanceof Error)
                return item.reject(reply);
            item.resolve(reply);
            (0, logger_1.log)('debug', 'Message published', { channel: item.channel, messageId: item.messageId });
        }), (error) => batch.forEach((item) => item.reject(error)))
            .finally(() => this.flush());
    }
    /** The broker's socket, opened on first use and closed with the connection. */
    open() {
        if (this.socket)
            return this.socket;
        let socket;
        try {
            this.connection.getPublisher(); // throws "Redis not connected" before connect()
            socket = new SubscriberSocket(this.connection.nativeOptions(), this.limits, (batch) => this.onMessages(batch));
        }
        catch (error) {
            return Promise.reject((0, errors_1.fromNative)(error));
        }
        const unhook = this.connection.onClose(() => this.reset(socket, unhook));
        const opening = socket.run((id) => socket.native.connect(id)).then(() => socket, (error) => {
            this.reset(socket, unhook);
            throw error;
        });
        this.socket = opening;
        this.opened = socket;
        return opening;
    }
    reset(socket, unhook) {
        unhook();
        socket.close();
        if (this.opened !== socket)
            return;
        this.socket = undefined;
        this.opened = undefined;
        this.channels.clear();
        this.patterns.clear();
    }
    onMessages(batch) {
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
                const payload = batch[i + 2];
                if (typeof payload === 'string')
                    this.deliver(batch[i], batch[i + 1], payload);
                // What no JavaScript string can hold comes as its size in bytes (src/subscriber.rs).
                else
                    (0, logger_1.log)('error', 'Pub/sub message dropped: too large for a JavaScript string', { channel: batch[i + 1], bytes: payload });
            }
        }
        catch (error) {
            (0, logger_1.log)('error', 'Message delivery error', (0, logger_1.describeError)(error));
        }
    }
    deliver(pattern, channel, payload) {
        const subscription = pattern === null ? this.channels.get(channel) : this.patterns.get(pattern);
        if (!subscription || subscription.handlers.size === 0)
            return;
        let message;
        try {
            const parsed = JSON.parse(payload);
            if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
                throw new SyntaxError('message is not a JSON object');
            // The parsed object is ours alone: the timestamp is revived in place (same key order as a copy).
            const fields = parsed;
            fields.timestamp = toDate(fields.timestamp);
            message = fields;
        }
        catch (error) {
            (0, logger_1.log)('error', 'Message parsing error', { channel, ...(0, logger_1.describeError)(error) });
            return;
        }
        const { handlers } = subscription;
        if (handlers.size === 1) {
            callHandler(handlers.values().next().value, message, channel);
            return;
        }
        // A snapshot: handlers added while this message is delivered get the next one.
        for (const handler of [...handlers])
            callHandler(handler, message, channel);
    }
}
exports.MessageBroker = MessageBroker;
exports.messageBroker = new MessageBroker();
