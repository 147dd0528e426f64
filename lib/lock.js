"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.lockService = exports.LockService = exports.Lock = void 0;
exports.lockFenceKey = lockFenceKey;
const node_crypto_1 = require("node:crypto");
const connection_1 = require("./connection");
const errors_1 = require("./errors");
const keys_1 = require("./keys");
const logger_1 = require("./logger");
const access_1 = require("./access");
const native_1 = require("./native");
const lock_1 = require("./scripts/lock");
const slot_1 = require("./slot");
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
/** The acquire script's grant: [fencing token, replicas online on the master]; anything else is an error, never NaN. */
function grantOf(reply) {
    if (Array.isArray(reply) && reply.length === 2) {
        const [text, replicas] = reply;
        const fence = typeof text === 'string' && /^\d+$/.test(text) ? Number(text) : Number.NaN;
        if (Number.isSafeInteger(fence) &&
            typeof replicas === 'number' &&
            Number.isSafeInteger(replicas) &&
            replicas >= 0) {
            return [fence, replicas];
        }
    }
    throw (0, errors_1.unexpectedReply)('lock acquire', reply);
}
/** Release and extend answer 1 (done) or 0 (not the holder). */
function doneOf(what) {
    return (reply) => {
        if (reply !== 0 && reply !== 1)
            throw (0, errors_1.unexpectedReply)(what, reply);
        return reply === 1;
    };
}
async function releaseToken(connection, resource, token) {
    return connection.dispatcher().script(scripts.release, [keys_1.CacheKeys.lock(resource)], [token], doneOf('lock release'));
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
    release() {
        return releaseToken(this.connection, this.resource, this.token);
    }
    /** Sets the remaining time to `ttlMs`; false when the lock is no longer ours. */
    async extend(ttlMs) {
        const ttl = requireMs(ttlMs, 'ttlMs', false);
        return this.connection
            .dispatcher()
            .script(scripts.extend, [keys_1.CacheKeys.lock(this.resource)], [this.token, String(ttl)], doneOf('lock extend'));
    }
}
exports.Lock = Lock;
/**
 * Distributed mutual exclusion on `lock:<resource>` (SET NX PX with a random token).
 * Redis trouble rejects: a lock never "fails open". A lock is handed out only once its
 * fencing token is on every replica online on the master, so a failover to one of them
 * continues the token sequence.
 */
class LockService {
    connection;
    waitForReplicas;
    replicaTimeoutMs;
    constructor(connection, options) {
        this.connection = connection ?? connection_1.redisConnection;
        if (options !== undefined && (options === null || typeof options !== 'object')) {
            throw new TypeError(`options must be an object, got ${(0, errors_1.describeType)(options)}`);
        }
        const replicas = options?.waitForReplicas ?? 0;
        const timeout = options?.replicaTimeoutMs ?? 200;
        if (typeof replicas !== 'number' || !Number.isSafeInteger(replicas) || replicas < 0) {
            throw new RangeError(`options.waitForReplicas must be a non-negative integer, got ${String(replicas)}`);
        }
        if (typeof timeout !== 'number' || !Number.isSafeInteger(timeout) || timeout <= 0) {
            throw new RangeError(`options.replicaTimeoutMs must be a positive integer of milliseconds, got ${String(timeout)}`);
        }
        this.waitForReplicas = replicas;
        this.replicaTimeoutMs = timeout;
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
            const grant = await this.connection
                .dispatcher()
                .script(scripts.acquire, [keys_1.CacheKeys.lock(resource), lockFenceKey(resource)], [token, String(ttl), String(Math.max(FENCE_TTL_MS, ttl))]);
            if (grant !== null)
                return this.handOut(resource, token, grant);
            const left = deadline - Date.now();
            if (left <= 0)
                return null;
            // Jitter keeps waiters from retrying in lockstep.
            await new Promise((resolve) => setTimeout(resolve, Math.min(left, delay / 2 + Math.random() * delay)));
            delay = Math.min(delay * 2, RETRY_MAX_MS);
        }
    }
    /**
     * The granted lock, once its fencing token is on every online replica (and at least
     * waitForReplicas). A grant that cannot be handed out (an unexpected reply, replicas
     * behind) is released, not left to its TTL.
     */
    async handOut(resource, token, grant) {
        try {
            const [fence, online] = grantOf(grant);
            const replicas = Math.max(online, this.waitForReplicas);
            if (replicas > 0) {
                const reached = await (0, access_1.replicaAcks)(this.connection, keys_1.CacheKeys.lock(resource), replicas, this.replicaTimeoutMs);
                if (reached < replicas) {
                    throw new errors_1.RedisLayerError('ERR_NOT_REPLICATED', `lock on ${resource}: ${reached} of ${replicas} replicas acknowledged the grant within ${this.replicaTimeoutMs} ms`);
                }
            }
            return new Lock(this.connection, resource, token, fence);
        }
        catch (error) {
            await releaseToken(this.connection, resource, token).catch((releaseError) => (0, logger_1.log)('error', 'Lock release error', { resource, ...(0, logger_1.describeError)(releaseError) }));
            throw error;
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
