"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.connectRedis = exports.redisConnection = exports.RedisConnection = void 0;
const client_1 = require("./client");
const dispatcher_1 = require("./dispatcher");
const errors_1 = require("./errors");
const logger_1 = require("./logger");
const native_1 = require("./native");
const subscriber_1 = require("./subscriber");
function nodeList(value, name) {
    if (!Array.isArray(value) || value.length === 0 || value.some((node) => typeof node !== 'string')) {
        throw new TypeError(`${name} must be a non-empty array of URL strings`);
    }
    return value;
}
function pem(value, name) {
    if (value === undefined)
        return undefined;
    if (typeof value === 'string')
        return value;
    // Uint8Array (Buffer included) keeps the public typings free of Node's types.
    if (ArrayBuffer.isView(value))
        return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
    throw new TypeError(`${name} must be a PEM string or Buffer, got ${(0, errors_1.describeType)(value)}`);
}
/** What the native socket needs, from validated options. */
function toNative(options) {
    const { cluster, sentinel, tls, ...plain } = options;
    const native = { ...plain };
    if (cluster !== undefined)
        native.clusterNodes = nodeList(cluster?.nodes, 'options.cluster.nodes');
    if (sentinel !== undefined) {
        if (typeof sentinel?.masterName !== 'string' || sentinel.masterName === '') {
            throw new TypeError('options.sentinel.masterName must be a non-empty string');
        }
        native.sentinelMasterName = sentinel.masterName;
        native.sentinelNodes = nodeList(sentinel.nodes, 'options.sentinel.nodes');
        for (const name of ['masterUsername', 'masterPassword']) {
            const value = sentinel[name];
            if (value !== undefined && typeof value !== 'string') {
                throw new TypeError(`options.sentinel.${name} must be a string, got ${(0, errors_1.describeType)(value)}`);
            }
        }
        native.sentinelMasterUsername = sentinel.masterUsername;
        native.sentinelMasterPassword = sentinel.masterPassword;
    }
    if (tls !== undefined) {
        if (tls === null || typeof tls !== 'object')
            throw new TypeError('options.tls must be an object');
        native.tlsCa = pem(tls.ca, 'options.tls.ca');
        native.tlsCert = pem(tls.cert, 'options.tls.cert');
        native.tlsKey = pem(tls.key, 'options.tls.key');
        if ((native.tlsCert === undefined) !== (native.tlsKey === undefined)) {
            throw new TypeError('options.tls.cert and options.tls.key go together');
        }
    }
    return native;
}
const NUMERIC_OPTIONS = [
    'database',
    'connectTimeoutMs',
    'commandTimeoutMs',
    'reconnectDelayMs',
    'maxReconnectDelayMs',
];
const STRING_OPTIONS = ['url', 'password', 'username'];
/** Checks the options and turns them into the native sockets' settings, once. */
function validate(options) {
    if (options === undefined || options === null)
        return {};
    if (typeof options !== 'object')
        throw new TypeError(`options must be an object, got ${(0, errors_1.describeType)(options)}`);
    const given = options;
    for (const name of STRING_OPTIONS) {
        if (given[name] !== undefined && typeof given[name] !== 'string') {
            throw new TypeError(`options.${name} must be a string, got ${(0, errors_1.describeType)(given[name])}`);
        }
    }
    for (const name of NUMERIC_OPTIONS) {
        const value = given[name];
        if (value === undefined)
            continue;
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
            throw new TypeError(`options.${name} must be a non-negative integer, got ${String(value)}`);
        }
    }
    return toNative(given);
}
const nonEmpty = (value) => value === undefined || value === '' ? undefined : value;
/**
 * Fills what the options left open from `env` (this realm's `process.env` at connect() time:
 * Jest gives each test file its own): REDIS_URL, REDIS_PASSWORD, and REDIS_CLUSTER_NODES when
 * no URL is set at all. Native code never reads the environment.
 */
function withEnvironment(options, env) {
    const native = { ...options };
    native.password ??= nonEmpty(env.REDIS_PASSWORD);
    if (native.url !== undefined || native.clusterNodes !== undefined || native.sentinelNodes !== undefined) {
        return { native, source: 'options' };
    }
    native.url = nonEmpty(env.REDIS_URL);
    if (native.url !== undefined)
        return { native, source: 'REDIS_URL' };
    const nodes = (env.REDIS_CLUSTER_NODES ?? '')
        .split(',')
        .map((node) => node.trim())
        .filter((node) => node !== '');
    if (nodes.length > 0) {
        native.clusterNodes = nodes;
        return { native, source: 'REDIS_CLUSTER_NODES' };
    }
    return { native, source: 'default URL' };
}
/** Same settings, whatever the key order. */
function sameOptions(a, b) {
    const canonical = (options) => JSON.stringify(Object.entries(options)
        .filter(([, value]) => value !== undefined)
        .sort(([x], [y]) => (x < y ? -1 : 1)));
    return canonical(a) === canonical(b);
}
const notConnected = () => new errors_1.RedisLayerError('ERR_NOT_CONNECTED', 'Redis not connected');
/**
 * The seed's three connections, each one socket that reconnects by itself: commands
 * (`getClient()`), publishing (`getPublisher()`) and subscriptions (`getSubscriber()`,
 * which every MessageBroker of the connection shares). Commands issued while a socket is
 * down fail at once instead of queueing.
 */
