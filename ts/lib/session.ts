import { randomBytes } from 'node:crypto';
import { redisConnection, type RedisConnection } from './connection';
import { describeType, requireString, unexpectedReply } from './errors';
import { CacheKeys } from './keys';
import { describeError, log, redactedTag } from './logger';
import { failSoft, replicaSettings, requireReplicated } from './access';
import { registerScript } from './native';
import * as lua from './scripts/session';
import { sameSlotKey } from './slot';
import { traceOperation, tracingOperations } from './telemetry';

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
  merge: registerScript(lua.SESSION_MERGE),
  mergeFull: registerScript(lua.SESSION_MERGE_FULL),
  extend: registerScript(lua.SESSION_EXTEND),
  removeOwned: registerScript(lua.SESSION_DELETE_OWNED),
  take: registerScript(lua.SESSION_TAKE),
  indexAdd: registerScript(lua.SESSION_INDEX_ADD),
  indexTouch: registerScript(lua.SESSION_INDEX_TOUCH),
  unindex: registerScript(lua.SESSION_UNINDEX),
  ids: registerScript(lua.SESSION_IDS),
  prune: registerScript(lua.SESSION_PRUNE),
};

/**
 * Every session id of a user (sorted set, scored by an upper bound of the session's
 * expiry time in ms, so the most recently active sort last), beside the seed's
 * `user:{id}:session`, which still names the latest one for backends that read it.
 * Named `{user:<id>:session}:index` so both share a hash slot on Redis Cluster.
 */
export function userSessionsKey(userId: string): string {
  return sameSlotKey(CacheKeys.userSession(userId), ':index');
}

interface IndexEntry {
  id: string;
  /** The score as Redis wrote it; undefined for an id known only from the seed's pointer. */
  score?: string;
}

/** What SESSION_TAKE found: 0 nothing, 1 deleted it, 2 a session (not the one expected). */
interface Snapshot {
  state: 2;
  text: string;
  pttl: number;
}
type Taken = { state: 0 } | { state: 1 } | Snapshot;

const raw = (value: unknown): string => JSON.stringify(value) ?? '';
const LAST_ACTIVITY_KEY = raw('lastActivity');
const DEFAULT_ACTIVITY_RESOLUTION_MS = 60_000;

/** Options of a SessionService. */
export interface SessionServiceOptions {
  /**
   * Acknowledge a session write only once this many replicas have it (Redis WAIT), so a
   * failover can neither lose it nor revive a deleted session. WAIT holds the command
   * socket up to `replicaTimeoutMs` while replicas lag. @default 0 (as the seed)
   */
  waitForReplicas?: number | undefined;
  /** How long to wait for the replicas. @default 200 */
  replicaTimeoutMs?: number | undefined;
  /**
   * Sessions (devices) one user may hold. A login beyond it logs out the user's least
   * recently active sessions: deleted, not only unlisted. @default 100
   */
  maxSessionsPerUser?: number | undefined;
  /**
   * How stale the stored `lastActivity` may be before `getSession` rewrites it. Reads in
   * between are one GETEX (the expiry still slides on every read); 0 rewrites on every read,
   * as the seed. @default 60000
   */
  activityResolutionMs?: number | undefined;
}

/**
 * SessionService's methods with their plain result types. Implement this for a test double or a
 * wrapper: the class's `R` parameters, there for code typed against the seed's `Promise<void>`,
 * make `implements Pick<SessionService, …>` demand generic methods.
 */
export interface SessionServiceApi {
  generateSessionId(): string;
  createSession(sessionId: string, sessionData: SessionData): Promise<void>;
  getSession(sessionId: string): Promise<SessionData | null>;
  updateSession(sessionId: string, updates: Partial<SessionData>): Promise<boolean>;
  deleteSession(sessionId: string): Promise<boolean>;
  deleteUserSessions(userId: string): Promise<number>;
  extendSession(sessionId: string): Promise<boolean>;
  getActiveSessions(userId: string): Promise<SessionData[]>;
  rotateSession(oldSessionId: string): Promise<string | null>;
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
export class SessionService implements SessionServiceApi {
  private readonly connection: RedisConnection;
  private readonly indexBumped = new Map<string, number>();
  private readonly waitForReplicas: number;
  private readonly replicaTimeoutMs: number;
  private readonly maxSessionsPerUser: number;
  private readonly activityResolutionMs: number;

