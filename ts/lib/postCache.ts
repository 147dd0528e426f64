import { failSoft } from './access';
import { CacheService, type CacheServiceOptions } from './cache';
import type { LocalCacheStats } from './local';
import { redisConnection, type RedisConnection } from './connection';
import type { Dispatcher } from './dispatcher';
import { describeType, requireEntityId, requireString, requireStringArray, unexpectedReply } from './errors';
import {
  decodeOrMiss,
  encode,
  type JsonSerializer,
  type Loaded,
  type Serializer,
  serializerOf,
  shapedOrMiss,
} from './json';
import { CacheKeys } from './keys';
import { SingleFlight, withLeases } from './fill';
import { log } from './logger';
import { registerScript } from './native';
import { sameSlotKey } from './slot';

/** The seed's TTLs in seconds; cache warming writes posts with POST_TTL. */
export const POST_TTL = 1800;
export const FEED_TTL = 900;
export const COMMENTS_TTL = 600;
export const REACTIONS_TTL = 1800;

/**
 * Feed invalidation by epochs instead of the seed's KEYS + DEL over every page.
 * Every page `feed:{userId}:page:{n}` keeps the seed's JSON (the old backend reads it
 * as before) and gets a tag `{feed:{userId}:page:{n}}:epoch` holding the global and
 * per-user epochs read before it was written. A page is served only while both still
 * match, so bumping an epoch is one command however many pages exist.
 *
 * Cluster: page and tag share a hash slot (the tag's hash tag is the page key), so
 * one script writes both; each epoch key is read and bumped on its own. The epoch
 * keys sit outside `feed:*` so the old backend's `KEYS feed:*` never matches them,
 * and their names cannot be produced by CacheKeys.userFeed for any user id.
 */
export const FEED_EPOCH_KEY = 'feed-epoch';
export const userFeedEpochKey = (userId: string): string => `feed-epoch:${userId}`;
export const feedPageEpochKey = (userId: string, page: number): string =>
  sameSlotKey(CacheKeys.userFeed(userId, page), ':epoch');

// An epoch that is missing, evicted or garbage is restarted from the server clock in
// microseconds: always above any value it held before (INCR adds one per invalidation),
// so a lost epoch can never make an old page's tag match again.
const CURRENT_EPOCH = `
local function current(key)
  if redis.call('TYPE', key).ok == 'string' then
    local value = redis.call('GET', key)
    if string.match(value, '^%d+$') then return value end
  end
  local now = redis.call('TIME')
  local value = now[1] .. string.format('%06d', tonumber(now[2]))
  redis.call('SET', key, value)
  return value
end
`;

// KEYS: one epoch. ARGV: ttl in seconds, 0 = none. The epoch a page about to be written is tagged with;
// a per-user epoch lives at least as long as the pages tagged with it (same TTL, refreshed on every write).
const READ_EPOCH = registerScript(`${CURRENT_EPOCH}
local epoch = current(KEYS[1])
if tonumber(ARGV[1]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return epoch
`);

// KEYS: page, its tag (same slot). ARGV: page JSON, ttl, tag.
const WRITE_PAGE = registerScript(`
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[2])
return 1
`);

// KEYS: the epoch to bump. ARGV: epoch ttl in seconds, 0 = none.
const BUMP_EPOCH = registerScript(`${CURRENT_EPOCH}
current(KEYS[1])
local epoch = redis.call('INCR', KEYS[1])
if tonumber(ARGV[1]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return epoch
`);

/** The write token of a feed page: the two epochs it is tagged with, `global:user`. */
const feedToken = (global: string, user: string): string => `${global}:${user}`;
const EPOCH = /^\d+$/;

function requirePage(page: unknown): number {
  if (typeof page !== 'number') throw new TypeError(`page must be a number, got ${describeType(page)}`);
  if (!Number.isSafeInteger(page) || page < 0) throw new RangeError(`page must be a non-negative integer, got ${page}`);
  return page;
}

/**
 * The seed's PostCacheService: posts, feed pages, comments and reactions as JSON
 * under `CacheKeys`, failing soft. Generic so the backend's own `Post` type flows through.
 */
export class PostCacheService<S extends Serializer = JsonSerializer> {
  private readonly connection: RedisConnection;
  private readonly serializer: Serializer;
  private readonly cache: CacheService<S>;
  private readonly flights = new SingleFlight();

  /** `options.serializer`: how values are stored (default: the seed's JSON); warming must use the same one. */
  constructor(connection?: RedisConnection, options?: CacheServiceOptions<S>) {
    this.connection = connection ?? redisConnection;
    this.serializer = serializerOf(options);
    this.cache = new CacheService(this.connection, options);
  }
  /** What the local tier (`options.local`) has done, or null when it is off. */
  localStats(): LocalCacheStats | null {
    return this.cache.localStats();
  }

