import { RedisConnection } from './connection';
/** The seed's session shape; the default type argument of every method. */
export interface SessionData {
    userId: string;
    email: string;
    username: string;
    role: string;
    permissions: string[];
    lastActivity: Date;
    ipAddress: string;
    userAgent: string;
}
/** The one field the store itself relies on: sessions are indexed per user. */
export interface SessionOwner {
    userId: string;
}
/** Keeps `updates` from choosing T, so an explicit type argument or the default SessionData applies (works before TS 5.4's NoInfer). */
type Declared<T> = [T][T extends unknown ? 0 : never];
/**
 * Every session id of a user (sorted set, scored by creation time), beside the seed's
 * `user:{id}:session`, which still names the latest one for backends that read it.
 * Named `{user:<id>:session}:index` so both share a hash slot on Redis Cluster.
 */
export declare function userSessionsKey(userId: string): string;
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
 */
export interface SessionServiceOptions {
    /**
     * Acknowledge a session write only once this many replicas have it (Redis WAIT), so a
     * failover can neither lose it nor revive a deleted session. WAIT holds the command
     * socket up to `replicaTimeoutMs` while replicas lag. @default 0 (as the seed)
     */
    waitForReplicas?: number;
    /** How long to wait for the replicas. @default 200 */
    replicaTimeoutMs?: number;
}
export declare class SessionService {
    private readonly connection;
    private readonly indexBumped;
    private readonly waitForReplicas;
    private readonly replicaTimeoutMs;
    constructor(connection?: RedisConnection, options?: SessionServiceOptions);
    /**
     * With `waitForReplicas`, a write is acknowledged only once that many replicas have it
     * (WAIT on the node holding `key`), so a failover cannot lose it or bring back a
     * deleted session; otherwise it rejects with ERR_NOT_REPLICATED.
     */
    private replicated;
    /** A new session id: 256 bits from the OS CSPRNG, base64url (43 characters). */
    generateSessionId(): string;
    /** Stores the session and makes it the user's latest. Rejects when Redis cannot store it. */
    createSession<T extends SessionOwner = SessionData>(sessionId: string, sessionData: T): Promise<void>;
    /**
     * The session with `lastActivity` refreshed (as a Date) and its 24 h expiry slid,
     * or null. Redis trouble is logged and answered with null, as the seed.
     */
    getSession<T extends SessionOwner = SessionData>(sessionId: string): Promise<T | null>;
    /**
     * Merges `updates` into the stored session (server-side, so concurrent updates keep
     * each other's fields), refreshes `lastActivity` and slides the expiry. Resolves false
     * when the session does not exist (it is never created here). (`R` is for code typed against the seed's `Promise<void>`; leave it out.)
     */
    updateSession<T extends SessionOwner = SessionData, R extends boolean | void = boolean>(sessionId: string, updates: Partial<Declared<T>>): Promise<R>;
    /** Deletes the session and forgets it in the user's index. Resolves false when there was none. (`R` is for code typed against the seed's `Promise<void>`; leave it out.) */
    deleteSession<R extends boolean | void = boolean>(sessionId: string): Promise<R>;
    /** Deletes every session of the user (all devices); resolves to how many were deleted. (`R` is for code typed against the seed's `Promise<void>`; leave it out.) */
    deleteUserSessions<R extends number | void = number>(userId: string): Promise<R>;
    /** Restarts the 24 h expiry of a live session (as the seed, only one that has a TTL); resolves to whether it did. (`R` is for code typed against the seed's `Promise<void>`; leave it out.) */
    extendSession<R extends boolean | void = boolean>(sessionId: string): Promise<R>;
    /**
     * Every live session of the user, newest first. Ids of sessions that expired on their
     * own are pruned from the index here. Listing does not count as activity. Redis
     * trouble is logged and answered with [], as the seed.
     */
    getActiveSessions<T extends SessionOwner = SessionData>(userId: string): Promise<T[]>;
    /**
     * Moves the session to a fresh id (data, TTL, user index and pointer follow) and
     * returns the new id; the old id stops working once this resolves, and no update
     * acknowledged on it is lost. Null when the session does not exist or was logged out
     * meanwhile. Call it after login and privilege changes (anti-fixation).
     */
    rotateSession(oldSessionId: string): Promise<string | null>;
    /**
     * The copy is indexed before the old session goes, which happens only while it still
     * holds the copied text: an update landing meanwhile is copied again, a logout
     * meanwhile ('gone') wins. The pointer follows last.
     */
    private moveOnce;
    private undoCopy;
    /** SESSION_TAKE: compare-and-delete `expected`, or only look when it is ''. */
    private take;
    /** Writes a copy with the TTL the original had; false when NX / XX refused it. */
    private copy;
    private index;
    /** Forgets ids; a pointer naming one moves to `replacement` ('' = the latest left). Resolves to the ids left. */
    private unindex;
    private prune;
    /** The merged text, or null when there is no (usable) session. */
    /** The merged session, parsed (null when there is none), after keeping its user's index alive. */
    private merge;
    /** `merge` with the updates already as raw JSON pairs (getSession's hot path). */
    private mergePairs;
    /** Keeps the user's index alive as long as a session of theirs slides (at most hourly per user). */
    private keepIndex;
    /** The user's indexed ids (newest first), plus the seed's latest-session pointer (sessions the seed created). */
    private sessionIds;
}
export declare const sessionService: SessionService;
export {};