  constructor(connection?: RedisConnection, options?: SessionServiceOptions) {
    this.connection = connection ?? redisConnection;
    ({ waitForReplicas: this.waitForReplicas, replicaTimeoutMs: this.replicaTimeoutMs } = replicaSettings(options));
    const cap = options?.maxSessionsPerUser ?? DEFAULT_MAX_SESSIONS;
    if (!Number.isInteger(cap) || cap < 1)
      throw new RangeError(`options.maxSessionsPerUser must be a positive integer, got ${cap}`);
    this.maxSessionsPerUser = cap;
    const resolution = options?.activityResolutionMs ?? DEFAULT_ACTIVITY_RESOLUTION_MS;
    if (typeof resolution !== 'number' || !Number.isFinite(resolution) || resolution < 0)
      throw new RangeError(
        `options.activityResolutionMs must be a non-negative number of ms, got ${String(resolution)}`,
      );
    this.activityResolutionMs = resolution;
  }

  /**
   * With `waitForReplicas`, a write is acknowledged only once that many replicas have it
   * (WAIT on the node holding `key`), so a failover cannot lose it or bring back a
   * deleted session; otherwise it rejects with ERR_NOT_REPLICATED.
   */
  private async replicated(key: string): Promise<void> {
    if (this.waitForReplicas === 0) return;
    await requireReplicated(this.connection, key, this.waitForReplicas, this.replicaTimeoutMs, 'session write');
  }

  /** A new session id: 256 bits from the OS CSPRNG, base64url (43 characters). */
  generateSessionId(): string {
    return randomBytes(32).toString('base64url');
  }

  /**
   * Stores the session and makes it the user's latest; beyond `maxSessionsPerUser`, the
   * user's least recently active sessions are logged out. Rejects when Redis cannot store it.
   */
  createSession<T extends SessionOwner = SessionData>(sessionId: string, sessionData: T): Promise<void> {
    if (!tracingOperations()) return this.create(sessionId, sessionData);
    return traceOperation({ service: 'session', operation: 'createSession', keyGroup: 'session' }, () =>
      this.create(sessionId, sessionData),
    );
  }

  private async create<T extends SessionOwner>(sessionId: string, sessionData: T): Promise<void> {
    requireString(sessionId, 'sessionId');
    const userId = ownerOf(sessionData, 'sessionData');
    const text = JSON.stringify(sessionData);
    const stored = await this.connection
      .dispatcher()
      .command(['SET', CacheKeys.session(sessionId), text, 'PX', String(SESSION_TTL_MS)]);
    expectReply('createSession', stored, isOk);
    await this.replicated(CacheKeys.session(sessionId));
    const over = await this.index(userId, sessionId, raw(sessionId), this.maxSessionsPerUser);
    log('info', 'Session created', { session: redactedTag(sessionId), userId });
    if (over.length > 0) await this.evict(userId, over);
  }

  /**
   * The session with `lastActivity` refreshed (as a Date) and its 24 h expiry slid,
   * or null. Redis trouble is logged and answered with null, as the seed.
   */
  getSession<T extends SessionOwner = SessionData>(sessionId: string): Promise<T | null> {
    if (!tracingOperations()) return this.read<T>(sessionId);
    return traceOperation({ service: 'session', operation: 'getSession', keyGroup: 'session' }, (event) =>
      this.read<T>(sessionId).then((session) => {
        event.outcome ??= session === null ? 'miss' : 'hit';
        return session;
      }),
    );
  }

  private async read<T extends SessionOwner>(sessionId: string): Promise<T | null> {
    requireString(sessionId, 'sessionId');
    try {
      if (this.activityResolutionMs > 0) {
        // GETEX reads and slides the expiry in one command and never creates a key.
        const text = await this.connection
          .dispatcher()
          .command(['GETEX', CacheKeys.session(sessionId), 'PX', String(SESSION_TTL_MS)]);
        if (text === null) return null;
        // Sessions are stored as JSON objects; anything else (a QUEUED from a stray MULTI) is not one.
        if (typeof text !== 'string' || !text.startsWith('{')) throw unexpectedReply('GETEX', text);
        const session = parseSession<T & { lastActivity?: unknown }>(text, sessionId);
        if (session === null) return null;
        const last = session.lastActivity instanceof Date ? session.lastActivity.getTime() : Number.NaN;
        if (Date.now() - last < this.activityResolutionMs) {
          this.keepIndexed(ownerOfRecord(session), sessionId);
          return session;
        }
      }
      // What raw() makes of { lastActivity: new Date() }, without JSON.stringify's toJSON walk.
      return await this.mergePairs<T>(sessionId, '', [LAST_ACTIVITY_KEY, `"${new Date().toISOString()}"`]);
    } catch (error) {
      return failSoft('Session get error', { session: redactedTag(sessionId) }, null)(error);
    }
  }

