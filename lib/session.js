"use strict";
var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    var desc = Object.getOwnPropertyDescriptor(m, k);
    if (!desc || ("get" in desc ? !m.__esModule : desc.writable || desc.configurable)) {
      desc = { enumerable: true, get: function() { return m[k]; } };
    }
    Object.defineProperty(o, k2, desc);
}) : (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    o[k2] = m[k];
}));
var __setModuleDefault = (this && this.__setModuleDefault) || (Object.create ? (function(o, v) {
    Object.defineProperty(o, "default", { enumerable: true, value: v });
}) : function(o, v) {
    o["default"] = v;
});
var __importStar = (this && this.__importStar) || (function () {
    var ownKeys = function(o) {
        ownKeys = Object.getOwnPropertyNames || function (o) {
            var ar = [];
            for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) ar[ar.length] = k;
            return ar;
        };
        return ownKeys(o);
    };
    return function (mod) {
        if (mod && mod.__esModule) return mod;
        var result = {};
        if (mod != null) for (var k = ownKeys(mod), i = 0; i < k.length; i++) if (k[i] !== "default") __createBinding(result, mod, k[i]);
        __setModuleDefault(result, mod);
        return result;
    };
})();
Object.defineProperty(exports, "__esModule", { value: true });
exports.sessionService = exports.SessionService = void 0;
exports.userSessionsKey = userSessionsKey;
const node_crypto_1 = require("node:crypto");
const connection_1 = require("./connection");
const errors_1 = require("./errors");
const keys_1 = require("./keys");
const logger_1 = require("./logger");
const access_1 = require("./access");
const native_1 = require("./native");
const lua = __importStar(require("./scripts/session"));
const slot_1 = require("./slot");
const SESSION_TTL_MS = 86_400_000; // 24 hours, as the seed
const REFRESH_TTL_MS = 2_592_000_000; // 30 days, as the seed's pointer
/** How often, at most, one process raises the index bound of a session it slides. */
const INDEX_BUMP_EVERY_MS = 3_600_000;
/**
 * An index entry's score: its session's expiry bound, now + this when the entry is set or
 * raised. Twice the bump interval beyond the 24 h, so every slide is covered by a bump of
 * the same process even when one bump failed, and cluster nodes' clocks may differ by up
 * to an hour.
 */
const INDEX_HORIZON_MS = SESSION_TTL_MS + 2 * INDEX_BUMP_EVERY_MS;
/** Sessions whose last bump one process remembers (the least recently bumped are forgotten). */
const INDEX_BUMP_MEMORY = 50_000;
const DEFAULT_MAX_SESSIONS = 100;
const DELETE_BATCH = 200;
const RACE_RETRIES = 3;
const MOVE_RETRIES = 10;
/** SESSION_MERGE's answer when the text or the update is beyond its in-place splice. */
const NEEDS_FULL_MERGE = -3;
const scripts = {
    merge: (0, native_1.registerScript)(lua.SESSION_MERGE),
    mergeFull: (0, native_1.registerScript)(lua.SESSION_MERGE_FULL),
    extend: (0, native_1.registerScript)(lua.SESSION_EXTEND),
    removeOwned: (0, native_1.registerScript)(lua.SESSION_DELETE_OWNED),
    take: (0, native_1.registerScript)(lua.SESSION_TAKE),
    indexAdd: (0, native_1.registerScript)(lua.SESSION_INDEX_ADD),
    indexTouch: (0, native_1.registerScript)(lua.SESSION_INDEX_TOUCH),
    unindex: (0, native_1.registerScript)(lua.SESSION_UNINDEX),
    ids: (0, native_1.registerScript)(lua.SESSION_IDS),
    prune: (0, native_1.registerScript)(lua.SESSION_PRUNE),
};
/**
 * Every session id of a user (sorted set, scored by an upper bound of the session's
 * expiry time in ms, so the most recently active sort last), beside the seed's
 * `user:{id}:session`, which still names the latest one for backends that read it.
 * Named `{user:<id>:session}:index` so both share a hash slot on Redis Cluster.
 */
