import { failSoft } from './access';
import { CacheService, type CacheServiceOptions } from './cache';
import type { LocalCacheStats } from './local';
import { redisConnection, type RedisConnection } from './connection';
import { describeType, requireEntityId, requireString } from './errors';
import { CacheKeys } from './keys';
import { withLeases } from './fill';
import { type Serializer, shapedOrMiss } from './json';
import { log } from './logger';

/** The seed's TTLs in seconds; cache warming writes with the same ones. */
export const USER_TTL = 3600;
export const FRIENDS_TTL = 1800;
export const PROFILE_TTL = 7200;

/**
 * The seed's UserCacheService: users, friend lists and profiles as JSON under
 * `CacheKeys`, failing soft like CacheService (errors and bad data are logged misses).
 * Generic so the backend's own `User` type flows through unchanged.
 */
export class UserCacheService {
  private readonly connection: RedisConnection;
  private readonly cache: CacheService<Serializer>;

  /** `options.serializer`: how values are stored (default: the seed's JSON); warming must use the same one. */
  constructor(connection?: RedisConnection, options?: CacheServiceOptions<Serializer>) {
    this.connection = connection ?? redisConnection;
    this.cache = new CacheService(this.connection, options);
  }
  /** What the local tier (`options.local`) has done, or null when it is off. */
  localStats(): LocalCacheStats | null {
    return this.cache.localStats();
  }

  async getUser<T = unknown>(userId: string): Promise<T | null> {
    const key = CacheKeys.user(requireString(userId, 'userId'));
    return shapedOrMiss<T>(await this.cache.get(key), key, 'object');
  }

  async setUser<T extends { id: string }>(user: T): Promise<void> {
    await this.cache.set(CacheKeys.user(requireEntityId(user, 'user')), user, USER_TTL);
  }

  async getUserFriends(userId: string): Promise<string[] | null> {
    const key = CacheKeys.userFriends(requireString(userId, 'userId'));
    return shapedOrMiss<string[]>(await this.cache.get(key), key, 'array');
  }

  async setUserFriends(userId: string, friendIds: string[]): Promise<void> {
    const key = CacheKeys.userFriends(requireString(userId, 'userId'));
    if (!Array.isArray(friendIds)) throw new TypeError(`friendIds must be an array, got ${describeType(friendIds)}`);
    await this.cache.set(key, friendIds, FRIENDS_TTL);
  }

  async getUserProfile<T = unknown>(userId: string): Promise<T | null> {
    const key = CacheKeys.userProfile(requireString(userId, 'userId'));
    return shapedOrMiss<T>(await this.cache.get(key), key, 'object');
  }

  async setUserProfile<T extends { id: string }>(user: T): Promise<void> {
    await this.cache.set(CacheKeys.userProfile(requireEntityId(user, 'user')), user, PROFILE_TTL);
  }

  /** One UNLINK of the four user keys and their fill leases (cancelling fills in flight): one round trip instead of the seed's four. */
  async invalidateUser(userId: string): Promise<void> {
    const id = requireString(userId, 'userId');
    const keys = withLeases([
      CacheKeys.user(id),
      CacheKeys.userFriends(id),
      CacheKeys.userProfile(id),
      CacheKeys.userSettings(id),
    ]);
    try {
      await this.connection.dispatcher().command(['UNLINK', ...keys]);
      log('info', 'User cache invalidated', { userId: id });
    } catch (error) {
      failSoft('User cache invalidation error', { userId: id }, undefined)(error);
    }
  }

  async invalidateUserFriends(userId: string): Promise<void> {
    await this.cache.del(CacheKeys.userFriends(requireString(userId, 'userId')));
  }

  /** Writes the user and its profile (the seed's two SETs, sent together). */
  async warmUserCache<T extends { id: string }>(user: T): Promise<void> {
    requireEntityId(user, 'user');
    await Promise.all([this.setUser(user), this.setUserProfile(user)]);
  }
}

export const userCacheService = new UserCacheService();