  /**
   * Merges `updates` into the stored session (server-side, so concurrent updates keep
   * each other's fields), refreshes `lastActivity` and slides the expiry. Resolves false
   * when the session does not exist (it is never created here). The owner never changes:
   * `userId` may name the owner (then it is checked and left as stored) or be undefined
   * (ignored, as from a spread DTO); another owner, '' or null rejects. (`R` is for code typed against the seed's `Promise<void>`; leave it out.)
   */
  updateSession<T extends SessionOwner = SessionData, R extends boolean | void = boolean>(
    sessionId: string,
    updates: Partial<Declared<T>>,
  ): Promise<R>;
  async updateSession<T extends SessionOwner = SessionData>(
    sessionId: string,
    updates: Partial<Declared<T>>,
  ): Promise<boolean> {
    requireString(sessionId, 'sessionId');
    if (updates === null || typeof updates !== 'object' || Array.isArray(updates)) {
      throw new TypeError(`updates must be an object, got ${describeType(updates)}`);
    }
    const owner = ownerNamed(updates);
    const updated = (await this.merge(sessionId, owner, { lastActivity: new Date(), ...updates })) !== null;
    if (updated) await this.replicated(CacheKeys.session(sessionId));
    return updated;
  }

  /** Deletes the session and forgets it in the user's index. Resolves false when there was none. (`R` is for code typed against the seed's `Promise<void>`; leave it out.) */
  deleteSession<R extends boolean | void = boolean>(sessionId: string): Promise<R>;
  deleteSession(sessionId: string): Promise<boolean> {
    if (!tracingOperations()) return this.remove(sessionId);
    return traceOperation({ service: 'session', operation: 'deleteSession', keyGroup: 'session' }, (event) =>
      this.remove(sessionId).then((deleted) => {
        event.outcome = deleted ? 'deleted' : 'missing';
        return deleted;
      }),
    );
  }

  private async remove(sessionId: string): Promise<boolean> {
    requireString(sessionId, 'sessionId');
    const key = CacheKeys.session(sessionId);
    for (let attempt = 0; attempt < RACE_RETRIES; attempt++) {
      const text = expectReply<string | null>(
        'deleteSession',
        await this.connection.dispatcher().command(['GET', key]),
        isTextOrNull,
      );
      if (text === null) return false;
      const userId = storedOwner(text);
      if (userId === undefined)
        return (
          expectReply<number>('deleteSession', await this.connection.dispatcher().command(['DEL', key]), isCount) === 1
        );
      const outcome = await this.removeOwned(sessionId, userId);
      if (outcome !== -1) {
        if (outcome === 1) await this.replicated(key);
        await this.unindex(userId, '', [sessionId]);
        if (outcome === 1) log('info', 'Session deleted', { session: redactedTag(sessionId), userId });
        return outcome === 1;
      }
    }
    throw new Error(`deleteSession: the session tagged ${redactedTag(sessionId)} kept changing owner`);
  }

  /** Deletes every session of the user (all devices); resolves to how many were deleted. (`R` is for code typed against the seed's `Promise<void>`; leave it out.) */
  deleteUserSessions<R extends number | void = number>(userId: string): Promise<R>;
  async deleteUserSessions(userId: string): Promise<number> {
    requireString(userId, 'userId');
    let deleted = 0;
    // Sessions created while this runs join the index; a few rounds catch them too.
    for (let round = 0; round < RACE_RETRIES; round++) {
      const ids = (await this.sessionIds(userId)).map((entry) => entry.id);
      if (ids.length === 0) break;
      const removed = await this.removeAll(userId, ids);
      deleted += removed.deleted;
      if (removed.left === 0) break;
    }
    log('info', 'User sessions deleted', { userId, count: deleted });
    return deleted;
  }

