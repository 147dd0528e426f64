import { type RedisConnection } from './connection';
/** The backend's user repository, as plain async functions; any JSON-serialisable objects with a string `id`. */
export interface WarmingUserRepository<U extends {
    id: string;
} = {
    id: string;
}> {
    findByIds(ids: string[]): Promise<U[]>;
    getActiveUsers(limit: number): Promise<U[]>;
}
export interface WarmingPostRepository<P extends {
    id: string;
} = {
    id: string;
}> {
    findByIds(ids: string[]): Promise<P[]>;
    getTrendingPosts(limit: number): Promise<P[]>;
}
export interface WarmingRepositories {
    userRepository?: WarmingUserRepository;
    postRepository?: WarmingPostRepository;
}
/** The seed's schedule: every 30 minutes. */
export declare const DEFAULT_WARMING_INTERVAL_MS: number;
/**
 * The seed's CacheWarmingService. Repositories are the backend's, handed in at
 * construction or with setRepositories(); every item is validated and serialised
 * before the first write, and a key is written only if no invalidation of it happened
 * since its load began (fill leases, see fill.ts).
 */
export declare class CacheWarmingService {
    private readonly connection;
    private repositories;
    private timer;
    private detachCloseHook;
    private popularRuns;
    constructor(repositories?: WarmingRepositories, connection?: RedisConnection);
    setRepositories(repositories: WarmingRepositories): void;
    /** True while a schedule is active. */
    get isScheduled(): boolean;
    warmUserCache(userIds: string[]): Promise<void>;
    warmPostCache(postIds: string[]): Promise<void>;
    /**
     * As the seed: the 100 trending posts and the 1000 most active users, each re-read
     * with findByIds. Everything is fetched and validated before the first write.
     */
    warmPopularContent(): Promise<void>;
    /**
     * Runs warmPopularContent every `intervalMs` (default 30 minutes, first run after one
     * interval, as the seed). A tick that finds a run still going is skipped; a failed run
     * is logged and the schedule continues. The timer never keeps Node alive, and closing
     * the connection stops it. Calling it again replaces the previous schedule.
     */
    scheduleCacheWarming(intervalMs?: number): Promise<void>;
    stopCacheWarming(): void;
    /** Loads and stores the entities of `ids` (one repository); resolves to how many were stored. */
    private warm;
    private tick;
    private repository;
}
export declare const cacheWarmingService: CacheWarmingService;
