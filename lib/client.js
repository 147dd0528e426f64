"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.Multi = exports.RedisClient = void 0;
const dispatcher_1 = require("./dispatcher");
const errors_1 = require("./errors");
function toArgs(args, name) {
    if (!Array.isArray(args))
        throw new TypeError(`${name} must be an array of strings, got ${(0, errors_1.describeType)(args)}`);
    return args.map((arg, i) => {
        if (typeof arg === 'string')
            return arg;
        if (typeof arg === 'number' && Number.isFinite(arg))
            return String(arg);
        throw new TypeError(`${name}[${i}] must be a string or a finite number, got ${(0, errors_1.describeType)(arg)}`);
    });
}
const TRANSACTION = 'use client.multi() … exec() for an atomic batch, or a Lua script (EVAL) for check-and-set';
const PUBSUB = 'use the MessageBroker or getSubscriber(), which subscribe on a socket of their own';
const PER_SOCKET = 'it would apply to every service on this socket and be lost on reconnect';
/**
 * Commands that change the state of the socket they run on. Every service shares these
 * sockets, so such a command would change what other callers' commands mean (a `get`
 * queued inside someone's MULTI reads `QUEUED`); each entry says what to use instead.
 * `CLIENT …` entries are matched on their subcommand.
 */
const CONNECTION_STATE = {
    MULTI: TRANSACTION,
    EXEC: TRANSACTION,
    DISCARD: TRANSACTION,
    WATCH: TRANSACTION,
    UNWATCH: TRANSACTION,
    SELECT: 'set the `database` option of the RedisConnection (one connection per database)',
    SUBSCRIBE: PUBSUB,
    PSUBSCRIBE: PUBSUB,
    SSUBSCRIBE: PUBSUB,
    UNSUBSCRIBE: PUBSUB,
    PUNSUBSCRIBE: PUBSUB,
    SUNSUBSCRIBE: PUBSUB,
    MONITOR: 'run MONITOR from redis-cli',
    RESET: 'use connection.close() and a new RedisConnection',
    QUIT: 'use connection.close()',
    HELLO: 'the connection negotiates the protocol and credentials itself (`username`, `password` options)',
    AUTH: 'set the `username` and `password` options of the RedisConnection',
    READONLY: 'the connection routes cluster commands itself',
    READWRITE: 'the connection routes cluster commands itself',
    ASKING: 'the connection follows cluster redirections itself',
    SYNC: 'replication needs a socket of its own (redis-cli --rdb)',
    PSYNC: 'replication needs a socket of its own (redis-cli --rdb)',
    REPLCONF: 'replication needs a socket of its own',
    'CLIENT REPLY': PER_SOCKET,
    'CLIENT TRACKING': PER_SOCKET,
    'CLIENT CACHING': PER_SOCKET,
    'CLIENT SETNAME': PER_SOCKET,
    'CLIENT SETINFO': PER_SOCKET,
    'CLIENT NO-EVICT': PER_SOCKET,
    'CLIENT NO-TOUCH': PER_SOCKET,
};
/** A command's arguments as strings, refusing the commands above (any letter case). */
function commandArgs(args) {
    const checked = toArgs(args, 'args');
    const name = checked[0]?.toUpperCase();
    if (name === undefined)
        return checked;
    const command = name === 'CLIENT' && checked.length > 1 ? `${name} ${checked[1].toUpperCase()}` : name;
    const instead = CONNECTION_STATE[command];
    if (instead !== undefined) {
        throw new errors_1.RedisLayerError('ERR_UNSAFE_COMMAND', `${command} changes the state of the connection every service shares, so it is refused: ${instead}`);
    }
    return checked;
}
function keyList(keys, name) {
    return typeof keys === 'string' ? [keys] : (0, errors_1.requireStringArray)(keys, name);
}
function setArgs(key, value, options) {
    const args = ['SET', (0, errors_1.requireString)(key, 'key'), (0, errors_1.requireString)(value, 'value')];
    if (options?.EX !== undefined)
        args.push('EX', String((0, errors_1.requireTtl)(options.EX, 'options.EX')));
    if (options?.PX !== undefined)
        args.push('PX', String((0, errors_1.requireTtl)(options.PX, 'options.PX')));
    if (options?.NX)
        args.push('NX');
    if (options?.XX)
        args.push('XX');
    if (options?.KEEPTTL)
        args.push('KEEPTTL');
    if (options?.GET)
        args.push('GET');
    return args;
}
function msetArgs(pairs) {
    const args = ['MSET'];
    if (Array.isArray(pairs)) {
        const flat = pairs.flat();
        args.push(...(0, errors_1.requireStringArray)(flat, 'pairs'));
    }
    else if (pairs !== null && typeof pairs === 'object') {
        for (const [key, value] of Object.entries(pairs))
            args.push(key, (0, errors_1.requireString)(value, `pairs.${key}`));
    }
    else {
        throw new TypeError(`pairs must be an object or an array of [key, value], got ${(0, errors_1.describeType)(pairs)}`);
    }
    return args;
}
const toBoolean = (reply) => reply === 1;
/**
 * The general-purpose client `redisConnection.getClient()` returns: node-redis
 * names and result shapes for the commands the backend calls, `sendCommand` for
 * the rest.
 */
