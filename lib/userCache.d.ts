import { type RedisConnection } from './connection';
/** The seed's TTLs in seconds; cache warming writes with the same ones. */
export declare const USER_TTL = 3600;
export declare const FRIENDS_TTL = 1800;
export declare const PROFILE_TTL = 7200;
/**
 * The seed's UserCacheService: users, friend lists and profiles as JSON under
 * `CacheKeys`, failing soft like CacheService (errors and bad data are logged misses).
 * Generic so the backend's own `User` type flows through unchanged.
 */
export declare class UserCacheService {
    private readonly connection;
    private readonly cache;
    constructor(connection?: RedisConnection);
    getUser<T = any>(userId: string): Promise<T | null>;
    setUser<T extends {
        id: string;
    }>(user: T): Promise<void>;
    getUserFriends(userId: string): Promise<string[] | null>;
    setUserFriends(userId: string, friendIds: string[]): Promise<void>;
    getUserProfile<T = any>(userId: string): Promise<T | null>;
    setUserProfile<T extends {
        id: string;
    }>(user: T): Promise<void>;
    /** One UNLINK of the four user keys and their fill leases (cancelling fills in flight): one round trip instead of the seed's four. */
    invalidateUser(userId: string): Promise<void>;
    invalidateUserFriends(userId: string): Promise<void>;
    /** Writes the user and its profile (the seed's two SETs, sent together). */
    warmUserCache<T extends {
        id: string;
    }>(user: T): Promise<void>;
}
export declare const userCacheService: UserCacheService;