function userSessionsKey(userId) {
    return (0, slot_1.sameSlotKey)(keys_1.CacheKeys.userSession(userId), ':index');
}
const raw = (value) => JSON.stringify(value) ?? '';
const LAST_ACTIVITY_KEY = raw('lastActivity');
/**
 * The seed's SessionService: sessions as JSON text under `session:{id}` (24 h, sliding),
 * with every read-modify-write of a session done in one Lua step so concurrent calls
 * never lose a field, and a write racing a logout never revives the session (writes
 * only modify an existing key).
 *
 * A session and its user's pointer + index live in different hash slots on Redis
 * Cluster, so operations spanning both are single-slot steps in a safe order: a
 * session exists before it is indexed, and is deleted before it is unindexed, so every
 * live session is always findable through the index (`deleteUserSessions` reaches it).
 *
 * Reads (getSession, getActiveSessions) fail soft as the seed's: Redis trouble is logged
 * and answered with null / []. Every other method rejects with a RedisLayerError.
 */
class SessionService {
    connection;
    indexBumped = new Map();
    waitForReplicas;
    replicaTimeoutMs;
    maxSessionsPerUser;
    constructor(connection, options) {
        this.connection = connection ?? connection_1.redisConnection;
        const replicas = options?.waitForReplicas ?? 0;
        const timeout = options?.replicaTimeoutMs ?? 200;
        const cap = options?.maxSessionsPerUser ?? DEFAULT_MAX_SESSIONS;
        if (!Number.isInteger(replicas) || replicas < 0)
            throw new RangeError(`options.waitForReplicas must be a non-negative integer, got ${replicas}`);
        if (!Number.isInteger(timeout) || timeout <= 0)
            throw new RangeError(`options.replicaTimeoutMs must be a positive integer, got ${timeout}`);
        if (!Number.isInteger(cap) || cap < 1)
            throw new RangeError(`options.maxSessionsPerUser must be a positive integer, got ${cap}`);
        this.waitForReplicas = replicas;
        this.replicaTimeoutMs = timeout;
        this.maxSessionsPerUser = cap;
    }
    /**
     * With `waitForReplicas`, a write is acknowledged only once that many replicas have it
     * (WAIT on the node holding `key`), so a failover cannot lose it or bring back a
     * deleted session; otherwise it rejects with ERR_NOT_REPLICATED.
     */
    async replicated(key) {
        if (this.waitForReplicas === 0)
            return;
        const reached = await (0, access_1.replicaAcks)(this.connection, key, this.waitForReplicas, this.replicaTimeoutMs);
        if (reached < this.waitForReplicas) {
            throw new errors_1.RedisLayerError('ERR_NOT_REPLICATED', `session write reached ${reached} of ${this.waitForReplicas} replicas within ${this.replicaTimeoutMs} ms`);
        }
    }
    /** A new session id: 256 bits from the OS CSPRNG, base64url (43 characters). */
    generateSessionId() {
        return (0, node_crypto_1.randomBytes)(32).toString('base64url');
    }
    /**
     * Stores the session and makes it the user's latest; beyond `maxSessionsPerUser`, the
     * user's least recently active sessions are logged out. Rejects when Redis cannot store it.
     */
    async createSession(sessionId, sessionData) {
        (0, errors_1.requireString)(sessionId, 'sessionId');
        const userId = ownerOf(sessionData, 'sessionData');
        const text = JSON.stringify(sessionData);
        const stored = await this.connection
            .dispatcher()
            .command(['SET', keys_1.CacheKeys.session(sessionId), text, 'PX', String(SESSION_TTL_MS)]);
        expectReply('createSession', stored, isOk);
        await this.replicated(keys_1.CacheKeys.session(sessionId));
        const over = await this.index(userId, sessionId, raw(sessionId), this.maxSessionsPerUser);
        (0, logger_1.log)('info', 'Session created', { session: (0, logger_1.redactedTag)(sessionId), userId });
        if (over.length > 0)
            await this.evict(userId, over);
    }
    /**
     * The session with `lastActivity` refreshed (as a Date) and its 24 h expiry slid,
     * or null. Redis trouble is logged and answered with null, as the seed.
     */
    async getSession(sessionId) {
        (0, errors_1.requireString)(sessionId, 'sessionId');
        try {
            // What raw() makes of { lastActivity: new Date() }, without JSON.stringify's toJSON walk.
            return await this.mergePairs(sessionId, '', [LAST_ACTIVITY_KEY, `"${new Date().toISOString()}"`]);
        }
        catch (error) {
            return (0, access_1.failSoft)('Session get error', { session: (0, logger_1.redactedTag)(sessionId) }, null)(error);
        }
    }
    async updateSession(sessionId, updates) {
        (0, errors_1.requireString)(sessionId, 'sessionId');
        if (updates === null || typeof updates !== 'object' || Array.isArray(updates)) {
            throw new TypeError(`updates must be an object, got ${(0, errors_1.describeType)(updates)}`);
        }
        const owner = ownerNamed(updates);
        const updated = (await this.merge(sessionId, owner, { lastActivity: new Date(), ...updates })) !== null;
        if (updated)
            await this.replicated(keys_1.CacheKeys.session(sessionId));
        return updated;
    }
    async deleteSession(sessionId) {
        (0, errors_1.requireString)(sessionId, 'sessionId');
        const key = keys_1.CacheKeys.session(sessionId);
        for (let attempt = 0; attempt < RACE_RETRIES; attempt++) {
            const text = expectReply('deleteSession', await this.connection.dispatcher().command(['GET', key]), isTextOrNull);
            if (text === null)
                return false;
            const userId = storedOwner(text);
            if (userId === undefined)
                return (expectReply('deleteSession', await this.connection.dispatcher().command(['DEL', key]), isCount) === 1);
            const outcome = await this.removeOwned(sessionId, userId);
            if (outcome !== -1) {
                if (outcome === 1)
                    await this.replicated(key);
                await this.unindex(userId, '', [sessionId]);
                if (outcome === 1)
                    (0, logger_1.log)('info', 'Session deleted', { session: (0, logger_1.redactedTag)(sessionId), userId });
                return outcome === 1;
            }
        }
        throw new Error(`deleteSession: the session tagged ${(0, logger_1.redactedTag)(sessionId)} kept changing owner`);
    }
    async deleteUserSessions(userId) {
        (0, errors_1.requireString)(userId, 'userId');
        let deleted = 0;
        // Sessions created while this runs join the index; a few rounds catch them too.
        for (let round = 0; round < RACE_RETRIES; round++) {
            const ids = (await this.sessionIds(userId)).map((entry) => entry.id);
            if (ids.length === 0)
                break;
            const removed = await this.removeAll(userId, ids);
            deleted += removed.deleted;
            if (removed.left === 0)
                break;
        }
        (0, logger_1.log)('info', 'User sessions deleted', { userId, count: deleted });
        return deleted;
    }
    async extendSession(sessionId) {
        (0, errors_1.requireString)(sessionId, 'sessionId');
        const reply = await this.connection
            .dispatcher()
            .script(scripts.extend, [keys_1.CacheKeys.session(sessionId)], [String(SESSION_TTL_MS)]);
        const [done, owner] = expectReply('extendSession', reply, isExtendReply);
        if (done === 1)
            this.keepIndexed(owner === null ? undefined : parseOwner(owner), sessionId);
        return done === 1;
    }
    /**
     * Every live session of the user, the most recently active first (by the index's expiry
     * bounds, so to within an hour). Ids of sessions that are gone are pruned from the index
     * here. Listing does not count as activity. Redis trouble is logged and answered with
     * [], as the seed.
     */
    async getActiveSessions(userId) {
        (0, errors_1.requireString)(userId, 'userId');
        try {
            const entries = await this.sessionIds(userId);
            if (entries.length === 0)
                return [];
            const texts = await this.connection
                .dispatcher()
                .command(['MGET', ...entries.map((e) => keys_1.CacheKeys.session(e.id))]);
            if (!Array.isArray(texts) || texts.length !== entries.length)
                throw (0, errors_1.unexpectedReply)('getActiveSessions', texts);
            const sessions = [];
            const dead = [];
            const unindexed = [];
            entries.forEach((entry, i) => {
                const text = expectReply('getActiveSessions', texts[i], isTextOrNull);
                if (text === null || storedOwner(text) !== userId) {
                    if (entry.score !== undefined)
                        dead.push(entry);
                    return;
                }
                if (entry.score === undefined)
                    unindexed.push(entry.id);
                const session = parseSession(text, entry.id);
                if (session !== null)
                    sessions.push(session);
            });
            if (dead.length > 0 || unindexed.length > 0)
                await this.prune(userId, dead, unindexed);
            return sessions;
        }
        catch (error) {
            return (0, access_1.failSoft)('Session list error', { userId }, [])(error);
        }
    }
    /**
     * Moves the session to a fresh id (data, TTL, user index and pointer follow) and
     * returns the new id; the old id stops working once this resolves, and no update
     * acknowledged on it is lost. Null when the session does not exist or was logged out
     * meanwhile. Call it after login and privilege changes (anti-fixation).
     */
    async rotateSession(oldSessionId) {
        (0, errors_1.requireString)(oldSessionId, 'oldSessionId');
        const oldKey = keys_1.CacheKeys.session(oldSessionId);
        for (let attempt = 0; attempt < RACE_RETRIES; attempt++) {
            const seen = await this.take(oldKey, '');
            const userId = seen.state === 2 ? storedOwner(seen.text) : undefined;
            if (seen.state !== 2 || userId === undefined)
                return null;
            const newSessionId = this.generateSessionId();
            const newKey = keys_1.CacheKeys.session(newSessionId);
            if (!(await this.copy(newKey, seen, 'NX')))
                continue;
            let outcome;
            try {
                outcome = await this.moveOnce(userId, oldSessionId, newSessionId, seen);
            }
            catch (error) {
                await this.undoCopy(userId, newSessionId).catch(() => undefined);
                throw error;
            }
            if (outcome === 'moved') {
                (0, logger_1.log)('info', 'Session rotated', { userId, from: (0, logger_1.redactedTag)(oldSessionId), to: (0, logger_1.redactedTag)(newSessionId) });
                return newSessionId;
            }
            await this.undoCopy(userId, newSessionId);
            if (outcome === 'gone')
                return null;
        }
        throw new Error(`rotateSession: the session tagged ${(0, logger_1.redactedTag)(oldSessionId)} could not be moved`);
    }
    /**
     * The copy is indexed before the old session goes, which happens only while it still
     * holds the copied text: an update landing meanwhile is copied again, a logout
     * meanwhile ('gone') wins. The pointer follows last. The copy is indexed like a login
     * (a fresh expiry bound, so it lists as the most recent) but never evicts: it replaces
     * the old entry, so the user's count does not grow.
     */
    async moveOnce(userId, oldId, newId, seen) {
        await this.index(userId, newId, '', 0);
        const oldKey = keys_1.CacheKeys.session(oldId);
        let copied = seen;
        for (let copies = 0; copies < MOVE_RETRIES; copies++) {
            const now = await this.take(oldKey, copied.text);
            if (now.state === 1) {
                await this.unindex(userId, newId, [oldId]);
                return 'moved';
            }
            if (now.state === 0)
                return 'gone';
            if (storedOwner(now.text) !== userId)
                return 'retry';
            if (!(await this.copy(keys_1.CacheKeys.session(newId), now, 'XX')))
                return 'gone';
            copied = now;
        }
        return 'retry';
    }
    async undoCopy(userId, newId) {
        await this.connection.dispatcher().command(['DEL', keys_1.CacheKeys.session(newId)]);
        await this.unindex(userId, '', [newId]);
    }
    /** SESSION_TAKE: compare-and-delete `expected`, or only look when it is ''. */
    async take(key, expected) {
        const reply = expectReply('session take', await this.connection.dispatcher().script(scripts.take, [key], [expected]), isTakeReply);
        if (reply[0] === 2)
            return { state: 2, text: reply[1], pttl: reply[2] };
        return reply[0] === 1 ? { state: 1 } : { state: 0 };
    }
    /** Writes a copy with the TTL the original had; false when NX / XX refused it. */
    async copy(key, from, mode) {
        const expiry = from.pttl > 0 ? ['PX', String(from.pttl)] : [];
        const reply = await this.connection.dispatcher().command(['SET', key, from.text, ...expiry, mode]);
        return expectReply('session copy', reply, isOkOrNull) !== null;
    }
    /**
     * Indexes the id with a fresh expiry bound (pruning entries whose bound has passed) and
     * resolves to the ids beyond `cap` (0 = no cap), which the caller must log out.
     */
    async index(userId, sessionId, pointerJson, cap) {
        const sent = Date.now();
        const reply = await this.connection
            .dispatcher()
            .script(scripts.indexAdd, [userSessionsKey(userId), keys_1.CacheKeys.userSession(userId)], [sessionId, pointerJson, String(REFRESH_TTL_MS), String(INDEX_HORIZON_MS), String(cap)]);
        const over = expectReply('session index', reply, isTextArray);
        this.remember(sessionId, sent);
        return over;
    }
    /** Forgets ids; a pointer naming one moves to `replacement` ('' = the latest left). Resolves to the ids left. */
    async unindex(userId, replacement, ids) {
        const reply = await this.connection
            .dispatcher()
            .script(scripts.unindex, [userSessionsKey(userId), keys_1.CacheKeys.userSession(userId)], [replacement, ...ids]);
        return expectReply('session unindex', reply, isCount);
    }
    /** SESSION_DELETE_OWNED: 1 deleted, 0 missing, -1 the session belongs to someone else now. */
    async removeOwned(sessionId, userId) {
        const reply = await this.connection
            .dispatcher()
            .script(scripts.removeOwned, [keys_1.CacheKeys.session(sessionId)], [raw(userId)]);
        const outcome = expectReply('session delete', reply, isDeleteOutcome);
        if (outcome === 1)
            this.indexBumped.delete(sessionId);
        return outcome;
    }
    /**
     * Deletes the user's sessions among `ids` (each only while it is still theirs), then
     * forgets the ids, batch by batch, so a session is gone before it leaves the index.
     */
    async removeAll(userId, ids) {
        let deleted = 0;
        let left = 0;
        for (let i = 0; i < ids.length; i += DELETE_BATCH) {
            const batch = ids.slice(i, i + DELETE_BATCH);
            const outcomes = await Promise.all(batch.map((id) => this.removeOwned(id, userId)));
            deleted += outcomes.filter((outcome) => outcome === 1).length;
            left = await this.unindex(userId, '', batch);
        }
        return { deleted, left };
    }
    /**
     * Logs out the sessions a login pushed beyond the per-user cap. Trouble is only logged:
     * the session being created is stored, and the ids stay in the index, so the next
     * login evicts them.
     */
    async evict(userId, ids) {
        const sessions = ids.map(logger_1.redactedTag);
        try {
            const { deleted } = await this.removeAll(userId, ids);
            (0, logger_1.log)('info', 'Sessions beyond the per-user limit logged out', { userId, sessions, deleted });
        }
        catch (error) {
            (0, logger_1.log)('warn', 'Sessions beyond the per-user limit not logged out', { userId, sessions, ...(0, logger_1.describeError)(error) });
        }
    }
    async prune(userId, dead, unindexed) {
        const pairs = dead.flatMap((entry) => [entry.id, entry.score ?? '']);
        try {
            await this.connection
                .dispatcher()
                .script(scripts.prune, [userSessionsKey(userId)], [String(INDEX_HORIZON_MS), String(dead.length), ...pairs, ...unindexed]);
        }
        catch (error) {
            // Housekeeping only: the sessions read are still the answer.
            (0, logger_1.log)('warn', 'Session index not pruned', { userId, ...(0, logger_1.describeError)(error) });
        }
    }
    /**
     * The merged session, parsed (null when there is none). `owner` is the raw owner the
     * update names ('' for none), checked against the stored one; `userId` itself is never
     * written, so the owner stays exactly as stored.
     */
    merge(sessionId, owner, updates) {
        const pairs = [];
        for (const [field, value] of Object.entries(updates)) {
            if (field !== 'userId')
                pairs.push(raw(field), raw(value));
        }
        return this.mergePairs(sessionId, owner, pairs);
    }
    /** `merge` with the updates already as raw JSON pairs (getSession's hot path); keeps the session's index entry current. */
    async mergePairs(sessionId, owner, pairs) {
        const keys = [keys_1.CacheKeys.session(sessionId)];
        const args = [String(SESSION_TTL_MS), owner, ...pairs];
        let reply = expectReply('session merge', await this.connection.dispatcher().script(scripts.merge, keys, args), isMergeReply);
        if (reply[0] === NEEDS_FULL_MERGE) {
            reply = expectReply('session merge', await this.connection.dispatcher().script(scripts.mergeFull, keys, args), isMergeReply);
        }
        switch (reply[0]) {
            case 1: {
                const session = parseSession(reply[1], sessionId);
                this.keepIndexed(ownerOfRecord(session), sessionId);
                return session;
            }
            case -1:
                (0, logger_1.log)('warn', 'Session is not a JSON object, treated as missing', { session: (0, logger_1.redactedTag)(sessionId) });
                return null;
            case -2:
                throw new RangeError('updates.userId must name the session owner; create a new session to change users');
            default:
                return null;
        }
    }
    /**
     * Keeps a session that slid from being pruned: raises its index bound (and the index's
     * expiry) to a fresh one, at most once an hour per session and process. A failed raise
     * is retried on the session's next slide.
     */
    keepIndexed(userId, sessionId) {
        if (userId === undefined)
            return;
        const now = Date.now();
        const last = this.indexBumped.get(sessionId);
        if (last !== undefined && now - last < INDEX_BUMP_EVERY_MS)
            return;
        this.remember(sessionId, now);
        const failed = (error) => {
            this.indexBumped.delete(sessionId);
            (0, logger_1.log)('warn', 'Session index entry not extended', {
                userId,
                session: (0, logger_1.redactedTag)(sessionId),
                ...(0, logger_1.describeError)(error),
            });
        };
        try {
            this.connection
                .dispatcher()
                .script(scripts.indexTouch, [userSessionsKey(userId)], [sessionId, String(INDEX_HORIZON_MS)])
                .catch(failed);
        }
        catch (error) {
            failed(error);
        }
    }
    /** Notes when this process last set the session's index bound; the least recently noted make room. */
    remember(sessionId, at) {
        this.indexBumped.delete(sessionId);
        if (this.indexBumped.size >= INDEX_BUMP_MEMORY) {
            const oldest = this.indexBumped.keys().next();
            if (!oldest.done)
                this.indexBumped.delete(oldest.value);
        }
        this.indexBumped.set(sessionId, at);
    }
    /** The user's indexed ids (most recently active first), plus the seed's latest-session pointer (sessions the seed created). */
    async sessionIds(userId) {
        const reply = await this.connection
            .dispatcher()
            .script(scripts.ids, [userSessionsKey(userId), keys_1.CacheKeys.userSession(userId)], []);
        const [pointer, ...ranked] = expectReply('session index read', reply, isIdsReply);
        const entries = [];
        for (let i = 0; i + 1 < ranked.length; i += 2)
            entries.push({ id: ranked[i], score: ranked[i + 1] });
        const latest = pointer === null ? undefined : parseOwner(pointer);
        if (latest !== undefined && !entries.some((entry) => entry.id === latest))
            entries.push({ id: latest });
        return entries;
    }
}
exports.SessionService = SessionService;
function ownerOf(data, name) {
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
        throw new TypeError(`${name} must be an object, got ${(0, errors_1.describeType)(data)}`);
    }
    const userId = data.userId;
    if (typeof userId !== 'string')
        throw new TypeError(`${name}.userId must be a string, got ${(0, errors_1.describeType)(userId)}`);
    if (userId === '')
        throw new RangeError(`${name}.userId must not be empty`);
    return userId;
}
/**
 * The owner an update names, as raw JSON for the merge script's check, or '' when it
 * names none (no `userId`, or `userId: undefined` as a spread DTO carries it). The id
 * of a user is a non-empty string, or a number naming the same keys.
 */
