"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.cacheService = exports.CacheService = void 0;
const access_1 = require("./access");
const connection_1 = require("./connection");
const errors_1 = require("./errors");
const json_1 = require("./json");
const logger_1 = require("./logger");
const fill_1 = require("./fill");
/**
 * The seed's CacheService: JSON values under the caller's keys, failing soft
 * (a Redis error or a corrupt value is logged and answered with null / false / -1 / 0).
 */
class CacheService {
    connection;
    flights = new fill_1.SingleFlight();
    constructor(connection) {
        this.connection = connection ?? connection_1.redisConnection;
    }
    get(key) {
        if (typeof key !== 'string')
            return (0, errors_1.rejectWith)(() => (0, errors_1.requireString)(key, 'key'));
        const recover = (0, access_1.failSoft)('Cache get error', { key }, null);
        return (0, access_1.softly)(this.connection, recover, (redis) => redis.get(key, (reply) => (0, json_1.parseOrMiss)(reply, key), recover));
    }
    set(key, value, ttlSeconds) {
        if (typeof key !== 'string')
            return (0, errors_1.rejectWith)(() => (0, errors_1.requireString)(key, 'key'));
        let ttl;
        let text;
        try {
            ttl = (0, errors_1.optionalTtl)(ttlSeconds, 'ttlSeconds');
        }
        catch (error) {
            return Promise.reject(error);
        }
        const recover = (0, access_1.failSoft)('Cache set error', { key }, false);
        try {
            text = (0, json_1.toJson)(value);
        }
        catch (error) {
            return Promise.resolve(recover(error));
        }
        return (0, access_1.softly)(this.connection, recover, (redis) => redis.set(key, text, ttl, acknowledged, recover));
    }
    /** Deletes the key and cancels any fill of it in flight (its lease), so a value loaded before is not stored after. */
    del(key) {
        if (typeof key !== 'string')
            return (0, errors_1.rejectWith)(() => (0, errors_1.requireString)(key, 'key'));
        const recover = (0, access_1.failSoft)('Cache delete error', { key }, false);
        return (0, access_1.softly)(this.connection, recover, (redis) => (0, fill_1.deleteWithLease)(redis, key).catch(recover));
    }
    exists(key) {
        return this.command('Cache exists error', { key }, () => ['EXISTS', (0, errors_1.requireString)(key, 'key')], (n) => n === 1, false);
    }
    mget(keys) {
        let list;
        try {
            list = (0, errors_1.requireStringArray)(keys, 'keys');
        }
        catch (error) {
            return Promise.reject(error);
        }
        if (list.length === 0)
            return Promise.resolve([]);
        const logged = (0, access_1.failSoft)('Cache mget error', { keys: list.length }, undefined);
        const recover = (error) => {
            logged(error);
            return list.map(() => null);
        };
        return (0, access_1.softly)(this.connection, recover, (redis) => redis.jsonArray(['MGET', ...list], ([text, unchecked]) => {
            let values;
            try {
                values = JSON.parse(text);
            }
            catch (error) {
                // Each spliced value passed a strict JSON check natively; V8 disagreeing is a bug.
                return recover(error);
            }
            for (let i = 0; i < unchecked.length; i += 2) {
                const index = unchecked[i];
                values[index] = (0, json_1.parseOrMiss)(unchecked[i + 1], list[index]);
            }
            return values;
        }, recover));
    }
    /**
     * Writes all pairs as one MULTI/EXEC of SET (… EX with a TTL), so no key is ever left without
     * its TTL. On a cluster the transaction is atomic per hash slot; if any part fails (or times
     * out), every key of the call is deleted so none is left holding part of it, and the answer is
     * false. A transaction is never re-sent by the cluster client, so the deletion, sent after the
     * failure on the same per-node connection, follows any write of the call that still lands.
     */
    mset(keyValuePairs, ttlSeconds) {
        let ttl;
        try {
            if (keyValuePairs === null || typeof keyValuePairs !== 'object' || Array.isArray(keyValuePairs)) {
                throw new TypeError(`keyValuePairs must be an object, got ${(0, errors_1.describeType)(keyValuePairs)}`);
            }
            ttl = (0, errors_1.optionalTtl)(ttlSeconds, 'ttlSeconds');
        }
        catch (error) {
            return Promise.reject(error);
        }
        const recover = (0, access_1.failSoft)('Cache mset error', {}, false);
        const entries = [];
        try {
            for (const [key, value] of Object.entries(keyValuePairs))
                entries.push([key, (0, json_1.toJson)(value, `keyValuePairs.${key}`)]);
        }
        catch (error) {
            return Promise.resolve(recover(error));
        }
        if (entries.length === 0)
            return Promise.resolve(true);
        const expiry = ttl === undefined ? [] : ['EX', String(ttl)];
        const commands = entries.map(([key, text]) => ['SET', key, text, ...expiry]);
        return (0, access_1.softly)(this.connection, recover, (redis) => redis
            .pipeline(commands, true, (replies) => {
            const failed = replies.find((reply) => reply !== 'OK');
            if (failed !== undefined)
                throw new Error(`SET in MSET transaction failed: ${String(failed?.message ?? failed)}`);
            return true;
        })
            .catch((error) => undoMset(redis, entries.map(([key]) => key), recover(error))));
    }
    expire(key, ttlSeconds) {
        return this.command('Cache expire error', { key }, () => {
            const ttl = (0, errors_1.optionalTtl)(ttlSeconds, 'ttlSeconds');
            if (ttl === undefined)
                throw new RangeError('ttlSeconds must be a positive number of seconds');
            return ['EXPIRE', (0, errors_1.requireString)(key, 'key'), String(ttl)];
        }, (n) => n === 1, false);
    }
    /** Seconds left; -2 for a missing key and -1 for a key without TTL (as Redis says), -1 on error (as the seed). */
    ttl(key) {
        return this.command('Cache ttl error', { key }, () => ['TTL', (0, errors_1.requireString)(key, 'key')], (n) => n, -1);
    }
    /** Deletes the keys matching a glob with SCAN + UNLINK in batches (never KEYS); resolves to the count. */
    flushPattern(pattern) {
        if (typeof pattern !== 'string')
            return (0, errors_1.rejectWith)(() => (0, errors_1.requireString)(pattern, 'pattern'));
        const recover = (0, access_1.failSoft)('Cache flush pattern error', { pattern }, 0);
        return (0, access_1.softly)(this.connection, recover, (redis) => redis.scanDelete(pattern, 1000, undefined, recover));
    }
    /**
     * Cache-aside with single flight: concurrent misses on one key run `loader` once
     * and share its value; a loader error rejects every waiter and caches nothing.
     * The value is stored only if no invalidation of the key (del, the services'
     * invalidate methods) happened since the load began (see fill.ts).
     */
    getOrSet(key, loader, ttlSeconds) {
        let ttl;
        try {
            (0, errors_1.requireString)(key, 'key');
            if (typeof loader !== 'function')
                throw new TypeError(`loader must be a function, got ${(0, errors_1.describeType)(loader)}`);
            ttl = (0, errors_1.optionalTtl)(ttlSeconds, 'ttlSeconds');
        }
        catch (error) {
            return Promise.reject(error);
        }
        return this.flights.run(key, async () => {
            const cached = await this.get(key);
            if (cached !== null)
                return cached;
            const token = await this.beginFill(key);
            const value = await loader();
            if (token !== null)
                await this.storeFill(key, token, value, ttl);
            return value;
        });
    }
    /** The fill's lease token, taken before the load; null (logged) when Redis cannot give one: the value is then not stored. */
    async beginFill(key) {
        try {
            const [token] = await (0, fill_1.beginFills)(this.connection.dispatcher(), [key]);
            return token;
        }
        catch (error) {
            return (0, access_1.failSoft)('Cache set error', { key }, null)(error);
        }
    }
    async storeFill(key, token, value, ttl) {
        try {
            const [stored] = await (0, fill_1.storeFills)(this.connection.dispatcher(), [[key, token, (0, json_1.toJson)(value), ttl]]);
            if (!stored)
                (0, logger_1.log)('debug', 'Cache fill not stored: the key was invalidated during the load', { key });
        }
        catch (error) {
            (0, access_1.failSoft)('Cache set error', { key }, undefined)(error);
        }
    }
    command(context, meta, build, map, fallback) {
        let args;
        try {
            args = build();
        }
        catch (error) {
            return Promise.reject(error);
        }
        const recover = (0, access_1.failSoft)(context, meta, fallback);
        return (0, access_1.softly)(this.connection, recover, (redis) => redis.command(args, map, recover));
    }
}
exports.CacheService = CacheService;
/**
 * After a failed mset some slot groups may have committed (or, after a timeout, all of
 * them, later): deleting every key of the call leaves none holding part of it. Deleting
 * is safe for a cache: a key holding its old value is merely a miss afterwards.
 */
async function undoMset(dispatcher, keys, answer) {
    try {
        await dispatcher.command(['DEL', ...keys]);
        (0, logger_1.log)('warn', 'Cache mset undone: every key it was given was deleted', { keys: keys.length });
    }
    catch (undoError) {
        (0, logger_1.log)('error', 'Cache mset undo error: some of its keys may hold the new values', {
            keys: keys.length,
            ...(0, logger_1.describeError)(undoError),
        });
    }
    return answer;
}
const acknowledged = () => true;
exports.cacheService = new CacheService();
