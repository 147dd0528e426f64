import { type RedisConnection } from './connection';
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
 * Every session id of a user (sorted set, scored by an upper bound of the session's
 * expiry time in ms, so the most recently active sort last), beside the seed's
 * `user:{id}:session`, which still names the latest one for backends that read it.
 * Named `{user:<id>:session}:index` so both share a hash slot on Redis Cluster.
 */
export declare function userSessionsKey(userId: string): string;
/** Options of a SessionService. */
export interface SessionServiceOptions {
    /**
     * Acknowledge a session write only once this many replicas have it (Redis WAIT), so a
     * failover can neither lose it nor revive a deleted session. WAIT holds the command
     * socket up to `replicaTimeoutMs` while replicas lag. @default 0 (as the seed)
     */
    waitForReplicas?: number;
    /** How long to wait for the replicas. @default 200 */
    replicaTimeoutMs?: number;
    /**
     * Sessions (devices) one user may hold. A login beyond it logs out the user's least
     * recently active sessions: deleted, not only unlisted. @default 100
     */
    maxSessionsPerUser?: number;
}
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
export declare class SessionService {
    private readonly connection;
    private readonly indexBumped;
    private readonly waitForReplicas;
    private readonly replicaTimeoutMs;
    private readonly maxSessionsPerUser;
    constructor(connection?: RedisConnection, options?: SessionServiceOptions);
    /**
     * With `waitForReplicas`, a write is acknowledged only once that many replicas have it
     * (WAIT on the node holding `key`), so a failover cannot lose it or bring back a
     * deleted session; otherwise it rejects with ERR_NOT_REPLICATED.
     */
    private replicated;
    /** A new session id: 256 bits from the OS CSPRNG, base64url (43 characters). */
    generateSessionId(): string;
    /**
     * Stores the session and makes it the user's latest; beyond `maxSessionsPerUser`, the
     * user's least recently active sessions are logged out. Rejects when Redis cannot store it.
     */
    createSession<T extends SessionOwner = SessionData>(sessionId: string, sessionData: T): Promise<void>;
    /**
     * The session with `lastActivity` refreshed (as a Date) and its 24 h expiry slid,
     * or null. Redis trouble is logged and answered with null, as the seed.
     */
    getSession<T extends SessionOwner = SessionData>(sessionId: string): Promise<T | null>;
    /**
     * Merges `updates` into the stored session (server-side, so concurrent updates keep
     * each other's fields), refreshes `lastActivity` and slides the expiry. Resolves false
     * when the session does not exist (it is never created here). The owner never changes:
     * `userId` may name the owner (then it is checked and left as stored) or be undefined
     * (ignored, as from a spread DTO); another owner, '' or null rejects. (`R` is for code typed against the seed's `Promise<void>`; leave it out.)
     */
    updateSession<T extends SessionOwner = SessionData, R extends boolean | void = boolean>(sessionId: string, updates: Partial<Declared<T>>): Promise<R>;
    /** Deletes the session and forgets it in the user's index. Resolves false when there was none. (`R` is for code typed against the seed's `Promise<void>`; leave it out.) */
    deleteSession<R extends boolean | void = boolean>(sessionId: string): Promise<R>;
    /** Deletes every session of the user (all devices); resolves to how many were deleted. (`R` is for code typed against the seed's `Promise<void>`; leave it out.) */
    deleteUserSessions<R extends number | void = number>(userId: string): Promise<R>;
    /** Restarts the 24 h expiry of a live session (as the seed, only one that has a TTL); resolves to whether it did. (`R` is for code typed against the seed's `Promise<void>`; leave it out.) */
    extendSession<R extends boolean | void = boolean>(sessionId: string): Promise<R>;
    /**
     * Every live session of the user, the most recently active first (by the index's expiry
     * bounds, so to within an hour). Ids of sessions that are gone are pruned from the index
     * here. Listing does not count as activity. Redis trouble is logged and answered with
     * [], as the seed.
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
     * meanwhile ('gone') wins. The pointer follows last. The copy is indexed like a login
     * (a fresh expiry bound, so it lists as the most recent) but never evicts: it replaces
     * the old entry, so the user's count does not grow.
     */
    private moveOnce;
    private undoCopy;
    /** SESSION_TAKE: compare-and-delete `expected`, or only look when it is ''. */
    private take;
    /** Writes a copy with the TTL the original had; false when NX / XX refused it. */
    private copy;
    /**
     * Indexes the id with a fresh expiry bound (pruning entries whose bound has passed) and
     * resolves to the ids beyond `cap` (0 = no cap), which the caller must log out.
     */
    private index;
    /** Forgets ids; a pointer naming one moves to `replacement` ('' = the latest left). Resolves to the ids left. */
    private unindex;
    /** SESSION_DELETE_OWNED: 1 deleted, 0 missing, -1 the session belongs to someone else now. */
    private removeOwned;
    /**
     * Deletes the user's sessions among `ids` (each only while it is still theirs), then
     * forgets the ids, batch by batch, so a session is gone before it leaves the index.
     */
    private removeAll;
    /**
     * Logs out the sessions a login pushed beyond the per-user cap. Trouble is only logged:
     * the session being created is stored, and the ids stay in the index, so the next
     * login evicts them.
     */
    private evict;
    private prune;
    /**
     * The merged session, parsed (null when there is none). `owner` is the raw owner the
     * update names ('' for none), checked against the stored one; `userId` itself is never
     * written, so the owner stays exactly as stored.
     */
    private merge;
    /** `merge` with the updates already as raw JSON pairs (getSession's hot path); keeps the session's index entry current. */
    private mergePairs;
    /**
     * Keeps a session that slid from being pruned: raises its index bound (and the index's
     * expiry) to a fresh one, at most once an hour per session and process. A failed raise
     * is retried on the session's next slide.
     */
    private keepIndexed;
    /** Notes when this process last set the session's index bound; the least recently noted make room. */
    private remember;
    /** The user's indexed ids (most recently active first), plus the seed's latest-session pointer (sessions the seed created). */
    private sessionIds;
}
export declare const sessionService: SessionService;
export {};
