import type { NativeClient as NativeClientHandle, NativeOptions } from '../binding';
import { RedisLayerError } from './errors';
export type { NativeOptions };
export declare const registerScript: (source: string) => number;
/**
 * One native socket. Calls are queued by id; the native side answers in batches
 * (one wake-up of this thread for many results), and results are turned into
 * values here, in the caller's realm.
 */
export declare class Dispatcher {
    readonly native: NativeClientHandle;
    private readonly pending;
    private nextId;
    constructor(options: NativeOptions, role: string);
    /**
     * Queues one operation. `map` turns the reply into the result; `recover` turns a
     * Redis error into a result (fail-soft services) or rethrows it.
     */
    run<T>(submit: (id: number) => void, map?: (reply: any) => T, recover?: (error: RedisLayerError) => T): Promise<T>;
    get inFlight(): number;
    private settle;
}
