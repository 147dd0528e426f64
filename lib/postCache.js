"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.postCacheService = exports.PostCacheService = exports.feedPageEpochKey = exports.userFeedEpochKey = exports.FEED_EPOCH_KEY = exports.REACTIONS_TTL = exports.COMMENTS_TTL = exports.FEED_TTL = exports.POST_TTL = void 0;
const access_1 = require("./access");
const cache_1 = require("./cache");
const connection_1 = require("./connection");
const errors_1 = require("./errors");
const json_1 = require("./json");
const keys_1 = require("./keys");
const fill_1 = require("./fill");
const logger_1 = require("./logger");
const native_1 = require("./native");
const slot_1 = require("./slot");
/** The seed's TTLs in seconds; cache warming writes posts with POST_TTL. */
exports.POST_TTL = 1800;
exports.FEED_TTL = 900;
exports.COMMENTS_TTL = 600;
exports.REACTIONS_TTL = 1800;
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
exports.FEED_EPOCH_KEY = 'feed-epoch';
const userFeedEpochKey = (userId) => `feed-epoch:${userId}`;
exports.userFeedEpochKey = userFeedEpochKey;
const feedPageEpochKey = (userId, page) => (0, slot_1.sameSlotKey)(keys_1.CacheKeys.userFeed(userId, page), ':epoch');
exports.feedPageEpochKey = feedPageEpochKey;
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
const READ_EPOCH = (0, native_1.registerScript)(`${CURRENT_EPOCH}
local epoch = current(KEYS[1])
if tonumber(ARGV[1]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return epoch
`);
// KEYS: page, its tag (same slot). ARGV: page JSON, ttl, tag.
const WRITE_PAGE = (0, native_1.registerScript)(`
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[2])
return 1
`);
// KEYS: the epoch to bump. ARGV: epoch ttl in seconds, 0 = none.
const BUMP_EPOCH = (0, native_1.registerScript)(`${CURRENT_EPOCH}
current(KEYS[1])
local epoch = redis.call('INCR', KEYS[1])
if tonumber(ARGV[1]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return epoch
`);
/** The write token of a feed page: the two epochs it is tagged with, `global:user`. */
const feedToken = (global, user) => `${global}:${user}`;
const EPOCH = /^\d+$/;
function requirePage(page) {
    if (typeof page !== 'number')
        throw new TypeError(`page must be a number, got ${(0, errors_1.describeType)(page)}`);
    if (!Number.isSafeInteger(page) || page < 0)
        throw new RangeError(`page must be a non-negative integer, got ${page}`);
    return page;
}
/**
 * The seed's PostCacheService: posts, feed pages, comments and reactions as JSON
 * under `CacheKeys`, failing soft. Generic so the backend's own `Post` type flows through.
 */