class RedisClient {
    /** @internal */
    dispatcher;
    /** @internal */
    constructor(dispatcher) {
        this.dispatcher = dispatcher;
    }
    /**
     * Runs any command: `sendCommand(['HSET', 'h', 'f', 'v'])`. Replies keep RESP2 shapes.
     * Commands that change the shared socket's state (MULTI, SELECT, SUBSCRIBE, CLIENT REPLY, …)
     * reject with a `RedisLayerError` of code `ERR_UNSAFE_COMMAND` naming what to use instead.
     */
    sendCommand(args) {
        return this.send(() => commandArgs(args));
    }
    get(key) {
        if (typeof key !== 'string')
            return (0, errors_1.rejectWith)(() => (0, errors_1.requireString)(key, 'key'));
        return this.dispatcher.get(key);
    }
    set(key, value, options) {
        return this.send(() => setArgs(key, value, options));
    }
    setEx(key, seconds, value) {
        return this.send(() => [
            'SETEX',
            (0, errors_1.requireString)(key, 'key'),
            String((0, errors_1.requireTtl)(seconds, 'seconds')),
            (0, errors_1.requireString)(value, 'value'),
        ]);
    }
    del(keys) {
        return this.send(() => ['DEL', ...keyList(keys, 'keys')], undefined, 0);
    }
    unlink(keys) {
        return this.send(() => ['UNLINK', ...keyList(keys, 'keys')], undefined, 0);
    }
    exists(keys) {
        return this.send(() => ['EXISTS', ...keyList(keys, 'keys')], undefined, 0);
    }
    mGet(keys) {
        return this.send(() => ['MGET', ...(0, errors_1.requireStringArray)(keys, 'keys')], undefined, []);
    }
    mSet(pairs) {
        return this.send(() => msetArgs(pairs), undefined, 'OK');
    }
    /** True when the timeout was set (node-redis v4 shape, which the seed relies on). */
    expire(key, seconds) {
        return this.send(() => ['EXPIRE', (0, errors_1.requireString)(key, 'key'), String((0, errors_1.requireTtl)(seconds, 'seconds'))], toBoolean);
    }
    ttl(key) {
        return this.send(() => ['TTL', (0, errors_1.requireString)(key, 'key')]);
    }
    incr(key) {
        return this.send(() => ['INCR', (0, errors_1.requireString)(key, 'key')]);
    }
    publish(channel, message) {
        return this.send(() => ['PUBLISH', (0, errors_1.requireString)(channel, 'channel'), (0, errors_1.requireString)(message, 'message')]);
    }
    ping() {
        return this.send(() => ['PING']);
    }
    /** A MULTI/EXEC transaction: chain commands, then `exec()`. */
    multi() {
        return new Multi(this.dispatcher, true);
    }
    /** Like `multi()` but without MULTI/EXEC: one round trip, not atomic. */
    pipeline() {
        return new Multi(this.dispatcher, false);
    }
    /**
     * Validates and queues at once (never in a later microtask), so calls reach Redis
     * in the order they were made. A command with no arguments after its name (e.g.
     * `del([])`) answers `empty` without a round trip.
     */
    send(build, map, empty) {
        let args;
        try {
            args = build();
        }
        catch (error) {
            return Promise.reject(error);
        }
        if (empty !== undefined && args.length === 1)
            return Promise.resolve(empty);
        return this.dispatcher.command(args, map);
    }
}
exports.RedisClient = RedisClient;
/** Queued commands sent in one round trip by `exec()`. Per-command errors come back in place as Errors. */
class Multi {
    dispatcher;
    atomic;
    commands = [];
    /** @internal */
    constructor(dispatcher, atomic) {
        this.dispatcher = dispatcher;
        this.atomic = atomic;
    }
    /** Queues any command; throws `ERR_UNSAFE_COMMAND` for the ones `sendCommand` refuses. */
    addCommand(args) {
        this.commands.push(commandArgs(args));
        return this;
    }
    get(key) {
        return this.addCommand(['GET', (0, errors_1.requireString)(key, 'key')]);
    }
    set(key, value, options) {
        this.commands.push(setArgs(key, value, options));
        return this;
    }
    setEx(key, seconds, value) {
        return this.addCommand([
            'SETEX',
            (0, errors_1.requireString)(key, 'key'),
            (0, errors_1.requireTtl)(seconds, 'seconds'),
            (0, errors_1.requireString)(value, 'value'),
        ]);
    }
    del(keys) {
        return this.addCommand(['DEL', ...keyList(keys, 'keys')]);
    }
    exists(keys) {
        return this.addCommand(['EXISTS', ...keyList(keys, 'keys')]);
    }
    expire(key, seconds) {
        return this.addCommand(['EXPIRE', (0, errors_1.requireString)(key, 'key'), (0, errors_1.requireTtl)(seconds, 'seconds')]);
    }
    ttl(key) {
        return this.addCommand(['TTL', (0, errors_1.requireString)(key, 'key')]);
    }
    incr(key) {
        return this.addCommand(['INCR', (0, errors_1.requireString)(key, 'key')]);
    }
    zAdd(key, members) {
        const list = Array.isArray(members) ? members : [members];
        return this.addCommand([
            'ZADD',
            (0, errors_1.requireString)(key, 'key'),
            ...list.flatMap((m) => [m.score, (0, errors_1.requireString)(m.value, 'value')]),
        ]);
    }
    zRemRangeByScore(key, min, max) {
        return this.addCommand(['ZREMRANGEBYSCORE', (0, errors_1.requireString)(key, 'key'), min, max]);
    }
    zCard(key) {
        return this.addCommand(['ZCARD', (0, errors_1.requireString)(key, 'key')]);
    }
    publish(channel, message) {
        return this.addCommand(['PUBLISH', (0, errors_1.requireString)(channel, 'channel'), (0, errors_1.requireString)(message, 'message')]);
    }
    exec() {
        if (this.commands.length === 0)
            return Promise.resolve([]);
        const commands = this.commands.splice(0);
        return this.dispatcher.pipeline(commands, this.atomic, dispatcher_1.inPlaceErrors);
    }
}
exports.Multi = Multi;
