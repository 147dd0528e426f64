"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.cacheService = exports.CacheService = void 0;
const connection_1 = require("./connection");
const errors_1 = require("./errors");
const json_1 = require("./json");
const logger_1 = require("./logger");
/**
 * The seed's CacheService: JSON values under the caller's keys, failing soft
 * (a Redis error or a corrupt value is logged and answered with null / false / -1 / 0).
 */
class CacheService {
    connection;
    loading = new Map();
    constructor(connection) {
        this.connection = connection ?? connection_1.redisConnection;
    }
    get(key) {
        if (typeof key !== 'string')
            return (0, errors_1.rejectWith)(() => (0, errors_1.requireString)(key, 'key'));
        const client = this.client('Cache get error', { key });
        if (!client)
            return Promise.resolve(null);
        const { dispatcher } = client;
        return dispatcher.get(key, (reply) => parseOrMiss(reply, key), (error) => {
            (0, logger_1.log)('error', 'Cache get error', { key, ...(0, logger_1.describeError)(error) });
            return null;
        });
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
        try {
            text = (0, json_1.toJson)(value);
        }
        catch (error) {
            (0, logger_1.log)('error', 'Cache set error', { key, ...(0, logger_1.describeError)(error) });
            return Promise.resolve(false);
        }
        const client = this.client('Cache set error', { key });
        if (!client)
            return Promise.resolve(false);
        const { dispatcher } = client;
        return dispatcher.set(key, text, ttl, () => true, (error) => {
            (0, logger_1.log)('error', 'Cache set error', { key, ...(0, logger_1.describeError)(error) });
            return false;
        });
    }
    del(key) {
        return this.command('Cache delete error', { key }, () => ['DEL', (0, errors_1.requireString)(key, 'key')], (n) => n > 0, false);
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
        const client = this.client('Cache mget error', { keys: list.length });
        const misses = () => list.map(() => null);
        const fail = (error) => {
            (0, logger_1.log)('error', 'Cache mget error', { keys: list.length, ...(0, logger_1.describeError)(error) });
            return misses();
        };
        if (!client)
            return Promise.resolve(misses());
        const { dispatcher } = client;
        return dispatcher.run((id) => dispatcher.native.jsonArray(id, ['MGET', ...list]), ([text, unchecked]) => {
            let values;
            try {
                values = JSON.parse(text);
            }
            catch (error) {
                // Each spliced value passed a strict JSON check natively; V8 disagreeing is a bug.
                return fail(error);
            }
            for (let i = 0; i < unchecked.length; i += 2) {
                const index = unchecked[i];
                values[index] = parseOrMiss(unchecked[i + 1], list[index]);
            }
            return values;
        }, fail);
    }
    /** Writes all pairs; with a TTL, atomically (MULTI/EXEC of SET … EX), so no key is ever left without one. */
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
        const entries = [];
        try {
            for (const [key, value] of Object.entries(keyValuePairs))
                entries.push([key, (0, json_1.toJson)(value, `keyValuePairs.${key}`)]);
        }
        catch (error) {
            (0, logger_1.log)('error', 'Cache mset error', (0, logger_1.describeError)(error));
            return Promise.resolve(false);
        }
        if (entries.length === 0)
            return Promise.resolve(true);
        const client = this.client('Cache mset error', {});
        if (!client)
            return Promise.resolve(false);
        const { dispatcher } = client;
        const recover = (error) => {
            (0, logger_1.log)('error', 'Cache mset error', (0, logger_1.describeError)(error));
            return false;
        };
        if (ttl === undefined) {
            return dispatcher.command(['MSET', ...entries.flat()], () => true, recover);
        }
        const commands = entries.map(([key, text]) => ['SET', key, text, 'EX', String(ttl)]);
        return dispatcher.run((id) => dispatcher.native.pipeline(id, commands, true), (replies) => {
            const failed = replies.find((reply) => reply !== 'OK');
            if (failed !== undefined)
                return recover(new Error(`SET in MSET transaction failed: ${String(failed?.message ?? failed)}`));
            return true;
        }, recover);
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
        const client = this.client('Cache flush pattern error', { pattern });
        if (!client)
            return Promise.resolve(0);
        const { dispatcher } = client;
        return dispatcher.run((id) => dispatcher.native.scanDelete(id, pattern, 1000), (count) => count, (error) => {
            (0, logger_1.log)('error', 'Cache flush pattern error', { pattern, ...(0, logger_1.describeError)(error) });
            return 0;
        });
    }
    /**
     * Cache-aside with single flight: concurrent misses on one key run `loader` once
     * and share its value; a loader error rejects every waiter and caches nothing.
     */
    getOrSet(key, loader, ttlSeconds) {
        try {
            (0, errors_1.requireString)(key, 'key');
            if (typeof loader !== 'function')
                throw new TypeError(`loader must be a function, got ${(0, errors_1.describeType)(loader)}`);
            (0, errors_1.optionalTtl)(ttlSeconds, 'ttlSeconds');
        }
        catch (error) {
            return Promise.reject(error);
        }
        const running = this.loading.get(key)?.flight;
        if (running)
            return running;
        // The map holds a holder that forgets the flight when it lands: a churning Map's
        // rehashed-away stores keep pointing at old entries (see PendingTable), and through
        // the promise they would keep every loaded value alive until the next full GC.
        const holder = {};
        const flight = (async () => {
            const cached = await this.get(key);
            if (cached !== null)
                return cached;
            const value = await loader();
            await this.set(key, value, ttlSeconds);
            return value;
        })().finally(() => {
            holder.flight = undefined;
            this.loading.delete(key);
        });
        holder.flight = flight;
        this.loading.set(key, holder);
        return flight;
    }
    /** @internal The command client, or null (logged) while not connected. */
    client(context, meta) {
        try {
            return this.connection.getClient();
        }
        catch (error) {
            (0, logger_1.log)('error', context, { ...meta, ...(0, logger_1.describeError)(error) });
            return null;
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
        const client = this.client(context, meta);
        if (!client)
            return Promise.resolve(fallback);
        const { dispatcher } = client;
        return dispatcher.command(args, map, (error) => {
            (0, logger_1.log)('error', context, { ...meta, ...(0, logger_1.describeError)(error) });
            return fallback;
        });
    }
}
exports.CacheService = CacheService;
function parseOrMiss(reply, key) {
    try {
        return (0, json_1.fromJson)(reply);
    }
    catch (error) {
        (0, logger_1.log)('warn', 'Cache get error: stored value is not JSON, treated as a miss', { key, ...(0, logger_1.describeError)(error) });
        return null;
    }
}
exports.cacheService = new CacheService();