class RedisConnection {
    native;
    /** The settings of the last connect(), environment applied. */
    resolved;
    sockets;
    connecting;
    /** Sockets of the connect() in progress, so close() can end them before they are installed. */
    opening = [];
    /** Counts close() calls: a connect() that sees it change lost to a close. */
    closes = 0;
    closeHooks = new Set();
    constructor(options) {
        this.native = validate(options);
    }
    /** True between a successful connect() and close() while the command socket is up. */
    get isConnected() {
        return this.sockets?.client.isConnected === true;
    }
    /** Opens all three connections; rejects (naming the cause) within connectTimeoutMs. */
    connect() {
        if (this.sockets)
            return Promise.resolve();
        if (!this.connecting) {
            const connecting = this.open().finally(() => {
                if (this.connecting === connecting)
                    this.connecting = undefined;
            });
            this.connecting = connecting;
        }
        return this.connecting;
    }
    /**
     * @internal connectRedis(options): new settings for a connection that is not connected; the same
     * settings again are fine; other settings while connected (or connecting) are an Error.
     */
    reconfigure(options) {
        const native = validate(options);
        if (sameOptions(native, this.native))
            return;
        if (this.sockets || this.connecting) {
            throw new Error('connectRedis(options): the shared connection is already connected with other options; close() it first, or use new RedisConnection(options)');
        }
        this.native = native;
    }
    /** The command client. Throws a RedisLayerError (ERR_NOT_CONNECTED) before connect() and after close(), as every getter. */
    getClient() {
        return this.connected().clientApi;
    }
    /** The pub/sub socket: subscribe / pSubscribe with listeners that get each message's text and channel. */
    getSubscriber() {
        return this.connected().subscriber;
    }
    /** The client of the publishing socket. */
    getPublisher() {
        return this.connected().publisherApi;
    }
    /** Ends every socket, reconnect loop and registered service timer. */
    async close() {
        for (const hook of [...this.closeHooks]) {
            try {
                hook();
            }
            catch (error) {
                (0, logger_1.log)('error', 'Redis close hook failed', { message: error?.message });
            }
        }
        // Counted first: a connect() still opening gives up its sockets when it sees the count change.
        this.closes += 1;
        this.connecting = undefined;
        const opening = this.opening;
        this.opening = [];
        for (const socket of opening)
            socket.close();
        const sockets = this.sockets;
        this.sockets = undefined;
        if (!sockets)
            return;
        for (const socket of [sockets.client, sockets.publisher, sockets.subscriber])
            socket.close();
        (0, logger_1.log)('info', 'Redis connections closed');
    }
    /**
     * @internal How services reach Redis: the dispatcher of the command socket (or of the
     * publishing one). Throws ERR_NOT_CONNECTED before connect() and after close(); see access.ts.
     */
    dispatcher(role = 'client') {
        return this.connected()[role];
    }
    /** @internal Services that own timers or subscriptions stop them here. */
    onClose(hook) {
        this.closeHooks.add(hook);
        return () => this.closeHooks.delete(hook);
    }
    /** @internal Settings for sockets a service opens itself (a message broker with inbox bounds of its own). */
    nativeOptions() {
        return { ...(this.resolved ?? withEnvironment(this.native, process.env).native) };
    }
    connected() {
        if (!this.sockets)
            throw notConnected();
        return this.sockets;
    }
    async open() {
        const closes = this.closes;
        const failed = (error) => {
            (0, logger_1.log)('error', 'Redis connection failed', (0, logger_1.describeError)(error));
            throw error;
        };
        const { native, source } = withEnvironment(this.native, process.env);
        let target;
        try {
            target = (0, native_1.describeTarget)(native);
        }
        catch (error) {
            return failed((0, errors_1.fromNative)(error));
        }
        (0, logger_1.log)('info', `Redis connecting to ${target} (${source})`);
        this.resolved = native;
        const client = new dispatcher_1.Dispatcher(native, 'client');
        const publisher = new dispatcher_1.Dispatcher(native, 'publisher');
        // The broker's socket: its events log with the broker's role.
        const subscriber = new subscriber_1.Subscriber(native, 'broker');
        const all = [client, publisher, subscriber];
        this.opening = all;
        const results = await Promise.allSettled(all.map((socket) => socket.connect()));
        if (this.opening === all)
            this.opening = [];
        const failure = results.find((result) => result.status === 'rejected');
        if (failure || this.closes !== closes) {
            for (const socket of all)
                socket.close();
        }
        if (this.closes !== closes)
            throw new errors_1.RedisLayerError('ERR_CLOSED', 'Redis connection was closed while connecting');
        if (failure)
            return failed(failure.reason);
        this.sockets = {
            client,
            publisher,
            subscriber,
            clientApi: new client_1.RedisClient(client),
            publisherApi: new client_1.RedisClient(publisher),
        };
        (0, logger_1.log)('info', 'All Redis connections established');
    }
}
exports.RedisConnection = RedisConnection;
exports.redisConnection = new RedisConnection();
/**
 * Connects the shared `redisConnection`, first applying `options` (the same as
 * `new RedisConnection(options)`'s). Rejects with an Error when it is already connected with
 * other options.
 */
const connectRedis = (options) => (0, errors_1.rejectWith)(() => {
    if (options !== undefined)
        exports.redisConnection.reconfigure(options);
}).then(() => exports.redisConnection.connect());
exports.connectRedis = connectRedis;
