import { type Dispatcher } from './dispatcher';
export type RedisArgument = string | number;
export interface SetOptions {
    /** Expire after this many seconds. */
    EX?: number;
    /** Expire after this many milliseconds. */
    PX?: number;
    /** Only set when the key does not exist. */
    NX?: boolean;
    /** Only set when the key exists. */
    XX?: boolean;
    /** Keep the key's current TTL. */
    KEEPTTL?: boolean;
    /** Return the previous value. */
    GET?: boolean;
}
/**
 * The general-purpose client `redisConnection.getClient()` returns: node-redis
 * names and result shapes for the commands the backend calls, `sendCommand` for
 * the rest.
 */
export declare class RedisClient {
    /** @internal */
    readonly dispatcher: Dispatcher;
    /** @internal */
    constructor(dispatcher: Dispatcher);
    /**
     * Runs any command: `sendCommand(['HSET', 'h', 'f', 'v'])`. Replies keep RESP2 shapes.
     * Commands that change the shared socket's state (MULTI, SELECT, SUBSCRIBE, CLIENT REPLY, …)
     * reject with a `RedisLayerError` of code `ERR_UNSAFE_COMMAND` naming what to use instead.
     */
    sendCommand<T = unknown>(args: string[]): Promise<T>;
    get(key: string): Promise<string | null>;
    set(key: string, value: string, options?: SetOptions): Promise<string | null>;
    setEx(key: string, seconds: number, value: string): Promise<string>;
    del(keys: string | string[]): Promise<number>;
    unlink(keys: string | string[]): Promise<number>;
    exists(keys: string | string[]): Promise<number>;
    mGet(keys: string[]): Promise<(string | null)[]>;
    mSet(pairs: Record<string, string> | Array<[string, string]> | string[]): Promise<string>;
    /** True when the timeout was set (node-redis v4 shape, which the seed relies on). */
    expire(key: string, seconds: number): Promise<boolean>;
    ttl(key: string): Promise<number>;
    incr(key: string): Promise<number>;
    publish(channel: string, message: string): Promise<number>;
    ping(): Promise<string>;
    /** A MULTI/EXEC transaction: chain commands, then `exec()`. */
    multi(): Multi;
    /** Like `multi()` but without MULTI/EXEC: one round trip, not atomic. */
    pipeline(): Multi;
    /**
     * Validates and queues at once (never in a later microtask), so calls reach Redis
     * in the order they were made. A command with no arguments after its name (e.g.
     * `del([])`) answers `empty` without a round trip.
     */
    private send;
}
/** Queued commands sent in one round trip by `exec()`. Per-command errors come back in place as Errors. */
export declare class Multi {
    private readonly dispatcher;
    private readonly atomic;
    private readonly commands;
    /** @internal */
    constructor(dispatcher: Dispatcher, atomic: boolean);
    /** Queues any command; throws `ERR_UNSAFE_COMMAND` for the ones `sendCommand` refuses. */
    addCommand(args: RedisArgument[]): this;
    get(key: string): this;
    set(key: string, value: string, options?: SetOptions): this;
    setEx(key: string, seconds: number, value: string): this;
    del(keys: string | string[]): this;
    exists(keys: string | string[]): this;
    expire(key: string, seconds: number): this;
    ttl(key: string): this;
    incr(key: string): this;
    zAdd(key: string, members: {
        score: number;
        value: string;
    } | Array<{
        score: number;
        value: string;
    }>): this;
    zRemRangeByScore(key: string, min: number | string, max: number | string): this;
    zCard(key: string): this;
    publish(channel: string, message: string): this;
    exec<T extends unknown[] = unknown[]>(): Promise<T>;
}
