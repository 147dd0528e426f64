import type { NativeOptions } from '../binding';
import type { RedisLayerError } from './errors';
import { Calls } from './pending';
/**
 * One command socket. Every operation takes an id and is queued (see NativeQueue); the
 * native side answers in batches (one wake-up of this thread for many results) and
 * `Calls` turns each reply into its caller's value. Each method takes the same optional
 * `map` (reply → result) and `recover` (Redis error → result, for fail-soft callers).
 */
export declare class Dispatcher extends Calls {
    private readonly native;
    constructor(options: NativeOptions, role: string);
    get isConnected(): boolean;
    /** `GET key`. */
    get<T>(key: string, map?: (reply: any) => T, recover?: (error: RedisLayerError) => T): Promise<T>;
    /** `SET key value [EX ttlSeconds]`. */
    set<T>(key: string, value: string, ttlSeconds: number | undefined, map?: (reply: any) => T, recover?: (error: RedisLayerError) => T): Promise<T>;
    /** Any command as `[name, ...args]`. */
    command<T>(args: string[], map?: (reply: any) => T, recover?: (error: RedisLayerError) => T): Promise<T>;
    /**
     * Several commands in one round trip (`atomic`: MULTI/EXEC). Replies come in call order; a
     * failed command's reply is its error in place, as `{ code, message }` (see inPlaceErrors).
     */
    pipeline<T>(commands: string[][], atomic: boolean, map?: (replies: any) => T, recover?: (error: RedisLayerError) => T): Promise<T>;
    /** A script registered with `registerScript`. */
    script<T>(handle: number, keys: string[], args: string[], map?: (reply: any) => T, recover?: (error: RedisLayerError) => T): Promise<T>;
    /** An MGET whose reply is `[arrayText, [index, raw, ...]]`: the values that are JSON spliced into one array text. */
    jsonArray<T>(args: string[], map?: (reply: [string, unknown[]]) => T, recover?: (error: RedisLayerError) => T): Promise<T>;
    /** Deletes the keys matching `pattern` (SCAN + UNLINK, `count` per step); the reply is how many. */
    scanDelete<T>(pattern: string, count: number, map?: (reply: number) => T, recover?: (error: RedisLayerError) => T): Promise<T>;
    /** Opens the socket; rejects (naming the cause) within the connect timeout. */
    connect(): Promise<void>;
    /** @internal Panics in native code on purpose (in the operation's task, or at once), for the test suite. */
    panicForTesting(inTask: boolean): Promise<unknown>;
    /** Sends what is queued, then ends the socket; calls in flight still settle. */
    close(): void;
    /** A batch native code refused as a whole (a bug, not a Redis error): fail its calls. */
    private failBatch;
}
/** A pipeline's replies with each failed command's `{ code, message }` turned into an Error, in place. */
export declare function inPlaceErrors(replies: unknown[]): unknown[];
/** A pipeline's replies, or its first failed command's error, thrown. */
export declare function allOrError(replies: unknown[]): unknown[];