function ownerNamed(updates) {
    if (!Object.hasOwn(updates, 'userId'))
        return '';
    const userId = updates.userId;
    if (userId === undefined)
        return '';
    if (typeof userId === 'string' || typeof userId === 'number') {
        if (userId === '' || (typeof userId === 'number' && !Number.isFinite(userId))) {
            throw new RangeError(`updates.userId must name the session owner, got ${userId === '' ? 'an empty string' : userId}`);
        }
        return raw(userId);
    }
    throw new TypeError(`updates.userId must name the session owner (a string) or be left out, got ${(0, errors_1.describeType)(userId)}`);
}
/** The reply if `ok` accepts its shape; otherwise ERR_UNEXPECTED_REPLY, never a guessed value. */
function expectReply(what, reply, ok) {
    if (!ok(reply))
        throw (0, errors_1.unexpectedReply)(what, reply);
    return reply;
}
const isOk = (reply) => reply === 'OK';
const isOkOrNull = (reply) => reply === 'OK' || reply === null;
const isCount = (reply) => Number.isInteger(reply) && reply >= 0;
const isTextOrNull = (reply) => reply === null || typeof reply === 'string';
const isTextArray = (reply) => Array.isArray(reply) && reply.every((item) => typeof item === 'string');
const isDeleteOutcome = (reply) => reply === 1 || reply === 0 || reply === -1;
const isExtendReply = (reply) => Array.isArray(reply) && (reply[0] === 0 || (reply[0] === 1 && isTextOrNull(reply[1])));
const isTakeReply = (reply) => Array.isArray(reply) &&
    (reply[0] === 0 || reply[0] === 1 || (reply[0] === 2 && typeof reply[1] === 'string' && Number.isInteger(reply[2])));
