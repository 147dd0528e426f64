"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.cacheWarmingService = exports.CacheWarmingService = exports.DEFAULT_WARMING_INTERVAL_MS = void 0;
const connection_1 = require("./connection");
const errors_1 = require("./errors");
const fill_1 = require("./fill");
const json_1 = require("./json");
const keys_1 = require("./keys");
const logger_1 = require("./logger");
const postCache_1 = require("./postCache");
const userCache_1 = require("./userCache");
/** The seed's schedule: every 30 minutes. */
exports.DEFAULT_WARMING_INTERVAL_MS = 30 * 60 * 1000;
const TRENDING_POSTS = 100;
const ACTIVE_USERS = 1000;
const MAX_TIMER_MS = 2 ** 31 - 1;
function checkRepository(value, name, methods) {
    if (value === undefined)
        return;
    if (value === null || typeof value !== 'object')
        throw new TypeError(`${name} must be an object, got ${(0, errors_1.describeType)(value)}`);
    for (const method of methods) {
        if (typeof value[method] !== 'function') {
            throw new TypeError(`${name}.${method} must be a function`);
        }
    }
}
function checkRepositories(value) {
    if (value === undefined || value === null)
        return {};
    if (typeof value !== 'object')
        throw new TypeError(`repositories must be an object, got ${(0, errors_1.describeType)(value)}`);
    const { userRepository, postRepository } = value;
    checkRepository(userRepository, 'repositories.userRepository', ['findByIds', 'getActiveUsers']);
    checkRepository(postRepository, 'repositories.postRepository', ['findByIds', 'getTrendingPosts']);
    return { userRepository, postRepository };
}
/** Calls a repository method; a sync throw or a rejection both reject with the repository's own error. */
async function call(repository, method, arg, name) {
    let result;
    try {
        result = await repository[method](arg);
    }
    catch (error) {
        throw error instanceof Error ? error : new Error(String(error));
    }
    if (!Array.isArray(result))
        throw new TypeError(`${name}.${method} must resolve to an array, got ${(0, errors_1.describeType)(result)}`);
    result.forEach((item, i) => {
        if (item === null || typeof item !== 'object' || typeof item.id !== 'string') {
            throw new TypeError(`${name}.${method} returned an item without a string id at index ${i}`);
        }
    });
    return result;
}
function serialise(item, name) {
    try {
        return (0, json_1.toJson)(item, name);
    }
    catch (error) {
        throw new TypeError(`${name} cannot be stored as JSON: ${error?.message ?? String(error)}`);
    }
}
const userLayout = (id) => [
    [keys_1.CacheKeys.user(id), userCache_1.USER_TTL],
    [keys_1.CacheKeys.userProfile(id), userCache_1.PROFILE_TTL],
];
const postLayout = (id) => [[keys_1.CacheKeys.post(id), postCache_1.POST_TTL]];
/**
 * Takes the fill leases of every key of `ids` (before the database is read, so an
 * invalidation during the read cancels that key's write), then loads the entities and
 * serialises them. Entities for ids it was not asked for (or returned twice) are left out.
 */
async function load(redis, repository, name, layout, ids) {
    if (ids.length === 0)
        return [];
    const keys = ids.flatMap((id) => layout(id));
    const tokens = await (0, fill_1.beginFills)(redis, keys.map(([key]) => key));
    const leased = new Map(keys.map(([key], i) => [key, tokens[i]]));
    const entities = await call(repository, 'findByIds', ids, name);
    return entities.flatMap((entity, i) => {
        const json = serialise(entity, `${name}.findByIds()[${i}]`);
        return layout(entity.id).flatMap(([key, ttl]) => {
            const token = leased.get(key);
            leased.delete(key);
            return token === undefined ? [] : [[key, token, json, ttl]];
        });
    });
}
/** Stores the fills whose leases still hold (sent together); any Redis error rejects the whole call. */
async function write(redis, fills) {
    const stored = await (0, fill_1.storeFills)(redis, fills);
    const cancelled = stored.filter((ok) => !ok).length;
    if (cancelled > 0)
        (0, logger_1.log)('info', 'Cache warming skipped keys invalidated while loading', { keys: cancelled });
}
/**
 * The seed's CacheWarmingService. Repositories are the backend's, handed in at
 * construction or with setRepositories(); every item is validated and serialised
 * before the first write, and a key is written only if no invalidation of it happened
 * since its load began (fill leases, see fill.ts).
 */