  async getPost<T = unknown>(postId: string): Promise<T | null> {
    const key = CacheKeys.post(requireString(postId, 'postId'));
    return shapedOrMiss<T>(await this.cache.get(key), key, 'object');
  }

  async setPost<T extends { id: string }>(post: T): Promise<void> {
    await this.cache.set(CacheKeys.post(requireEntityId(post, 'post')), post, POST_TTL);
  }

  /** The page as cached, or null when missing, bad, or cached before the last invalidation that covers it. */
  async getUserFeed<T = unknown>(userId: string, page: number): Promise<T[] | null> {
    const id = requireString(userId, 'userId');
    return (await this.readPage<T>(id, requirePage(page))).page;
  }

  /**
   * The cached page, or `loader()`'s posts, stored unless the feed was invalidated
   * while the loader ran. Concurrent misses on one page run the loader once; a loader
   * error rejects every waiter and stores nothing.
   */
  async getUserFeedOrLoad<T = unknown>(
    userId: string,
    page: number,
    loader: () => Promise<T[]> | T[],
  ): Promise<Loaded<T, S>[]> {
    const id = requireString(userId, 'userId');
    const key = CacheKeys.userFeed(id, requirePage(page));
    if (typeof loader !== 'function') throw new TypeError(`loader must be a function, got ${describeType(loader)}`);
    return this.flights.run(key, async () => {
      const cached = await this.readPage<Loaded<T, S>>(id, page);
      if (cached.page !== null) return cached.page;
      const token = cached.token ?? (await this.beginFeedWrite(id, page));
      const posts = await loader();
      if (!Array.isArray(posts))
        throw new TypeError(`loader must resolve to an array of posts, got ${describeType(posts)}`);
      await this.setUserFeed(id, page, posts, token);
      // What a later read returns: the stored form, not the loader's objects (as loaded if it cannot be stored).
      try {
        return this.serializer.parse(encode(this.serializer, posts, 'posts')) as Loaded<T, S>[];
      } catch {
        return posts as unknown as Loaded<T, S>[];
      }
    });
  }

  /**
   * For callers who load a page themselves: take this token before reading the database
   * and pass it to setUserFeed, which then stores the page only if no invalidation
   * covering it happened in between. Null (logged) when Redis cannot be read.
   */
  async beginFeedWrite(userId: string, page: number): Promise<string | null> {
    const id = requireString(userId, 'userId');
    const key = CacheKeys.userFeed(id, requirePage(page));
    try {
      return await currentToken(this.connection.dispatcher(), id);
    } catch (error) {
      return failSoft('Feed set error', { key }, null)(error);
    }
  }

  /**
   * Stores the page, tagged with the feed's epochs. With a `token` from beginFeedWrite, only
   * if the epochs are still the token's (a null token stores nothing); without one, the
   * epochs read now are used, so a page loaded before an invalidation and stored after it is
   * served (as in the seed).
   */
  async setUserFeed<T = unknown>(userId: string, page: number, posts: T[], token?: string | null): Promise<void> {
    const id = requireString(userId, 'userId');
    const key = CacheKeys.userFeed(id, requirePage(page));
    if (!Array.isArray(posts)) throw new TypeError(`posts must be an array, got ${describeType(posts)}`);
    if (token !== undefined && token !== null && typeof token !== 'string') {
      throw new TypeError(`token must be a string from beginFeedWrite, got ${describeType(token)}`);
    }
    if (token === null) {
      log('debug', 'Feed page not stored: no write token', { key });
      return;
    }
    try {
      const text = encode(this.serializer, posts, 'posts');
      const redis = this.connection.dispatcher();
      // Epochs first, then page and tag in one step: a page whose epochs moved on meanwhile is never served.
      const current = await currentToken(redis, id);
      if (token !== undefined && token !== current) {
        log('debug', 'Feed page not stored: the feed was invalidated during the load', { key });
        return;
      }
      await redis.script(WRITE_PAGE, [key, feedPageEpochKey(id, page)], [text, String(FEED_TTL), current]);
    } catch (error) {
      failSoft('Feed set error', { key }, undefined)(error);
    }
  }

  async getPostComments<T = unknown>(postId: string): Promise<T[] | null> {
    const key = CacheKeys.postComments(requireString(postId, 'postId'));
    return shapedOrMiss<T[]>(await this.cache.get(key), key, 'array');
  }

  async setPostComments<T = unknown>(postId: string, comments: T[]): Promise<void> {
    const key = CacheKeys.postComments(requireString(postId, 'postId'));
    if (!Array.isArray(comments)) throw new TypeError(`comments must be an array, got ${describeType(comments)}`);
    await this.cache.set(key, comments, COMMENTS_TTL);
  }

  async getPostReactions<T = unknown>(postId: string): Promise<T[] | null> {
    const key = CacheKeys.postReactions(requireString(postId, 'postId'));
    return shapedOrMiss<T[]>(await this.cache.get(key), key, 'array');
  }