  /** Restarts the 24 h expiry of a live session (as the seed, only one that has a TTL); resolves to whether it did. (`R` is for code typed against the seed's `Promise<void>`; leave it out.) */
  extendSession<R extends boolean | void = boolean>(sessionId: string): Promise<R>;
  async extendSession(sessionId: string): Promise<boolean> {
    requireString(sessionId, 'sessionId');
    const reply = await this.connection
      .dispatcher()
      .script(scripts.extend, [CacheKeys.session(sessionId)], [String(SESSION_TTL_MS)]);
    const [done, owner] = expectReply<[number, string | null]>('extendSession', reply, isExtendReply);
    if (done === 1) this.keepIndexed(owner === null ? undefined : parseOwner(owner), sessionId);
    return done === 1;
  }

  /**
   * Every live session of the user, the most recently active first (by the index's expiry
   * bounds, so to within an hour). Ids of sessions that are gone are pruned from the index
   * here. Listing does not count as activity. Redis trouble is logged and answered with
   * [], as the seed.
   */
  async getActiveSessions<T extends SessionOwner = SessionData>(userId: string): Promise<T[]> {
    requireString(userId, 'userId');
    try {
      const entries = await this.sessionIds(userId);
      if (entries.length === 0) return [];
      const texts = await this.connection
        .dispatcher()
        .command(['MGET', ...entries.map((e) => CacheKeys.session(e.id))]);
      if (!Array.isArray(texts) || texts.length !== entries.length) throw unexpectedReply('getActiveSessions', texts);
      const sessions: T[] = [];
      const dead: IndexEntry[] = [];
      const unindexed: string[] = [];
      entries.forEach((entry, i) => {
        const text = expectReply<string | null>('getActiveSessions', texts[i], isTextOrNull);
        if (text === null || storedOwner(text) !== userId) {
          if (entry.score !== undefined) dead.push(entry);
          return;
        }
        if (entry.score === undefined) unindexed.push(entry.id);
        const session = parseSession<T>(text, entry.id);
        if (session !== null) sessions.push(session);
      });
      if (dead.length > 0 || unindexed.length > 0) await this.prune(userId, dead, unindexed);
      return sessions;
    } catch (error) {
      return failSoft('Session list error', { userId }, [])(error);
    }
  }

  /**
   * Moves the session to a fresh id (data, TTL, user index and pointer follow) and
   * returns the new id; the old id stops working once this resolves, and no update
   * acknowledged on it is lost. Null when the session does not exist or was logged out
   * meanwhile. Call it after login and privilege changes (anti-fixation).
   */
  async rotateSession(oldSessionId: string): Promise<string | null> {
    requireString(oldSessionId, 'oldSessionId');
    const oldKey = CacheKeys.session(oldSessionId);
    for (let attempt = 0; attempt < RACE_RETRIES; attempt++) {
      const seen = await this.take(oldKey, '');
      const userId = seen.state === 2 ? storedOwner(seen.text) : undefined;
      if (seen.state !== 2 || userId === undefined) return null;
      const newSessionId = this.generateSessionId();
      const newKey = CacheKeys.session(newSessionId);
      if (!(await this.copy(newKey, seen, 'NX'))) continue;
      let outcome: 'moved' | 'gone' | 'retry';
      try {
        outcome = await this.moveOnce(userId, oldSessionId, newSessionId, seen);
      } catch (error) {
        await this.undoCopy(userId, newSessionId).catch(() => undefined);
        throw error;
      }
      if (outcome === 'moved') {
        log('info', 'Session rotated', { userId, from: redactedTag(oldSessionId), to: redactedTag(newSessionId) });
        return newSessionId;
      }
      await this.undoCopy(userId, newSessionId);
      if (outcome === 'gone') return null;
    }
    throw new Error(`rotateSession: the session tagged ${redactedTag(oldSessionId)} could not be moved`);
  }

