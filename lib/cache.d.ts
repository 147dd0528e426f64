import { type RedisConnection } from './connection';
/**
 * The seed's CacheService: JSON values under the caller's keys, failing soft
 * (a Redis error or a corrupt value is logged and answered with null / false / -1 / 0).
 */
export declare class CacheService {
    private readonly connection;
    private readonly flights;
    constructor(connection?: RedisConnection);
    get<T>(key: string): Promise<T | null>;
    set<T>(key: string, value: T, ttlSeconds?: number): Promise<boolean>;
    /** Deletes the key and cancels any fill of it in flight (its lease), so a value loaded before is not stored after. */
    del(key: string): Promise<boolean>;
    exists(key: string): Promise<boolean>;
    mget<T>(keys: string[]): Promise<(T | null)[]>;
    /**
     * Writes all pairs as one MULTI/EXEC of SET (… EX with a TTL), so no key is ever left without
     * its TTL. On a cluster the transaction is atomic per hash slot; if any part fails (or times
     * out), every key of the call is deleted so none is left holding part of it, and the answer is
     * false. A transaction is never re-sent by the cluster client, so the deletion, sent after the
     * failure on the same per-node connection, follows any write of the call that still lands.
     */
    mset<T>(keyValuePairs: Record<string, T>, ttlSeconds?: number): Promise<boolean>;
    expire(key: string, ttlSeconds: number): Promise<boolean>;
    /** Seconds left; -2 for a missing key and -1 for a key without TTL (as Redis says), -1 on error (as the seed). */
    ttl(key: string): Promise<number>;
    /** Deletes the keys matching a glob with SCAN + UNLINK in batches (never KEYS); resolves to the count. */
    flushPattern(pattern: string): Promise<number>;
    /**
     * Cache-aside with single flight: concurrent misses on one key run `loader` once
     * and share its value; a loader error rejects every waiter and caches nothing.
     * The value is stored only if no invalidation of the key (del, the services'
     * invalidate methods) happened since the load began (see fill.ts).
     */
    getOrSet<T>(key: string, loader: () => Promise<T> | T, ttlSeconds?: number): Promise<T>;
    /** The fill's lease token, taken before the load; null (logged) when Redis cannot give one: the value is then not stored. */
    private beginFill;
    private storeFill;
    private command;
}
export declare const cacheService: CacheService;
