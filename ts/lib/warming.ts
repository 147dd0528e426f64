import { redisConnection, type RedisConnection } from './connection';
import type { Dispatcher } from './dispatcher';
import { describeType, requireStringArray } from './errors';
import { beginFills, type Fill, storeFills } from './fill';
import { encode, type Serializer, serializerOf } from './json';

import { CacheKeys } from './keys';
import { describeError, log } from './logger';
import { POST_TTL } from './postCache';
import { PROFILE_TTL, USER_TTL } from './userCache';

/** The backend's user repository, as plain async functions; any JSON-serialisable objects with a string `id`. */
export interface WarmingUserRepository<U extends { id: string } = { id: string }> {
  findByIds(ids: string[]): Promise<U[]>;
  getActiveUsers(limit: number): Promise<U[]>;
}

export interface WarmingPostRepository<P extends { id: string } = { id: string }> {
  findByIds(ids: string[]): Promise<P[]>;
  getTrendingPosts(limit: number): Promise<P[]>;
}

export interface WarmingRepositories {
  userRepository?: WarmingUserRepository | undefined;
  postRepository?: WarmingPostRepository | undefined;
}

/** The seed's schedule: every 30 minutes. */
export const DEFAULT_WARMING_INTERVAL_MS = 30 * 60 * 1000;
const TRENDING_POSTS = 100;
const ACTIVE_USERS = 1000;
const MAX_TIMER_MS = 2 ** 31 - 1;

type Entity = { id: string };

function checkRepository(value: unknown, name: string, methods: string[]): void {
  if (value === undefined) return;
  if (value === null || typeof value !== 'object')
    throw new TypeError(`${name} must be an object, got ${describeType(value)}`);
  for (const method of methods) {
    if (typeof (value as Record<string, unknown>)[method] !== 'function') {
      throw new TypeError(`${name}.${method} must be a function`);
    }
  }
}

function checkRepositories(value: unknown): WarmingRepositories {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object') throw new TypeError(`repositories must be an object, got ${describeType(value)}`);
  const { userRepository, postRepository } = value as WarmingRepositories;
  checkRepository(userRepository, 'repositories.userRepository', ['findByIds', 'getActiveUsers']);
  checkRepository(postRepository, 'repositories.postRepository', ['findByIds', 'getTrendingPosts']);
  return { userRepository, postRepository };
}

/** Calls a repository method; a sync throw or a rejection both reject with the repository's own error. */
async function call(repository: object, method: string, arg: unknown, name: string): Promise<Entity[]> {
  let result: unknown;
  try {
    result = await (repository as Record<string, (a: unknown) => unknown>)[method](arg);
  } catch (error) {
    throw error instanceof Error ? error : new Error(String(error));
  }
  if (!Array.isArray(result))
    throw new TypeError(`${name}.${method} must resolve to an array, got ${describeType(result)}`);
  result.forEach((item, i) => {
    if (item === null || typeof item !== 'object' || typeof (item as { id?: unknown }).id !== 'string') {
      throw new TypeError(`${name}.${method} returned an item without a string id at index ${i}`);
    }
  });
  return result as Entity[];
}

function serialise(serializer: Serializer, item: Entity, name: string): string {
  try {
    return encode(serializer, item, name);
  } catch (error) {
    throw new TypeError(`${name} cannot be stored as JSON: ${(error as Error)?.message ?? String(error)}`);
  }
}

/** The keys warming writes for one entity id, with their TTLs. */
type Layout = (id: string) => Array<[key: string, ttl: number]>;
const userLayout: Layout = (id) => [
  [CacheKeys.user(id), USER_TTL],
  [CacheKeys.userProfile(id), PROFILE_TTL],
];
const postLayout: Layout = (id) => [[CacheKeys.post(id), POST_TTL]];

/**
 * Takes the fill leases of every key of `ids` (before the database is read, so an
 * invalidation during the read cancels that key's write), then loads the entities and
 * serialises them. Entities for ids it was not asked for (or returned twice) are left out.
 */
async function load(
  serializer: Serializer,
  redis: Dispatcher,
  repository: object,
  name: string,
  layout: Layout,
  ids: string[],
): Promise<Fill[]> {
  if (ids.length === 0) return [];
  const keys = ids.flatMap((id) => layout(id));
  const tokens = await beginFills(
    redis,
    keys.map(([key]) => key),
  );
  const leased = new Map(keys.map(([key], i) => [key, tokens[i]]));
  const entities = await call(repository, 'findByIds', ids, name);
  return entities.flatMap((entity, i): Fill[] => {
    const json = serialise(serializer, entity, `${name}.findByIds()[${i}]`);
    return layout(entity.id).flatMap(([key, ttl]): Fill[] => {
      const token = leased.get(key);
      leased.delete(key);
      return token === undefined ? [] : [[key, token, json, ttl]];
    });
  });
}

/** Stores the fills whose leases still hold (sent together); any Redis error rejects the whole call. */
async function write(redis: Dispatcher, fills: Fill[]): Promise<void> {
  const stored = await storeFills(redis, fills);
  const cancelled = stored.filter((ok) => !ok).length;
  if (cancelled > 0) log('info', 'Cache warming skipped keys invalidated while loading', { keys: cancelled });
}