  /**
   * The copy is indexed before the old session goes, which happens only while it still
   * holds the copied text: an update landing meanwhile is copied again, a logout
   * meanwhile ('gone') wins. The pointer follows last. The copy is indexed like a login
   * (a fresh expiry bound, so it lists as the most recent) but never evicts: it replaces
   * the old entry, so the user's count does not grow.
   */
  private async moveOnce(
    userId: string,
    oldId: string,
    newId: string,
    seen: Snapshot,
  ): Promise<'moved' | 'gone' | 'retry'> {
    await this.index(userId, newId, '', 0);
    const oldKey = CacheKeys.session(oldId);
    let copied = seen;
    for (let copies = 0; copies < MOVE_RETRIES; copies++) {
      const now = await this.take(oldKey, copied.text);
      if (now.state === 1) {
        await this.unindex(userId, newId, [oldId]);
        return 'moved';
      }
      if (now.state === 0) return 'gone';
      if (storedOwner(now.text) !== userId) return 'retry';
      if (!(await this.copy(CacheKeys.session(newId), now, 'XX'))) return 'gone';
      copied = now;
    }
    return 'retry';
  }

  private async undoCopy(userId: string, newId: string): Promise<void> {
    await this.connection.dispatcher().command(['DEL', CacheKeys.session(newId)]);
    await this.unindex(userId, '', [newId]);
  }

  /** SESSION_TAKE: compare-and-delete `expected`, or only look when it is ''. */
  private async take(key: string, expected: string): Promise<Taken> {
    const reply = expectReply<[number, string?, number?]>(
      'session take',
      await this.connection.dispatcher().script(scripts.take, [key], [expected]),
      isTakeReply,
    );
    if (reply[0] === 2) return { state: 2, text: reply[1] as string, pttl: reply[2] as number };
    return reply[0] === 1 ? { state: 1 } : { state: 0 };
  }

  /** Writes a copy with the TTL the original had; false when NX / XX refused it. */
  private async copy(key: string, from: Snapshot, mode: 'NX' | 'XX'): Promise<boolean> {
    const expiry = from.pttl > 0 ? ['PX', String(from.pttl)] : [];
    const reply = await this.connection.dispatcher().command(['SET', key, from.text, ...expiry, mode]);
    return expectReply<string | null>('session copy', reply, isOkOrNull) !== null;
  }

  /**
   * Indexes the id with a fresh expiry bound (pruning entries whose bound has passed) and
   * resolves to the ids beyond `cap` (0 = no cap), which the caller must log out.
   */
  private async index(userId: string, sessionId: string, pointerJson: string, cap: number): Promise<string[]> {
    const sent = Date.now();
    const reply = await this.connection
      .dispatcher()
      .script(
        scripts.indexAdd,
        [userSessionsKey(userId), CacheKeys.userSession(userId)],
        [sessionId, pointerJson, String(REFRESH_TTL_MS), String(INDEX_HORIZON_MS), String(cap)],
      );
    const over = expectReply<string[]>('session index', reply, isTextArray);
    this.remember(sessionId, sent);
    return over;
  }

  /** Forgets ids; a pointer naming one moves to `replacement` ('' = the latest left). Resolves to the ids left. */
  private async unindex(userId: string, replacement: string, ids: string[]): Promise<number> {
    const reply = await this.connection
      .dispatcher()
      .script(scripts.unindex, [userSessionsKey(userId), CacheKeys.userSession(userId)], [replacement, ...ids]);
    return expectReply<number>('session unindex', reply, isCount);
  }

  /** SESSION_DELETE_OWNED: 1 deleted, 0 missing, -1 the session belongs to someone else now. */
  private async removeOwned(sessionId: string, userId: string): Promise<number> {
    const reply = await this.connection
      .dispatcher()
      .script(scripts.removeOwned, [CacheKeys.session(sessionId)], [raw(userId)]);
    const outcome = expectReply<number>('session delete', reply, isDeleteOutcome);
    if (outcome === 1) this.indexBumped.delete(sessionId);
    return outcome;
  }

