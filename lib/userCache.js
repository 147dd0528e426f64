"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.userCacheService = exports.UserCacheService = exports.PROFILE_TTL = exports.FRIENDS_TTL = exports.USER_TTL = void 0;
exports.requireEntityId = requireEntityId;
exports.shapedOrMiss = shapedOrMiss;
const cache_1 = require("./cache");
const connection_1 = require("./connection");
const errors_1 = require("./errors");
const keys_1 = require("./keys");
const fill_1 = require("./fill");
const logger_1 = require("./logger");
/** The seed's TTLs in seconds; cache warming writes with the same ones. */
exports.USER_TTL = 3600;
exports.FRIENDS_TTL = 1800;
exports.PROFILE_TTL = 7200;
/** @internal The id of an entity the backend hands in; a bad one is a TypeError naming `name`. */
function requireEntityId(entity, name) {
    if (entity === null || typeof entity !== 'object') {
        throw new TypeError(`${name} must be an object with a string id, got ${(0, errors_1.describeType)(entity)}`);
    }
    const id = entity.id;
    if (typeof id !== 'string')
        throw new TypeError(`${name}.id must be a string, got ${(0, errors_1.describeType)(id)}`);
    return id;
}
/**
 * @internal A parsed value of the wrong shape (say, a string where the seed stores an array)
 * is bad data like corrupt JSON: logged and answered as a miss.
 */
function shapedOrMiss(value, key, expected) {
    if (value === null)
        return null;
    const ok = expected === 'array' ? Array.isArray(value) : typeof value === 'object' && !Array.isArray(value);
    if (ok)
        return value;
    (0, logger_1.log)('warn', `Cache get error: stored value is not an ${expected}, treated as a miss`, { key, got: (0, errors_1.describeType)(value) });
    return null;
}
/**
 * The seed's UserCacheService: users, friend lists and profiles as JSON under
 * `CacheKeys`, failing soft like CacheService (errors and bad data are logged misses).
 * Generic so the backend's own `User` type flows through unchanged.
 */
class UserCacheService {
    cache;
    constructor(connection) {
        this.cache = new cache_1.CacheService(connection ?? connection_1.redisConnection);
    }
    async getUser(userId) {
        const key = keys_1.CacheKeys.user((0, errors_1.requireString)(userId, 'userId'));
        return shapedOrMiss(await this.cache.get(key), key, 'object');
    }
    async setUser(user) {
        await this.cache.set(keys_1.CacheKeys.user(requireEntityId(user, 'user')), user, exports.USER_TTL);
    }
    async getUserFriends(userId) {
        const key = keys_1.CacheKeys.userFriends((0, errors_1.requireString)(userId, 'userId'));
        return shapedOrMiss(await this.cache.get(key), key, 'array');
    }
    async setUserFriends(userId, friendIds) {
        const key = keys_1.CacheKeys.userFriends((0, errors_1.requireString)(userId, 'userId'));
        if (!Array.isArray(friendIds))
            throw new TypeError(`friendIds must be an array, got ${(0, errors_1.describeType)(friendIds)}`);
        await this.cache.set(key, friendIds, exports.FRIENDS_TTL);
    }
    async getUserProfile(userId) {
        const key = keys_1.CacheKeys.userProfile((0, errors_1.requireString)(userId, 'userId'));
        return shapedOrMiss(await this.cache.get(key), key, 'object');
    }
    async setUserProfile(user) {
        await this.cache.set(keys_1.CacheKeys.userProfile(requireEntityId(user, 'user')), user, exports.PROFILE_TTL);
    }
    /** One UNLINK of the four user keys and their fill leases (cancelling fills in flight): one round trip instead of the seed's four. */
    async invalidateUser(userId) {
        const id = (0, errors_1.requireString)(userId, 'userId');
        const keys = (0, fill_1.withLeases)([keys_1.CacheKeys.user(id), keys_1.CacheKeys.userFriends(id), keys_1.CacheKeys.userProfile(id), keys_1.CacheKeys.userSettings(id)]);
        const client = this.cache.client('User cache invalidation error', { userId: id });
        if (!client)
            return;
        const { dispatcher } = client;
        const done = await dispatcher.run((rid) => dispatcher.native.command(rid, ['UNLINK', ...keys]), () => true, (error) => {
            (0, logger_1.log)('error', 'User cache invalidation error', { userId: id, ...(0, logger_1.describeError)(error) });
            return false;
        });
        if (done)
            (0, logger_1.log)('info', 'User cache invalidated', { userId: id });
    }
    async invalidateUserFriends(userId) {
        await this.cache.del(keys_1.CacheKeys.userFriends((0, errors_1.requireString)(userId, 'userId')));
    }
    /** Writes the user and its profile (the seed's two SETs, sent together). */
    async warmUserCache(user) {
        requireEntityId(user, 'user');
        await Promise.all([this.setUser(user), this.setUserProfile(user)]);
    }
}
exports.UserCacheService = UserCacheService;
exports.userCacheService = new UserCacheService();
