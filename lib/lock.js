"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.lockService = exports.LockService = exports.Lock = void 0;
exports.lockFenceKey = lockFenceKey;
const node_crypto_1 = require("node:crypto");
const connection_1 = require("./connection");
const errors_1 = require("./errors");
const keys_1 = require("./keys");
const logger_1 = require("./logger");
const native_1 = require("./native");
const run_1 = require("./scripts/run");
const lock_1 = require("./scripts/lock");
const slot_1 = require("./scripts/slot");
const scripts = {
    acquire: (0, native_1.registerScript)(lock_1.LOCK_ACQUIRE),
    release: (0, native_1.registerScript)(lock_1.LOCK_RELEASE),
    extend: (0, native_1.registerScript)(lock_1.LOCK_EXTEND),
};
/** Fence state outlives any lock; after it expires the server clock keeps tokens growing. */
const FENCE_TTL_MS = 86_400_000;
const RETRY_MIN_MS = 10;
const RETRY_MAX_MS = 200;
/**
 * Key of the fencing counter, `{lock:<resource>}:fence`: in the lock key's hash slot (so
 * acquire is one script on Redis Cluster too) and outside `lock:`, so no resource name
 * can collide with it.
 */
function lockFenceKey(resource) {
    return (0, slot_1.sameSlotKey)(keys_1.CacheKeys.lock(resource), ':fence');
}
function requireMs(value, name, allowZero) {
    if (typeof value !== 'number')
        throw new TypeError(`${name} must be a number of milliseconds, got ${(0, errors_1.describeType)(value)}`);
    if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0) || value > 2 ** 31) {
        throw new RangeError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number of milliseconds up to 2^31, got ${value}`);
    }
    return Math.ceil(value);
}
/** A granted lock. Only this handle's token can release or extend it. */
class Lock {
    connection;
    resource;
    token;
    fencingToken;
    /** @internal */
    constructor(connection, resource, token, 
    /** Grows with every grant of this resource: pass it to the storage you protect and reject older ones. */
    fencingToken) {
        this.connection = connection;
        this.resource = resource;
        this.token = token;
        this.fencingToken = fencingToken;
    }
    /** Releases the lock; false when it is no longer ours (expired, or taken over since). */
    async release() {
        const done = await (0, run_1.runScript)(this.connection, scripts.release, [keys_1.CacheKeys.lock(this.resource)], [this.token]);
        return done === 1;
    }
    /** Sets the remaining time to `ttlMs`; false when the lock is no longer ours. */
    async extend(ttlMs) {
        const ttl = requireMs(ttlMs, 'ttlMs', false);
        const done = await (0, run_1.runScript)(this.connection, scripts.extend, [keys_1.CacheKeys.lock(this.resource)], [
            this.token,
            String(ttl),
        ]);
        return done === 1;
    }
}
exports.Lock = Lock;
/**
 * Distributed mutual exclusion on `lock:<resource>` (SET NX PX with a random token).
 * Redis trouble rejects: a lock never "fails open".
 */
class LockService {
    connection;
    constructor(connection) {
        this.connection = connection ?? connection_1.redisConnection;
    }
    /** The lock, or null when someone else still holds it after `waitMs`. */
    async acquire(resource, ttlMs, options = {}) {
        (0, errors_1.requireString)(resource, 'resource');
        const ttl = requireMs(ttlMs, 'ttlMs', false);
        if (options === null || typeof options !== 'object') {
            throw new TypeError(`options must be an object, got ${(0, errors_1.describeType)(options)}`);
        }
        const waitMs = options.waitMs === undefined ? 0 : requireMs(options.waitMs, 'options.waitMs', true);
        const deadline = Date.now() + waitMs;
        let delay = RETRY_MIN_MS;
        for (;;) {
            const token = (0, node_crypto_1.randomBytes)(16).toString('base64url');
            const fence = await (0, run_1.runScript)(this.connection, scripts.acquire, [keys_1.CacheKeys.lock(resource), lockFenceKey(resource)], [token, String(ttl), String(Math.max(FENCE_TTL_MS, ttl))]);
            if (fence !== null)
                return new Lock(this.connection, resource, token, Number(fence));
            const left = deadline - Date.now();
            if (left <= 0)
                return null;
            // Jitter keeps waiters from retrying in lockstep.
            await new Promise((resolve) => setTimeout(resolve, Math.min(left, delay / 2 + Math.random() * delay)));
            delay = Math.min(delay * 2, RETRY_MAX_MS);
        }
    }
    /**
     * Runs `fn` holding the lock and releases it however `fn` ends (its error is rethrown).
     * Rejects with code ERR_LOCK_BUSY when the lock cannot be had within `waitMs`.
     */
    async withLock(resource, ttlMs, fn, options) {
        if (typeof fn !== 'function')
            throw new TypeError(`fn must be a function, got ${(0, errors_1.describeType)(fn)}`);
        const lock = await this.acquire(resource, ttlMs, options);
        if (lock === null)
            throw new errors_1.RedisLayerError('ERR_LOCK_BUSY', `lock on ${resource} is held by someone else`);
        try {
            return await fn(lock);
        }
        finally {
            // The work is done either way; a failed release only means the lock lapses at its TTL.
            await lock.release().then((released) => {
                if (!released)
                    (0, logger_1.log)('warn', 'Lock expired before release', { resource });
            }, (error) => (0, logger_1.log)('error', 'Lock release error', { resource, ...(0, logger_1.describeError)(error) }));
        }
    }
}
exports.LockService = LockService;
exports.lockService = new LockService();
