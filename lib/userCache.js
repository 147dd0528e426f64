"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.userCacheService = exports.UserCacheService = exports.PROFILE_TTL = exports.FRIENDS_TTL = exports.USER_TTL = void 0;
const access_1 = require("./access");
const cache_1 = require("./cache");
const connection_1 = require("./connection");
const errors_1 = require("./errors");
const keys_1 = require("./keys");
const fill_1 = require("./fill");
const json_1 = require("./json");
const logger_1 = require("./logger");
/** The seed's TTLs in seconds; cache warming writes with the same ones. */
exports.USER_TTL = 3600;
exports.FRIENDS_TTL = 1800;
exports.PROFILE_TTL = 7200;
/**
 * The seed's UserCacheService: users, friend lists and profiles as JSON under
 * `CacheKeys`, failing soft like CacheService (errors and bad data are logged misses).
 * Generic so the backend's own `User` type flows through unchanged.
 */
class UserCacheService {
    connection;
    cache;
    constructor(connection) {
        this.connection = connection ?? connection_1.redisConnection;
        this.cache = new cache_1.CacheService(this.connection);
    }
    async getUser(userId) {
        const key = keys_1.CacheKeys.user((0, errors_1.requireString)(userId, 'userId'));
        return (0, json_1.shapedOrMiss)(await this.cache.get(key), key, 'object');
    }
    async setUser(user) {
        await this.cache.set(keys_1.CacheKeys.user((0, errors_1.requireEntityId)(user, 'user')), user, exports.USER_TTL);
    }
    async getUserFriends(userId) {
        const key = keys_1.CacheKeys.userFriends((0, errors_1.requireString)(userId, 'userId'));
        return (0, json_1.shapedOrMiss)(await this.cache.get(key), key, 'array');
    }
    async setUserFriends(userId, friendIds) {
        const key = keys_1.CacheKeys.userFriends((0, errors_1.requireString)(userId, 'userId'));
        if (!Array.isArray(friendIds))
            throw new TypeError(`friendIds must be an array, got ${(0, errors_1.describeType)(friendIds)}`);
        await this.cache.set(key, friendIds, exports.FRIENDS_TTL);
    }
    async getUserProfile(userId) {
        const key = keys_1.CacheKeys.userProfile((0, errors_1.requireString)(userId, 'userId'));
        return (0, json_1.shapedOrMiss)(await this.cache.get(key), key, 'object');
    }
    async setUserProfile(user) {
        await this.cache.set(keys_1.CacheKeys.userProfile((0, errors_1.requireEntityId)(user, 'user')), user, exports.PROFILE_TTL);
    }
    /** One UNLINK of the four user keys and their fill leases (cancelling fills in flight): one round trip instead of the seed's four. */
    async invalidateUser(userId) {
        const id = (0, errors_1.requireString)(userId, 'userId');
        const keys = (0, fill_1.withLeases)([
            keys_1.CacheKeys.user(id),
            keys_1.CacheKeys.userFriends(id),
            keys_1.CacheKeys.userProfile(id),
            keys_1.CacheKeys.userSettings(id),
        ]);
        try {
            await this.connection.dispatcher().command(['UNLINK', ...keys]);
            (0, logger_1.log)('info', 'User cache invalidated', { userId: id });
        }
        catch (error) {
            (0, access_1.failSoft)('User cache invalidation error', { userId: id }, undefined)(error);
        }
    }
    async invalidateUserFriends(userId) {
        await this.cache.del(keys_1.CacheKeys.userFriends((0, errors_1.requireString)(userId, 'userId')));
    }
    /** Writes the user and its profile (the seed's two SETs, sent together). */
    async warmUserCache(user) {
        (0, errors_1.requireEntityId)(user, 'user');
        await Promise.all([this.setUser(user), this.setUserProfile(user)]);
    }
}
exports.UserCacheService = UserCacheService;
exports.userCacheService = new UserCacheService();
