import type { Dispatcher } from './dispatcher';
/** How long a lease lives: a load that takes longer is returned to its caller but not stored. */
export declare const LEASE_TTL_MS = 60000;
/** `{key}:lease`, in the key's hash slot (see sameSlotKey). */
export declare function leaseKey(key: string): string;
/** The keys an invalidation deletes: each key followed by its lease, so one DEL/UNLINK cancels the fills in flight. */
export declare function withLeases(keys: string[]): string[];
/** One fill to store: the key, the lease token its fill began with, the JSON text and a TTL in seconds. */
export type Fill = [key: string, token: string, json: string, ttlSeconds: number | undefined];
/** Takes (or joins) a lease for each key, before the load; resolves to the tokens in key order. */
export declare function beginFills(dispatcher: Dispatcher, keys: string[]): Promise<string[]>;
/** Stores each fill whose lease still holds; resolves to which were stored (false: invalidated or lease expired). */
export declare function storeFills(dispatcher: Dispatcher, fills: Fill[]): Promise<boolean[]>;
/** Deletes a key and its lease in one step; resolves to whether the key existed. */
export declare function deleteWithLease(dispatcher: Dispatcher, key: string): Promise<boolean>;
/**
 * Single flight: concurrent runs for one key share the first one's promise. The map holds
 * a holder that forgets the promise when it settles, so a churning Map's old backing
 * stores (see PendingTable) cannot keep loaded values alive.
 */
export declare class SingleFlight {
    private readonly running;
    run<T>(key: string, start: () => Promise<T>): Promise<T>;
}