class PostCacheService {
    connection;
    cache;
    flights = new fill_1.SingleFlight();
    constructor(connection) {
        this.connection = connection ?? connection_1.redisConnection;
        this.cache = new cache_1.CacheService(this.connection);
    }
    async getPost(postId) {
        const key = keys_1.CacheKeys.post((0, errors_1.requireString)(postId, 'postId'));
        return (0, json_1.shapedOrMiss)(await this.cache.get(key), key, 'object');
    }
    async setPost(post) {
        await this.cache.set(keys_1.CacheKeys.post((0, errors_1.requireEntityId)(post, 'post')), post, exports.POST_TTL);
    }
    /** The page as cached, or null when missing, bad, or cached before the last invalidation that covers it. */
    async getUserFeed(userId, page) {
        const id = (0, errors_1.requireString)(userId, 'userId');
        return (await this.readPage(id, requirePage(page))).page;
    }
    /**
     * The cached page, or `loader()`'s posts, stored unless the feed was invalidated
     * while the loader ran. Concurrent misses on one page run the loader once; a loader
     * error rejects every waiter and stores nothing.
     */
    async getUserFeedOrLoad(userId, page, loader) {
        const id = (0, errors_1.requireString)(userId, 'userId');
        const key = keys_1.CacheKeys.userFeed(id, requirePage(page));
        if (typeof loader !== 'function')
            throw new TypeError(`loader must be a function, got ${(0, errors_1.describeType)(loader)}`);
        return this.flights.run(key, async () => {
            const cached = await this.readPage(id, page);
            if (cached.page !== null)
                return cached.page;
            const token = cached.token ?? (await this.beginFeedWrite(id, page));
            const posts = await loader();
            if (!Array.isArray(posts))
                throw new TypeError(`loader must resolve to an array of posts, got ${(0, errors_1.describeType)(posts)}`);
            await this.setUserFeed(id, page, posts, token);
            return posts;
        });
    }
    /**
     * For callers who load a page themselves: take this token before reading the database
     * and pass it to setUserFeed, which then stores the page only if no invalidation
     * covering it happened in between. Null (logged) when Redis cannot be read.
     */
    async beginFeedWrite(userId, page) {
        const id = (0, errors_1.requireString)(userId, 'userId');
        const key = keys_1.CacheKeys.userFeed(id, requirePage(page));
        try {
            return await currentToken(this.connection.dispatcher(), id);
        }
        catch (error) {
            return (0, access_1.failSoft)('Feed set error', { key }, null)(error);
        }
    }
    /**
     * Stores the page, tagged with the feed's epochs. With a `token` from beginFeedWrite, only
     * if the epochs are still the token's (a null token stores nothing); without one, the
     * epochs read now are used, so a page loaded before an invalidation and stored after it is
     * served (as in the seed).
     */
    async setUserFeed(userId, page, posts, token) {
        const id = (0, errors_1.requireString)(userId, 'userId');
        const key = keys_1.CacheKeys.userFeed(id, requirePage(page));
        if (!Array.isArray(posts))
            throw new TypeError(`posts must be an array, got ${(0, errors_1.describeType)(posts)}`);
        if (token !== undefined && token !== null && typeof token !== 'string') {
            throw new TypeError(`token must be a string from beginFeedWrite, got ${(0, errors_1.describeType)(token)}`);
        }
        if (token === null) {
            (0, logger_1.log)('debug', 'Feed page not stored: no write token', { key });
            return;
        }
        try {
            const text = (0, json_1.toJson)(posts, 'posts');
            const redis = this.connection.dispatcher();
            // Epochs first, then page and tag in one step: a page whose epochs moved on meanwhile is never served.
            const current = await currentToken(redis, id);
            if (token !== undefined && token !== current) {
                (0, logger_1.log)('debug', 'Feed page not stored: the feed was invalidated during the load', { key });
                return;
            }
            await redis.script(WRITE_PAGE, [key, (0, exports.feedPageEpochKey)(id, page)], [text, String(exports.FEED_TTL), current]);
        }
        catch (error) {
            (0, access_1.failSoft)('Feed set error', { key }, undefined)(error);
        }
    }
    async getPostComments(postId) {
        const key = keys_1.CacheKeys.postComments((0, errors_1.requireString)(postId, 'postId'));
        return (0, json_1.shapedOrMiss)(await this.cache.get(key), key, 'array');
    }
    async setPostComments(postId, comments) {
        const key = keys_1.CacheKeys.postComments((0, errors_1.requireString)(postId, 'postId'));
        if (!Array.isArray(comments))
            throw new TypeError(`comments must be an array, got ${(0, errors_1.describeType)(comments)}`);
        await this.cache.set(key, comments, exports.COMMENTS_TTL);
    }
    async getPostReactions(postId) {
        const key = keys_1.CacheKeys.postReactions((0, errors_1.requireString)(postId, 'postId'));
        return (0, json_1.shapedOrMiss)(await this.cache.get(key), key, 'array');
    }
    async setPostReactions(postId, reactions) {
        const key = keys_1.CacheKeys.postReactions((0, errors_1.requireString)(postId, 'postId'));
        if (!Array.isArray(reactions))
            throw new TypeError(`reactions must be an array, got ${(0, errors_1.describeType)(reactions)}`);
        await this.cache.set(key, reactions, exports.REACTIONS_TTL);
    }
    /**
     * Deletes the post's keys (cancelling their fills in flight) and retires every cached
     * feed page: one epoch bump, whatever the number of pages.
     */
    async invalidatePost(postId) {
        const id = (0, errors_1.requireString)(postId, 'postId');
        const keys = [keys_1.CacheKeys.post(id), keys_1.CacheKeys.postComments(id), keys_1.CacheKeys.postReactions(id)];
        if (await this.bump('Post cache invalidation error', exports.FEED_EPOCH_KEY, 0, { postId: id }, ['DEL', ...(0, fill_1.withLeases)(keys)])) {
            (0, logger_1.log)('info', 'Post cache invalidated', { postId: id });
        }
    }
    /** Retires every cached feed page in O(1); pages expire on their own TTL. */
    async invalidateAllFeeds() {
        if (await this.bump('Feed invalidation error', exports.FEED_EPOCH_KEY, 0, {}))
            (0, logger_1.log)('info', 'All user feeds invalidated');
    }
    /** Retires this user's pages only: its own epoch key, no pattern, so no id can reach another user's keys. */
    async invalidateUserFeeds(userId) {
        const id = (0, errors_1.requireString)(userId, 'userId');
        if (await this.bump('Feed invalidation error', (0, exports.userFeedEpochKey)(id), exports.FEED_TTL, { userId: id })) {
            (0, logger_1.log)('info', 'User feeds invalidated', { userId: id });
        }
    }
    async warmPostCache(post) {
        await this.setPost(post);
    }
    /** The page if it is served (see getUserFeed) and, when both epochs are readable, the token a page written now would need. */
    async readPage(id, page) {
        const key = keys_1.CacheKeys.userFeed(id, page);
        let reply;
        try {
            reply = await this.connection
                .dispatcher()
                .command(['MGET', key, (0, exports.feedPageEpochKey)(id, page), exports.FEED_EPOCH_KEY, (0, exports.userFeedEpochKey)(id)]);
            if (!Array.isArray(reply) || reply.length !== 4)
                throw (0, errors_1.unexpectedReply)('feed page read', reply);
        }
        catch (error) {
            return (0, access_1.failSoft)('Feed get error', { key }, { page: null, token: null })(error);
        }
        const [text, tag, global, user] = reply;
        const token = typeof global === 'string' && typeof user === 'string' && EPOCH.test(global) && EPOCH.test(user)
            ? feedToken(global, user)
            : null;
        if (text === null || token === null || tag !== token)
            return { page: null, token };
        return { page: (0, json_1.shapedOrMiss)((0, json_1.parseOrMiss)(text, key), key, 'array'), token };
    }
    /** Bumps one epoch (and runs `alongside`, e.g. a DEL, at the same time); false once logged as failed. */
    async bump(context, epochKey, ttl, meta, alongside) {
        try {
            const redis = this.connection.dispatcher();
            await Promise.all([redis.script(BUMP_EPOCH, [epochKey], [String(ttl)]), alongside && redis.command(alongside)]);
            return true;
        }
        catch (error) {
            return (0, access_1.failSoft)(context, meta, false)(error);
        }
    }
}
exports.PostCacheService = PostCacheService;
/** The current value of one epoch key (restarted from the server clock when missing or garbage). */
function readEpoch(dispatcher, key, ttl) {
    return dispatcher.script(READ_EPOCH, [key], [String(ttl)], (reply) => {
        const epoch = typeof reply === 'number' ? String(reply) : reply;
        if (typeof epoch !== 'string' || !EPOCH.test(epoch))
            throw (0, errors_1.unexpectedReply)('feed epoch', reply);
        return epoch;
    });
}
/** The token a page of this user's feed written now is tagged with: both epochs, read together. */
async function currentToken(dispatcher, userId) {
    const [global, user] = await Promise.all([
        readEpoch(dispatcher, exports.FEED_EPOCH_KEY, 0),
        readEpoch(dispatcher, (0, exports.userFeedEpochKey)(userId), exports.FEED_TTL),
    ]);
    return feedToken(global, user);
}
exports.postCacheService = new PostCacheService();
