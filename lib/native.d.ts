import type { NativeOptions } from '../binding';
import { RedisLayerError } from './errors';
import { NativeQueue } from './queue';
export type { NativeOptions };
export declare const registerScript: (source: string) => number;
export declare const describeTarget: (options: NativeOptions) => string;
/**
 * One native socket. Calls are queued by id; the native side answers in batches
 * (one wake-up of this thread for many results), and results are turned into
 * values here, in the caller's realm.
 */
export declare class Dispatcher {
    readonly native: NativeQueue;
    private readonly pending;
    private nextId;
    constructor(options: NativeOptions, role: string);
    /**
     * Queues one operation. `map` turns the reply into the result; `recover` turns a
     * Redis error into a result (fail-soft services) or rethrows it.
     */
    run<T>(submit: (id: number) => void, map?: (reply: any) => T, recover?: (error: RedisLayerError) => T): Promise<T>;
    /** `GET key`, without the closure `run` needs: the hottest call of every cache. */
    get<T>(key: string, map?: (reply: any) => T, recover?: (error: RedisLayerError) => T): Promise<T>;
    /** `SET key value [EX ttl]`, resolving to the raw reply unless mapped. */
    set<T>(key: string, value: string, ttlSeconds: number | undefined, map?: (reply: any) => T, recover?: (error: RedisLayerError) => T): Promise<T>;
    /** Any command as `[name, ...args]`. */
    command<T>(args: string[], map?: (reply: any) => T, recover?: (error: RedisLayerError) => T): Promise<T>;
    get inFlight(): number;
    private take;
    private track;
    /** A batch native code refused as a whole (a bug, not a Redis error): fail its calls. */
    private failBatch;
    private settle;
}
