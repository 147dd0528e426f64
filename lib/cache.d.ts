import type { RedisClient } from './client';
import { RedisConnection } from './connection';
/**
 * The seed's CacheService: JSON values under the caller's keys, failing soft
 * (a Redis error or a corrupt value is logged and answered with null / false / -1 / 0).
 */
export declare class CacheService {
    private readonly connection;
    private readonly loading;
    constructor(connection?: RedisConnection);
    get<T>(key: string): Promise<T | null>;
    set<T>(key: string, value: T, ttlSeconds?: number): Promise<boolean>;
    del(key: string): Promise<boolean>;
    exists(key: string): Promise<boolean>;
    mget<T>(keys: string[]): Promise<(T | null)[]>;
    /** Writes all pairs; with a TTL, atomically (MULTI/EXEC of SET … EX), so no key is ever left without one. */
    mset<T>(keyValuePairs: Record<string, T>, ttlSeconds?: number): Promise<boolean>;
    expire(key: string, ttlSeconds: number): Promise<boolean>;
    /** Seconds left; -2 for a missing key and -1 for a key without TTL (as Redis says), -1 on error (as the seed). */
    ttl(key: string): Promise<number>;
    /** Deletes the keys matching a glob with SCAN + UNLINK in batches (never KEYS); resolves to the count. */
    flushPattern(pattern: string): Promise<number>;
    /**
     * Cache-aside with single flight: concurrent misses on one key run `loader` once
     * and share its value; a loader error rejects every waiter and caches nothing.
     */
    getOrSet<T>(key: string, loader: () => Promise<T> | T, ttlSeconds?: number): Promise<T>;
    /** @internal The command client, or null (logged) while not connected. */
    client(context: string, meta: Record<string, unknown>): RedisClient | null;
    private command;
}
export declare const cacheService: CacheService;
