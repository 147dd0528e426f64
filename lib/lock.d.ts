import { type RedisConnection } from './connection';
export interface AcquireOptions {
    /** Keep retrying this long while the lock is held by someone else. @default 0 */
    waitMs?: number;
}
export interface LockServiceOptions {
    /**
     * `acquire` hands a lock out only once every replica online on the lock's master, and
     * at least this many, acknowledged the grant (Redis WAIT). Set it to the number of
     * replicas to cover a failover to one that was offline at the grant. @default 0
     */
    waitForReplicas?: number;
    /**
     * How long `acquire` waits for those acknowledgements (WAIT holds the command socket
     * meanwhile). When they do not all come, the lock is released and `acquire` rejects
     * with ERR_NOT_REPLICATED. @default 200
     */
    replicaTimeoutMs?: number;
}
/**
 * Key of the fencing counter, `{lock:<resource>}:fence`: in the lock key's hash slot (so
 * acquire is one script on Redis Cluster too) and outside `lock:`, so no resource name
 * can collide with it.
 */
export declare function lockFenceKey(resource: string): string;
/** A granted lock. Only this handle's token can release or extend it. */
export declare class Lock {
    private readonly connection;
    readonly resource: string;
    readonly token: string;
    /** Grows with every grant of this resource: pass it to the storage you protect and reject older ones. */
    readonly fencingToken: number;
    /** @internal */
    constructor(connection: RedisConnection, resource: string, token: string, 
    /** Grows with every grant of this resource: pass it to the storage you protect and reject older ones. */
    fencingToken: number);
    /** Releases the lock; false when it is no longer ours (expired, or taken over since). */
    release(): Promise<boolean>;
    /** Sets the remaining time to `ttlMs`; false when the lock is no longer ours. */
    extend(ttlMs: number): Promise<boolean>;
}
/**
 * Distributed mutual exclusion on `lock:<resource>` (SET NX PX with a random token).
 * Redis trouble rejects: a lock never "fails open". A lock is handed out only once its
 * fencing token is on every replica online on the master, so a failover to one of them
 * continues the token sequence.
 */
export declare class LockService {
    private readonly connection;
    private readonly waitForReplicas;
    private readonly replicaTimeoutMs;
    constructor(connection?: RedisConnection, options?: LockServiceOptions);
    /** The lock, or null when someone else still holds it after `waitMs`. */
    acquire(resource: string, ttlMs: number, options?: AcquireOptions): Promise<Lock | null>;
    /**
     * The granted lock, once its fencing token is on every online replica (and at least
     * waitForReplicas). A grant that cannot be handed out (an unexpected reply, replicas
     * behind) is released, not left to its TTL.
     */
    private handOut;
    /**
     * Runs `fn` holding the lock and releases it however `fn` ends (its error is rethrown).
     * Rejects with code ERR_LOCK_BUSY when the lock cannot be had within `waitMs`.
     */
    withLock<R>(resource: string, ttlMs: number, fn: (lock: Lock) => Promise<R> | R, options?: AcquireOptions): Promise<R>;
}
export declare const lockService: LockService;