  /**
   * Deletes the user's sessions among `ids` (each only while it is still theirs), then
   * forgets the ids, batch by batch, so a session is gone before it leaves the index.
   */
  private async removeAll(userId: string, ids: string[]): Promise<{ deleted: number; left: number }> {
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
  private async evict(userId: string, ids: string[]): Promise<void> {
    const sessions = ids.map(redactedTag);
    try {
      const { deleted } = await this.removeAll(userId, ids);
      log('info', 'Sessions beyond the per-user limit logged out', { userId, sessions, deleted });
    } catch (error) {
      log('warn', 'Sessions beyond the per-user limit not logged out', { userId, sessions, ...describeError(error) });
    }
  }

  private async prune(userId: string, dead: IndexEntry[], unindexed: string[]): Promise<void> {
    const pairs = dead.flatMap((entry) => [entry.id, entry.score ?? '']);
    try {
      await this.connection
        .dispatcher()
        .script(
          scripts.prune,
          [userSessionsKey(userId)],
          [String(INDEX_HORIZON_MS), String(dead.length), ...pairs, ...unindexed],
        );
    } catch (error) {
      // Housekeeping only: the sessions read are still the answer.
      log('warn', 'Session index not pruned', { userId, ...describeError(error) });
    }
  }

  /**
   * The merged session, parsed (null when there is none). `owner` is the raw owner the
   * update names ('' for none), checked against the stored one; `userId` itself is never
   * written, so the owner stays exactly as stored.
   */
  private merge<T>(sessionId: string, owner: string, updates: Record<string, unknown>): Promise<T | null> {
    const pairs: string[] = [];
    for (const [field, value] of Object.entries(updates)) {
      if (field !== 'userId') pairs.push(raw(field), raw(value));
    }
    return this.mergePairs<T>(sessionId, owner, pairs);
  }

  /** `merge` with the updates already as raw JSON pairs (getSession's hot path); keeps the session's index entry current. */
  private async mergePairs<T>(sessionId: string, owner: string, pairs: string[]): Promise<T | null> {
    const keys = [CacheKeys.session(sessionId)];
    const args = [String(SESSION_TTL_MS), owner, ...pairs];
    let reply = expectReply<[number, string?]>(
      'session merge',
      await this.connection.dispatcher().script(scripts.merge, keys, args),
      isMergeReply,
    );
    if (reply[0] === NEEDS_FULL_MERGE) {
      reply = expectReply(
        'session merge',
        await this.connection.dispatcher().script(scripts.mergeFull, keys, args),
        isMergeReply,
      );
    }
    switch (reply[0]) {
      case 1: {
        const session = parseSession<T>(reply[1] as string, sessionId);
        this.keepIndexed(ownerOfRecord(session), sessionId);
        return session;
      }
      case -1:
        log('warn', 'Session is not a JSON object, treated as missing', { session: redactedTag(sessionId) });
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
  private keepIndexed(userId: string | undefined, sessionId: string): void {
    if (userId === undefined) return;
    const now = Date.now();
    const last = this.indexBumped.get(sessionId);
    if (last !== undefined && now - last < INDEX_BUMP_EVERY_MS) return;
    this.remember(sessionId, now);
    const failed = (error: unknown) => {
      this.indexBumped.delete(sessionId);
      log('warn', 'Session index entry not extended', {
        userId,
        session: redactedTag(sessionId),
        ...describeError(error),
      });
    };
    try {
      this.connection
        .dispatcher()
        .script(scripts.indexTouch, [userSessionsKey(userId)], [sessionId, String(INDEX_HORIZON_MS)])
        .catch(failed);
    } catch (error) {
      failed(error);
    }
  }

  /** Notes when this process last set the session's index bound; the least recently noted make room. */
  private remember(sessionId: string, at: number): void {
    this.indexBumped.delete(sessionId);
    if (this.indexBumped.size >= INDEX_BUMP_MEMORY) {
      const oldest = this.indexBumped.keys().next();
      if (!oldest.done) this.indexBumped.delete(oldest.value);
    }
    this.indexBumped.set(sessionId, at);
  }

  /** The user's indexed ids (most recently active first), plus the seed's latest-session pointer (sessions the seed created). */
  private async sessionIds(userId: string): Promise<IndexEntry[]> {
    const reply = await this.connection
      .dispatcher()
      .script(scripts.ids, [userSessionsKey(userId), CacheKeys.userSession(userId)], []);
    const [pointer, ...ranked] = expectReply<Array<string | null>>('session index read', reply, isIdsReply);
    const entries: IndexEntry[] = [];
    for (let i = 0; i + 1 < ranked.length; i += 2)
      entries.push({ id: ranked[i] as string, score: ranked[i + 1] as string });
    const latest = pointer === null ? undefined : parseOwner(pointer);
    if (latest !== undefined && !entries.some((entry) => entry.id === latest)) entries.push({ id: latest });
    return entries;
  }
}

function ownerOf(data: unknown, name: string): string {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new TypeError(`${name} must be an object, got ${describeType(data)}`);
  }
  const userId = (data as { userId?: unknown }).userId;
  if (typeof userId !== 'string') throw new TypeError(`${name}.userId must be a string, got ${describeType(userId)}`);
  if (userId === '') throw new RangeError(`${name}.userId must not be empty`);
  return userId;
}

/**
 * The owner an update names, as raw JSON for the merge script's check, or '' when it
 * names none (no `userId`, or `userId: undefined` as a spread DTO carries it). The id
 * of a user is a non-empty string, or a number naming the same keys.
 */
function ownerNamed(updates: object): string {
  if (!Object.hasOwn(updates, 'userId')) return '';
  const userId = (updates as { userId?: unknown }).userId;
  if (userId === undefined) return '';
  if (typeof userId === 'string' || typeof userId === 'number') {
    if (userId === '' || (typeof userId === 'number' && !Number.isFinite(userId))) {
      throw new RangeError(
        `updates.userId must name the session owner, got ${userId === '' ? 'an empty string' : userId}`,
      );
    }
    return raw(userId);
  }
  throw new TypeError(
    `updates.userId must name the session owner (a string) or be left out, got ${describeType(userId)}`,
  );
}

/** The reply if `ok` accepts its shape; otherwise ERR_UNEXPECTED_REPLY, never a guessed value. */
function expectReply<T>(what: string, reply: unknown, ok: (reply: unknown) => boolean): T {
  if (!ok(reply)) throw unexpectedReply(what, reply);
  return reply as T;
}

const isOk = (reply: unknown) => reply === 'OK';
const isOkOrNull = (reply: unknown) => reply === 'OK' || reply === null;
const isCount = (reply: unknown) => Number.isInteger(reply) && (reply as number) >= 0;
const isTextOrNull = (reply: unknown) => reply === null || typeof reply === 'string';
const isTextArray = (reply: unknown) => Array.isArray(reply) && reply.every((item) => typeof item === 'string');
const isDeleteOutcome = (reply: unknown) => reply === 1 || reply === 0 || reply === -1;
const isExtendReply = (reply: unknown) =>
  Array.isArray(reply) && (reply[0] === 0 || (reply[0] === 1 && isTextOrNull(reply[1])));
const isTakeReply = (reply: unknown) =>
  Array.isArray(reply) &&
  (reply[0] === 0 || reply[0] === 1 || (reply[0] === 2 && typeof reply[1] === 'string' && Number.isInteger(reply[2])));
const isMergeReply = (reply: unknown) =>
  Array.isArray(reply) &&
  (reply[0] === 1
    ? typeof reply[1] === 'string'
    : reply[0] === 0 || reply[0] === -1 || reply[0] === -2 || reply[0] === NEEDS_FULL_MERGE);
/** {pointer or null, id, score, id, score, ...}: ids and scores as strings. */
const isIdsReply = (reply: unknown) =>
  Array.isArray(reply) &&
  reply.length % 2 === 1 &&
  isTextOrNull(reply[0]) &&
  reply.every((item, i) => i === 0 || typeof item === 'string');

/** A user id as keys name it: '42' and 42 are one user; anything else is no id. */
function idText(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}

function parseOwner(json: string): string | undefined {
  try {
    return idText(JSON.parse(json));
  } catch {
    return undefined;
  }
}

function ownerOfRecord(session: unknown): string | undefined {
  return idText((session as { userId?: unknown } | null)?.userId);
}

function storedOwner(text: string): string | undefined {
  try {
    return ownerOfRecord(JSON.parse(text));
  } catch {
    return undefined;
  }
}

function parseSession<T>(text: string, sessionId: string): T | null {
  let session: unknown;
  try {
    session = JSON.parse(text);
  } catch {
    // The parser's message quotes the text, which is personal data: only the tag is logged.
    log('warn', 'Session is not JSON, treated as missing', { session: redactedTag(sessionId) });
    return null;
  }
  if (session === null || typeof session !== 'object' || Array.isArray(session)) {
    log('warn', 'Session is not a JSON object, treated as missing', { session: redactedTag(sessionId) });
    return null;
  }
  const record = session as { lastActivity?: unknown };
  if (typeof record.lastActivity === 'string') {
    const when = new Date(record.lastActivity);
    if (!Number.isNaN(when.getTime())) record.lastActivity = when;
  }
  return session as T;
}

export const sessionService = new SessionService();