/**
 * The seed's CacheWarmingService. Repositories are the backend's, handed in at
 * construction or with setRepositories(); every item is validated and serialised
 * before the first write, and a key is written only if no invalidation of it happened
 * since its load began (fill leases, see fill.ts).
 */
export class CacheWarmingService {
  private readonly connection: RedisConnection;
  private readonly serializer: Serializer;
  private repositories: WarmingRepositories;
  private timer: NodeJS.Timeout | undefined;
  private detachCloseHook: (() => void) | undefined;
  private popularRuns = 0;

  /** `options.serializer` must be the one the user and post caches read with (default: the seed's JSON). */
  constructor(
    repositories?: WarmingRepositories,
    connection?: RedisConnection,
    options?: { serializer?: Serializer | undefined },
  ) {
    this.repositories = checkRepositories(repositories);
    this.connection = connection ?? redisConnection;
    this.serializer = serializerOf(options);
  }

  setRepositories(repositories: WarmingRepositories): void {
    if (repositories === undefined || repositories === null)
      throw new TypeError(`repositories must be an object, got ${describeType(repositories)}`);
    this.repositories = { ...this.repositories, ...checkRepositories(repositories) };
  }

  /** True while a schedule is active. */
  get isScheduled(): boolean {
    return this.timer !== undefined;
  }

  async warmUserCache(userIds: string[]): Promise<void> {
    const count = await this.warm('userRepository', userLayout, requireStringArray(userIds, 'userIds'));
    log('info', 'User cache warmed', { count });
  }

  async warmPostCache(postIds: string[]): Promise<void> {
    const count = await this.warm('postRepository', postLayout, requireStringArray(postIds, 'postIds'));
    log('info', 'Post cache warmed', { count });
  }

  /**
   * As the seed: the 100 trending posts and the 1000 most active users, each re-read
   * with findByIds. Everything is fetched and validated before the first write.
   */
  async warmPopularContent(): Promise<void> {
    const users = this.repository('userRepository');
    const posts = this.repository('postRepository');
    const redis = this.connection.dispatcher();
    this.popularRuns++;
    try {
      const trending = await call(posts, 'getTrendingPosts', TRENDING_POSTS, 'postRepository');
      const postBatch = await load(
        this.serializer,
        redis,
        posts,
        'postRepository',
        postLayout,
        trending.map((post) => post.id),
      );
      const active = await call(users, 'getActiveUsers', ACTIVE_USERS, 'userRepository');
      const userBatch = await load(
        this.serializer,
        redis,
        users,
        'userRepository',
        userLayout,
        active.map((user) => user.id),
      );
      await write(redis, [...postBatch, ...userBatch]);
      log('info', 'Popular content cache warmed', { posts: postBatch.length, users: userBatch.length / 2 });
    } finally {
      this.popularRuns--;
    }
  }

  /**
   * Runs warmPopularContent every `intervalMs` (default 30 minutes, first run after one
   * interval, as the seed). A tick that finds a run still going is skipped; a failed run
   * is logged and the schedule continues. The timer never keeps Node alive, and closing
   * the connection stops it. Calling it again replaces the previous schedule.
   */
  async scheduleCacheWarming(intervalMs: number = DEFAULT_WARMING_INTERVAL_MS): Promise<void> {
    if (typeof intervalMs !== 'number')
      throw new TypeError(`intervalMs must be a number, got ${describeType(intervalMs)}`);
    if (!Number.isFinite(intervalMs) || intervalMs < 1 || intervalMs > MAX_TIMER_MS) {
      throw new RangeError(`intervalMs must be between 1 and ${MAX_TIMER_MS}, got ${intervalMs}`);
    }
    this.stopCacheWarming();
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
    this.detachCloseHook = this.connection.onClose(() => this.stopCacheWarming());
  }

  stopCacheWarming(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.detachCloseHook?.();
    this.detachCloseHook = undefined;
  }

  /** Loads and stores the entities of `ids` (one repository); resolves to how many were stored. */
  private async warm(name: keyof WarmingRepositories, layout: Layout, ids: string[]): Promise<number> {
    const repository = this.repository(name);
    const redis = this.connection.dispatcher();
    const fills = await load(this.serializer, redis, repository, name, layout, ids);
    await write(redis, fills);
    return fills.length / layout('').length;
  }

  private tick(): void {
    if (this.popularRuns > 0) {
      log('warn', 'Cache warming skipped: the previous run is still going');
      return;
    }
    this.warmPopularContent().catch((error) => log('error', 'Cache warming failed', describeError(error)));
  }

  private repository<K extends keyof WarmingRepositories>(name: K): NonNullable<WarmingRepositories[K]> {
    const repository = this.repositories[name];
    if (!repository)
      throw new Error(`CacheWarmingService has no ${name}: pass it to the constructor or setRepositories()`);
    return repository as NonNullable<WarmingRepositories[K]>;
  }
}

export const cacheWarmingService = new CacheWarmingService();
