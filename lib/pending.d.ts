import { RedisLayerError } from './errors';
/** A call in flight: how to settle its promise. */
export interface Pending {
    id: number;
    resolve(value: unknown): void;
    reject(error: Error): void;
    map?: (reply: any) => unknown;
    recover?: (error: RedisLayerError) => unknown;
}
/**
 * Calls in flight by id: a slot array indexed by the id's low bits, cleared on take.
 * Not a `Map`: a churning Map rehashes, and the backing stores it leaves behind in the
 * old generation keep every call's promise and reply alive until the next full GC.
 * Ids are sequential, so live ones rarely share a slot; the older of two that do moves
 * to a small overflow map.
 */
export declare class PendingTable {
    private slots;
    private mask;
    private readonly overflow;
    private count;
    get size(): number;
    add(entry: Pending): void;
    take(id: number): Pending | undefined;
    private place;
    private grow;
}
/** A batch of completions by column: each call's id, whether it failed, and its reply or `[code, message]`. */
export type Columns = [ids: Uint32Array, failed: Uint8Array, payloads: unknown[]];
/**
 * The calls in flight on one native socket. A call takes an id, the native side answers
 * by id in batches (`settle`), and each promise settles with its reply turned into a value
 * here, in the caller's realm: `map` turns a reply into the result, `recover` turns a Redis
 * error into a result (fail-soft callers) or, when absent, the promise rejects.
 * @internal
 */
export declare class Calls {
    private readonly pending;
    private nextId;
    /** The next call's id. */
    take(): number;
    /** The promise of call `id`, settled by `settle` (or `refuse`). */
    track<T>(id: number, map?: (reply: any) => T, recover?: (error: RedisLayerError) => T): Promise<T>;
    /**
     * One call submitted at once rather than queued (operations that are not commands on the
     * socket's lane); native code may refuse it there (a closed socket), which rejects it.
     */
    submit<T>(submit: (id: number) => void, map?: (reply: any) => T, recover?: (error: RedisLayerError) => T): Promise<T>;
    /** Rejects call `id`, which native code refused before it started (a closed socket, a bug). */
    refuse(id: number, error: unknown): void;
    /** Settles one batch of completions. */
    settle([ids, failed, payloads]: Columns): void;
}