class CacheWarmingService {
    connection;
    repositories;
    timer;
    detachCloseHook;
    popularRuns = 0;
    constructor(repositories, connection) {
        this.repositories = checkRepositories(repositories);
        this.connection = connection ?? connection_1.redisConnection;
    }
    setRepositories(repositories) {
        if (repositories === undefined || repositories === null)
            throw new TypeError(`repositories must be an object, got ${(0, errors_1.describeType)(repositories)}`);
        this.repositories = { ...this.repositories, ...checkRepositories(repositories) };
    }
    /** True while a schedule is active. */
    get isScheduled() {
        return this.timer !== undefined;
    }
    async warmUserCache(userIds) {
        const count = await this.warm('userRepository', userLayout, (0, errors_1.requireStringArray)(userIds, 'userIds'));
        (0, logger_1.log)('info', 'User cache warmed', { count });
    }
    async warmPostCache(postIds) {
        const count = await this.warm('postRepository', postLayout, (0, errors_1.requireStringArray)(postIds, 'postIds'));
        (0, logger_1.log)('info', 'Post cache warmed', { count });
    }
    /**
     * As the seed: the 100 trending posts and the 1000 most active users, each re-read
     * with findByIds. Everything is fetched and validated before the first write.
     */
    async warmPopularContent() {
        const users = this.repository('userRepository');
        const posts = this.repository('postRepository');
        const redis = this.connection.dispatcher();
        this.popularRuns++;
        try {
            const trending = await call(posts, 'getTrendingPosts', TRENDING_POSTS, 'postRepository');
            const postBatch = await load(redis, posts, 'postRepository', postLayout, trending.map((post) => post.id));
            const active = await call(users, 'getActiveUsers', ACTIVE_USERS, 'userRepository');
            const userBatch = await load(redis, users, 'userRepository', userLayout, active.map((user) => user.id));
            await write(redis, [...postBatch, ...userBatch]);
            (0, logger_1.log)('info', 'Popular content cache warmed', { posts: postBatch.length, users: userBatch.length / 2 });
        }
        finally {
            this.popularRuns--;
        }
    }
    /**
     * Runs warmPopularContent every `intervalMs` (default 30 minutes, first run after one
     * interval, as the seed). A tick that finds a run still going is skipped; a failed run
     * is logged and the schedule continues. The timer never keeps Node alive, and closing
     * the connection stops it. Calling it again replaces the previous schedule.
     */
    async scheduleCacheWarming(intervalMs = exports.DEFAULT_WARMING_INTERVAL_MS) {
        if (typeof intervalMs !== 'number')
            throw new TypeError(`intervalMs must be a number, got ${(0, errors_1.describeType)(intervalMs)}`);
        if (!Number.isFinite(intervalMs) || intervalMs < 1 || intervalMs > MAX_TIMER_MS) {
            throw new RangeError(`intervalMs must be between 1 and ${MAX_TIMER_MS}, got ${intervalMs}`);
        }
        this.stopCacheWarming();
        this.timer = setInterval(() => this.tick(), intervalMs);
        this.timer.unref();
        this.detachCloseHook = this.connection.onClose(() => this.stopCacheWarming());
    }
    stopCacheWarming() {
        if (this.timer !== undefined)
            clearInterval(this.timer);
        this.timer = undefined;
        this.detachCloseHook?.();
        this.detachCloseHook = undefined;
    }
    /** Loads and stores the entities of `ids` (one repository); resolves to how many were stored. */
    async warm(name, layout, ids) {
        const repository = this.repository(name);
        const redis = this.connection.dispatcher();
        const fills = await load(redis, repository, name, layout, ids);
        await write(redis, fills);
        return fills.length / layout('').length;
    }
    tick() {
        if (this.popularRuns > 0) {
            (0, logger_1.log)('warn', 'Cache warming skipped: the previous run is still going');
            return;
        }
        this.warmPopularContent().catch((error) => (0, logger_1.log)('error', 'Cache warming failed', (0, logger_1.describeError)(error)));
    }
    repository(name) {
        const repository = this.repositories[name];
        if (!repository)
            throw new Error(`CacheWarmingService has no ${name}: pass it to the constructor or setRepositories()`);
        return repository;
    }
}
exports.CacheWarmingService = CacheWarmingService;
exports.cacheWarmingService = new CacheWarmingService();
