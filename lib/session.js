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
const native_1 = require("./native");
const run_1 = require("./scripts/run");
const lua = __importStar(require("./scripts/session"));
const slot_1 = require("./scripts/slot");
const SESSION_TTL_MS = 86_400_000; // 24 hours, as the seed
const REFRESH_TTL_MS = 2_592_000_000; // 30 days, as the seed
const INDEX_BUMP_EVERY_MS = 3_600_000;
const INDEX_BUMP_MEMORY = 10_000;
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
    unindex: (0, native_1.registerScript)(lua.SESSION_UNINDEX),
    ids: (0, native_1.registerScript)(lua.SESSION_IDS),
    prune: (0, native_1.registerScript)(lua.SESSION_PRUNE),
};
/**
 * Every session id of a user (sorted set, scored by creation time), beside the seed's
 * `user:{id}:session`, which still names the latest one for backends that read it.
 * Named `{user:<id>:session}:index` so both share a hash slot on Redis Cluster.
 */
function userSessionsKey(userId) {
    return (0, slot_1.sameSlotKey)(keys_1.CacheKeys.userSession(userId), ':index');
}
const raw = (value) => JSON.stringify(value) ?? '';
const LAST_ACTIVITY_KEY = raw('lastActivity');
class SessionService {
    connection;
    indexBumped = new Map();
    waitForReplicas;
    replicaTimeoutMs;
    constructor(connection, options) {
        this.connection = connection ?? connection_1.redisConnection;
        const replicas = options?.waitForReplicas ?? 0;
        const timeout = options?.replicaTimeoutMs ?? 200;
        if (!Number.isInteger(replicas) || replicas < 0)
            throw new RangeError(`options.waitForReplicas must be a non-negative integer, got ${replicas}`);
        if (!Number.isInteger(timeout) || timeout <= 0)
            throw new RangeError(`options.replicaTimeoutMs must be a positive integer, got ${timeout}`);
        this.waitForReplicas = replicas;
        this.replicaTimeoutMs = timeout;
    }
    /**
     * With `waitForReplicas`, a write is acknowledged only once that many replicas have it
     * (WAIT on the node holding `key`), so a failover cannot lose it or bring back a
     * deleted session; otherwise it rejects with ERR_NOT_REPLICATED.
     */
    async replicated(key) {
        if (this.waitForReplicas === 0)
            return;
        const replies = await (0, run_1.runPipeline)(this.connection, [
            ['EXISTS', key],
            ['WAIT', String(this.waitForReplicas), String(this.replicaTimeoutMs)],
        ]);
        const reached = Number(replies[1]);
        if (!(reached >= this.waitForReplicas)) {
            throw new errors_1.RedisLayerError('ERR_NOT_REPLICATED', `session write reached ${reached} of ${this.waitForReplicas} replicas within ${this.replicaTimeoutMs} ms`);
        }
    }
    /** A new session id: 256 bits from the OS CSPRNG, base64url (43 characters). */
    generateSessionId() {
        return (0, node_crypto_1.randomBytes)(32).toString('base64url');
    }
    /** Stores the session and makes it the user's latest. Rejects when Redis cannot store it. */
    async createSession(sessionId, sessionData) {
        (0, errors_1.requireString)(sessionId, 'sessionId');
        const userId = ownerOf(sessionData, 'sessionData');
        const text = JSON.stringify(sessionData);
        await (0, run_1.runCommand)(this.connection, ['SET', keys_1.CacheKeys.session(sessionId), text, 'PX', String(SESSION_TTL_MS)]);
        await this.replicated(keys_1.CacheKeys.session(sessionId));
        await this.index(userId, sessionId, raw(sessionId), '');
        (0, logger_1.log)('info', 'Session created', { sessionId, userId });
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
            (0, logger_1.log)('error', 'Session get error', { sessionId, ...(0, logger_1.describeError)(error) });
            return null;
        }
    }
    async updateSession(sessionId, updates) {
        (0, errors_1.requireString)(sessionId, 'sessionId');
        if (updates === null || typeof updates !== 'object' || Array.isArray(updates)) {
            throw new TypeError(`updates must be an object, got ${(0, errors_1.describeType)(updates)}`);
        }
        const updated = (await this.merge(sessionId, { lastActivity: new Date(), ...updates })) !== null;
        if (updated)
            await this.replicated(keys_1.CacheKeys.session(sessionId));
        return updated;
    }
    async deleteSession(sessionId) {
        (0, errors_1.requireString)(sessionId, 'sessionId');
        const key = keys_1.CacheKeys.session(sessionId);
        for (let attempt = 0; attempt < RACE_RETRIES; attempt++) {
            const text = await (0, run_1.runCommand)(this.connection, ['GET', key]);
            if (text === null)
                return false;
            const userId = storedOwner(text);
            if (userId === undefined)
                return (await (0, run_1.runCommand)(this.connection, ['DEL', key])) === 1;
            const outcome = await (0, run_1.runScript)(this.connection, scripts.removeOwned, [key], [raw(userId)]);
            if (outcome !== -1) {
                if (outcome === 1)
                    await this.replicated(key);
                await this.unindex(userId, '', [sessionId]);
                if (outcome === 1)
                    (0, logger_1.log)('info', 'Session deleted', { sessionId, userId });
                return outcome === 1;
            }
        }
        throw new Error(`deleteSession: session ${sessionId} kept changing owner`);
    }
    async deleteUserSessions(userId) {
        (0, errors_1.requireString)(userId, 'userId');
        let deleted = 0;
        // Sessions created while this runs join the index; a few rounds catch them too.
        for (let round = 0; round < RACE_RETRIES; round++) {
            const ids = (await this.sessionIds(userId)).map((entry) => entry.id);
            if (ids.length === 0)
                break;
            let left = 0;
            for (let i = 0; i < ids.length; i += DELETE_BATCH) {
                const batch = ids.slice(i, i + DELETE_BATCH);
                const outcomes = await Promise.all(batch.map((id) => (0, run_1.runScript)(this.connection, scripts.removeOwned, [keys_1.CacheKeys.session(id)], [raw(userId)])));
                deleted += outcomes.filter((outcome) => outcome === 1).length;
                left = await this.unindex(userId, '', batch);
            }
            if (left === 0)
                break;
        }
        (0, logger_1.log)('info', 'User sessions deleted', { userId, count: deleted });
        return deleted;
    }
    async extendSession(sessionId) {
        (0, errors_1.requireString)(sessionId, 'sessionId');
        const [done, owner] = await (0, run_1.runScript)(this.connection, scripts.extend, [keys_1.CacheKeys.session(sessionId)], [String(SESSION_TTL_MS)]);
        if (done === 1)
            this.keepIndex(owner === null ? undefined : parseOwner(owner));
        return done === 1;
    }
    /**
     * Every live session of the user, newest first. Ids of sessions that expired on their
     * own are pruned from the index here. Listing does not count as activity. Redis
     * trouble is logged and answered with [], as the seed.
     */
    async getActiveSessions(userId) {
        (0, errors_1.requireString)(userId, 'userId');
        try {
            const entries = await this.sessionIds(userId);
            if (entries.length === 0)
                return [];
            const texts = await (0, run_1.runCommand)(this.connection, ['MGET', ...entries.map((e) => keys_1.CacheKeys.session(e.id))]);
            const sessions = [];
            const dead = [];
            const unindexed = [];
            entries.forEach((entry, i) => {
                const text = texts[i];
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
            (0, logger_1.log)('error', 'Session list error', { userId, ...(0, logger_1.describeError)(error) });
            return [];
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
                (0, logger_1.log)('info', 'Session rotated', { userId });
                return newSessionId;
            }
            await this.undoCopy(userId, newSessionId);
            if (outcome === 'gone')
                return null;
        }
        throw new Error(`rotateSession: session ${oldSessionId} could not be moved`);
    }
    /**
     * The copy is indexed before the old session goes, which happens only while it still
     * holds the copied text: an update landing meanwhile is copied again, a logout
     * meanwhile ('gone') wins. The pointer follows last.
     */
    async moveOnce(userId, oldId, newId, seen) {
        await this.index(userId, newId, '', oldId);
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
        await (0, run_1.runCommand)(this.connection, ['DEL', keys_1.CacheKeys.session(newId)]);
        await this.unindex(userId, '', [newId]);
    }
    /** SESSION_TAKE: compare-and-delete `expected`, or only look when it is ''. */
    async take(key, expected) {
        const reply = await (0, run_1.runScript)(this.connection, scripts.take, [key], [expected]);
        if (reply[0] === 2)
            return { state: 2, text: reply[1] ?? '', pttl: Number(reply[2]) };
        return reply[0] === 1 ? { state: 1 } : { state: 0 };
    }
    /** Writes a copy with the TTL the original had; false when NX / XX refused it. */
    async copy(key, from, mode) {
        const expiry = from.pttl > 0 ? ['PX', String(from.pttl)] : [];
        return (await (0, run_1.runCommand)(this.connection, ['SET', key, from.text, ...expiry, mode])) !== null;
    }
    async index(userId, sessionId, pointerJson, scoreFrom) {
        await (0, run_1.runScript)(this.connection, scripts.indexAdd, [userSessionsKey(userId), keys_1.CacheKeys.userSession(userId)], [sessionId, pointerJson, String(REFRESH_TTL_MS), scoreFrom]);
    }
    /** Forgets ids; a pointer naming one moves to `replacement` ('' = the latest left). Resolves to the ids left. */
    unindex(userId, replacement, ids) {
        return (0, run_1.runScript)(this.connection, scripts.unindex, [userSessionsKey(userId), keys_1.CacheKeys.userSession(userId)], [
            replacement,
            ...ids,
        ]);
    }
    async prune(userId, dead, unindexed) {
        const pairs = dead.flatMap((entry) => [entry.id, entry.score ?? '']);
        try {
            await (0, run_1.runScript)(this.connection, scripts.prune, [userSessionsKey(userId)], [
                String(REFRESH_TTL_MS),
                String(dead.length),
                ...pairs,
                ...unindexed,
            ]);
        }
        catch (error) {
            // Housekeeping only: the sessions read are still the answer.
            (0, logger_1.log)('warn', 'Session index not pruned', { userId, ...(0, logger_1.describeError)(error) });
        }
    }
    /** The merged text, or null when there is no (usable) session. */
    /** The merged session, parsed (null when there is none), after keeping its user's index alive. */
    merge(sessionId, updates) {
        const pairs = [];
        for (const [field, value] of Object.entries(updates))
            pairs.push(raw(field), raw(value));
        const newOwner = Object.prototype.hasOwnProperty.call(updates, 'userId') ? raw(updates.userId) : '';
        return this.mergePairs(sessionId, newOwner, pairs);
    }
    /** `merge` with the updates already as raw JSON pairs (getSession's hot path). */
    async mergePairs(sessionId, newOwner, pairs) {
        const keys = [keys_1.CacheKeys.session(sessionId)];
        const args = [String(SESSION_TTL_MS), newOwner, ...pairs];
        let reply = await (0, run_1.runScript)(this.connection, scripts.merge, keys, args);
        if (reply[0] === NEEDS_FULL_MERGE)
            reply = await (0, run_1.runScript)(this.connection, scripts.mergeFull, keys, args);
        switch (reply[0]) {
            case 1: {
                const session = parseSession(reply[1] ?? '', sessionId);
                this.keepIndex(ownerOfRecord(session));
                return session;
            }
            case -1:
                (0, logger_1.log)('warn', 'Session is not a JSON object, treated as missing', { sessionId });
                return null;
            case -2:
                throw new RangeError('updates.userId must name the session owner; create a new session to change users');
            default:
                return null;
        }
    }
    /** Keeps the user's index alive as long as a session of theirs slides (at most hourly per user). */
    keepIndex(userId) {
        if (userId === undefined)
            return;
        const now = Date.now();
        if (now - (this.indexBumped.get(userId) ?? 0) < INDEX_BUMP_EVERY_MS)
            return;
        if (this.indexBumped.size >= INDEX_BUMP_MEMORY)
            this.indexBumped.clear();
        this.indexBumped.set(userId, now);
        (0, run_1.runCommand)(this.connection, ['PEXPIRE', userSessionsKey(userId), String(REFRESH_TTL_MS), 'GT']).catch((error) => {
            this.indexBumped.delete(userId);
            (0, logger_1.log)('warn', 'Session index expiry not extended', { userId, ...(0, logger_1.describeError)(error) });
        });
    }
    /** The user's indexed ids (newest first), plus the seed's latest-session pointer (sessions the seed created). */
    async sessionIds(userId) {
        const [pointer, ...ranked] = await (0, run_1.runScript)(this.connection, scripts.ids, [
            userSessionsKey(userId),
            keys_1.CacheKeys.userSession(userId),
        ], []);
        const entries = [];
        for (let i = 0; i + 1 < ranked.length; i += 2)
            entries.push({ id: String(ranked[i]), score: String(ranked[i + 1]) });
        const latest = pointer === null || pointer === undefined ? undefined : parseOwner(pointer);
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
    return userId;
}
/** A JSON scalar (string or number) as the id string it names. */
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
    catch (error) {
        (0, logger_1.log)('warn', 'Session is not JSON, treated as missing', { sessionId, ...(0, logger_1.describeError)(error) });
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
