"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.messageBroker = exports.MessageBroker = void 0;
const node_crypto_1 = require("node:crypto");
const connection_1 = require("./connection");
const dispatcher_1 = require("./dispatcher");
const errors_1 = require("./errors");
const json_1 = require("./json");
const logger_1 = require("./logger");
const subscriber_1 = require("./subscriber");
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
/** The inbox bounds the options ask for, or undefined for none (the shared socket's). */
function limitsFrom(options) {
    if (options === undefined || options === null)
        return undefined;
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
    const maxMessages = check(maxQueuedMessages, 'maxQueuedMessages');
    const maxBytes = check(maxQueuedBytes, 'maxQueuedBytes');
    return maxMessages === undefined && maxBytes === undefined ? undefined : { maxMessages, maxBytes };
}
/**
 * JSON.stringify({ ...message, timestamp: new Date(), messageId }) without the copy:
 * for a plain object the two members are appended to its own text (ISO dates and
 * message ids need no escaping). Anything else takes the spread.
 */
function messageText(message, messageId) {
    const plain = !Array.isArray(message) &&
        typeof message.toJSON !== 'function' &&
        !Object.hasOwn(message, 'timestamp') &&
        !Object.hasOwn(message, 'messageId');
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
/**
 * The seed's MessageBroker: JSON messages over Redis pub/sub, one Redis subscription per
 * channel however many callbacks. It subscribes on the connection's subscriber socket (or
 * on one of its own, see MessageBrokerOptions), which restores subscriptions after
 * reconnects; closing the connection ends them. It publishes on the publishing socket.
 */
class MessageBroker {
    connection;
    limits;
    channels = new subscriber_1.Fanout();
    patterns = new subscriber_1.Fanout();
    /** The subscriber of this broker's subscriptions, from first use until the connection closes. */
    attached;
    current;
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
            this.connection.dispatcher('publisher'); // throws ERR_NOT_CONNECTED before connect()
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
        return this.current?.backlog ?? 0;
    }
    add(kind, name, callback) {
        try {
            (0, subscriber_1.requireSubscription)(name, kind, callback, 'callback');
        }
        catch (error) {
            return Promise.reject(error);
        }
        const open = (handlers) => {
            const relay = (payload, channel) => deliver(handlers, payload, channel);
            const ready = this.subscriber().then((subscriber) => kind === 'channel' ? subscriber.subscribe(name, relay) : subscriber.pSubscribe(name, relay));
            return { relay, ready };
        };
        return this.fanout(kind)
            .add(name, callback, open)
            .then(() => (0, logger_1.log)('info', kind === 'channel' ? 'Subscribed to channel' : 'Subscribed to pattern', { [kind]: name }));
    }
    remove(kind, name, callback) {
        try {
            (0, subscriber_1.requireSubscription)(name, kind, callback, 'callback');
        }
        catch (error) {
            return Promise.reject(error);
        }
        const close = (relay) => {
            const attached = this.attached;
            if (!attached)
                return Promise.resolve();
            return attached
                .then((subscriber) => kind === 'channel' ? subscriber.unsubscribe(name, relay) : subscriber.pUnsubscribe(name, relay))
                .then(() => (0, logger_1.log)('info', kind === 'channel' ? 'Unsubscribed from channel' : 'Unsubscribed from pattern', { [kind]: name }));
        };
        return this.fanout(kind).remove(name, callback, close);
    }
    fanout(kind) {
        return kind === 'channel' ? this.channels : this.patterns;
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
        let published;
        try {
            const commands = batch.map((item) => ['PUBLISH', item.channel, item.text]);
            published = this.connection.dispatcher('publisher').pipeline(commands, false, dispatcher_1.inPlaceErrors);
        }
        catch (error) {
            for (const item of batch)
                item.reject((0, errors_1.fromNative)(error));
            this.flush();
            return;
        }
        published
            .then((replies) => {
            batch.forEach((item, i) => {
                const reply = replies[i];
                if (reply instanceof Error) {
                    item.reject(reply);
                    return;
                }
                item.resolve(reply);
                (0, logger_1.log)('debug', 'Message published', { channel: item.channel, messageId: item.messageId });
            });
        }, (error) => {
            for (const item of batch)
                item.reject(error);
        })
            .finally(() => this.flush());
    }
    /**
     * The subscriber of this broker's subscriptions, from first use: the connection's, or
     * with inbox bounds one of its own, opened here. Both end with the connection.
     */
    subscriber() {
        if (this.attached)
            return this.attached;
        const own = this.limits !== undefined;
        let subscriber;
        try {
            if (own) {
                this.connection.dispatcher(); // throws ERR_NOT_CONNECTED before connect()
                subscriber = new subscriber_1.Subscriber(this.connection.nativeOptions(), 'broker', this.limits);
            }
            else {
                subscriber = this.connection.getSubscriber();
            }
        }
        catch (error) {
            return Promise.reject((0, errors_1.fromNative)(error));
        }
        const unhook = this.connection.onClose(() => this.reset(subscriber, unhook));
        const attached = own
            ? subscriber.connect().then(() => subscriber, (error) => {
                this.reset(subscriber, unhook);
                throw error;
            })
            : Promise.resolve(subscriber);
        this.attached = attached;
        this.current = subscriber;
        return attached;
    }
    reset(subscriber, unhook) {
        unhook();
        if (this.limits !== undefined)
            subscriber.close();
        if (this.current !== subscriber)
            return;
        this.attached = undefined;
        this.current = undefined;
        this.channels.clear();
        this.patterns.clear();
    }
}
exports.MessageBroker = MessageBroker;
/** Parses one message's text and hands it to every handler of its subscription. */
function deliver(handlers, payload, channel) {
    if (handlers.size === 0)
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
    (0, subscriber_1.callEach)(handlers, message, channel);
}
exports.messageBroker = new MessageBroker();
