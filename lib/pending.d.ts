import type { RedisLayerError } from './errors';
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
 * Not a `Map`: under this churn a Map rehashes often, and each backing store it leaves
 * behind still points at the entries it held. Such a store is garbage, but in V8's old
 * generation young GC cannot tell, so every call's promise, and the reply it was given,
 * lived until the next full GC: half of what a reply-heavy workload allocated was
 * promoted (measured, 16 callers x 100 `get`s: 3.3 k -> 7.6 k rounds/s, 823 -> 11 MB
 * promoted and 27 -> 1 full GCs in 3 s; 100-key mget 2.2 k -> 3.7 k calls/s). Ids are
 * sequential, so live ones rarely share a slot; the older of two that do moves to a
 * small overflow map.
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
