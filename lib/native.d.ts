import type { NativeClient as NativeClientHandle, NativeOptions } from '../binding';
import { RedisLayerError } from './errors';
export type { NativeOptions };
export declare const registerScript: (source: string) => number;
export declare const describeTarget: (options: NativeOptions) => string;
/**
 * The native socket's operations, queued in call order and handed to native code
 * once per microtask turn (or every SLICE calls) as one flat array: one crossing for
 * many commands instead of one each. Operations that are not commands on the socket's
 * lane (connect, scanDelete, close) first send what is queued, so nothing overtakes.
 */
export declare class NativeQueue {
    private readonly client;
    private readonly onFlushError;
    private ops;
    private scheduled;
    private queued;
    private readonly flushNow;
    /** @internal */
    constructor(client: NativeClientHandle, onFlushError: (ops: unknown[], error: unknown) => void);
    get isConnected(): boolean;
    get(id: number, key: string): void;
    set(id: number, key: string, value: string, ttlSeconds?: number | null): void;
    command(id: number, args: string[]): void;
    /** An MGET answered as `[arrayText, [index, raw, ...]]` (src/json_array.rs). */
    jsonArray(id: number, args: string[]): void;
    pipeline(id: number, commands: string[][], atomic: boolean): void;
    script(id: number, handle: number, keys: string[], args: string[]): void;
    connect(id: number): void;
    scanDelete(id: number, pattern: string, count: number): void;
    panicForTesting(id: number, inTask: boolean): void;
    close(): void;
    /** Sends everything queued now. */
    flush(): void;
    private schedule;
}
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