  async setPostReactions<T = unknown>(postId: string, reactions: T[]): Promise<void> {
    const key = CacheKeys.postReactions(requireString(postId, 'postId'));
    if (!Array.isArray(reactions)) throw new TypeError(`reactions must be an array, got ${describeType(reactions)}`);
    await this.cache.set(key, reactions, REACTIONS_TTL);
  }

  /**
   * Deletes the post's keys (cancelling their fills in flight) and retires every cached
   * feed page: one epoch bump, whatever the number of pages.
   */
  async invalidatePost(postId: string): Promise<void> {
    const id = requireString(postId, 'postId');
    const keys = [CacheKeys.post(id), CacheKeys.postComments(id), CacheKeys.postReactions(id)];
    if (
      await this.bump('Post cache invalidation error', FEED_EPOCH_KEY, 0, { postId: id }, ['DEL', ...withLeases(keys)])
    ) {
      log('info', 'Post cache invalidated', { postId: id });
    }
  }

  /** Retires every cached feed page in O(1); pages expire on their own TTL. */
  async invalidateAllFeeds(): Promise<void> {
    if (await this.bump('Feed invalidation error', FEED_EPOCH_KEY, 0, {})) log('info', 'All user feeds invalidated');
  }

  /**
   * Retires the pages of one user, or of every user in a list (a post's audience) with one
   * pipelined write: each user's own epoch key, no pattern, so no id can reach another user's keys.
   */
  async invalidateUserFeeds(userIds: string | readonly string[]): Promise<void> {
    const ids = typeof userIds === 'string' ? [userIds] : requireStringArray(userIds, 'userIds');
    if (ids.length === 0) return;
    try {
      const dispatcher = this.connection.dispatcher();
      await Promise.all(ids.map((id) => dispatcher.script(BUMP_EPOCH, [userFeedEpochKey(id)], [String(FEED_TTL)])));
    } catch (error) {
      failSoft('Feed invalidation error', { users: ids.length }, undefined)(error);
      return;
    }
    if (ids.length === 1) log('debug', 'User feeds invalidated', { userId: ids[0] });
    else log('info', 'User feeds invalidated', { users: ids.length });
  }

  async warmPostCache<T extends { id: string }>(post: T): Promise<void> {
    await this.setPost(post);
  }

  /** The page if it is served (see getUserFeed) and, when both epochs are readable, the token a page written now would need. */
  private async readPage<T>(id: string, page: number): Promise<{ page: T[] | null; token: string | null }> {
    const key = CacheKeys.userFeed(id, page);
    let reply: unknown;
    try {
      reply = await this.connection
        .dispatcher()
        .command(['MGET', key, feedPageEpochKey(id, page), FEED_EPOCH_KEY, userFeedEpochKey(id)]);
      if (!Array.isArray(reply) || reply.length !== 4) throw unexpectedReply('feed page read', reply);
    } catch (error) {
      return failSoft('Feed get error', { key }, { page: null, token: null })(error);
    }
    const [text, tag, global, user] = reply as Array<string | null>;
    const token =
      typeof global === 'string' && typeof user === 'string' && EPOCH.test(global) && EPOCH.test(user)
        ? feedToken(global, user)
        : null;
    if (text === null || token === null || tag !== token) return { page: null, token };
    return { page: shapedOrMiss<T[]>(decodeOrMiss(this.serializer, text, key), key, 'array'), token };
  }

  /** Bumps one epoch (and runs `alongside`, e.g. a DEL, at the same time); false once logged as failed. */
  private async bump(
    context: string,
    epochKey: string,
    ttl: number,
    meta: Record<string, unknown>,
    alongside?: string[],
  ): Promise<boolean> {
    try {
      const redis = this.connection.dispatcher();
      await Promise.all([redis.script(BUMP_EPOCH, [epochKey], [String(ttl)]), alongside && redis.command(alongside)]);
      return true;
    } catch (error) {
      return failSoft(context, meta, false)(error);
    }
  }
}

/** The current value of one epoch key (restarted from the server clock when missing or garbage). */
function readEpoch(dispatcher: Dispatcher, key: string, ttl: number): Promise<string> {
  return dispatcher.script(READ_EPOCH, [key], [String(ttl)], (reply: unknown) => {
    const epoch = typeof reply === 'number' ? String(reply) : reply;
    if (typeof epoch !== 'string' || !EPOCH.test(epoch)) throw unexpectedReply('feed epoch', reply);
    return epoch;
  });
}

/** The token a page of this user's feed written now is tagged with: both epochs, read together. */
async function currentToken(dispatcher: Dispatcher, userId: string): Promise<string> {
  const [global, user] = await Promise.all([
    readEpoch(dispatcher, FEED_EPOCH_KEY, 0),
    readEpoch(dispatcher, userFeedEpochKey(userId), FEED_TTL),
  ]);
  return feedToken(global, user);
}

export const postCacheService = new PostCacheService();