const isMergeReply = (reply) => Array.isArray(reply) &&
    (reply[0] === 1
        ? typeof reply[1] === 'string'
        : reply[0] === 0 || reply[0] === -1 || reply[0] === -2 || reply[0] === NEEDS_FULL_MERGE);
/** {pointer or null, id, score, id, score, ...}: ids and scores as strings. */
const isIdsReply = (reply) => Array.isArray(reply) &&
    reply.length % 2 === 1 &&
    isTextOrNull(reply[0]) &&
    reply.every((item, i) => i === 0 || typeof item === 'string');
/** A user id as keys name it: '42' and 42 are one user; anything else is no id. */
function idText(value) {
    return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}
function parseOwner(json) {
    try {
        return idText(JSON.parse(json));
    }
    catch {
        return undefined;
    }
}
function ownerOfRecord(session) {
    return idText(session?.userId);
}
function storedOwner(text) {
    try {
        return ownerOfRecord(JSON.parse(text));
    }
    catch {
        return undefined;
    }
}
function parseSession(text, sessionId) {
    let session;
    try {
        session = JSON.parse(text);
    }
    catch {
        // The parser's message quotes the text, which is personal data: only the tag is logged.
        (0, logger_1.log)('warn', 'Session is not JSON, treated as missing', { session: (0, logger_1.redactedTag)(sessionId) });
        return null;
    }
    if (session === null || typeof session !== 'object' || Array.isArray(session))
        return null;
    const record = session;
    if (typeof record.lastActivity === 'string') {
        const when = new Date(record.lastActivity);
        if (!Number.isNaN(when.getTime()))
            record.lastActivity = when;
    }
    return session;
}
exports.sessionService = new SessionService();
