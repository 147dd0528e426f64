import { randomBytes } from 'node:crypto';
import { redisConnection, RedisConnection } from './connection';
import { describeType, RedisLayerError, requireString } from './errors';
import { CacheKeys } from './keys';
import { describeError, log } from './logger';
import { registerScript } from './native';
import { runCommand, runPipeline, runScript } from './scripts/run';
import * as lua from './scripts/session';
import { sameSlotKey } from './scripts/slot';

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
const REFRESH_TTL_MS = 2_592_000_000; // 30 days, as the seed
const INDEX_BUMP_EVERY_MS = 3_600_000;
const INDEX_BUMP_MEMORY = 10_000;
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
  unindex: registerScript(lua.SESSION_UNINDEX),
  ids: registerScript(lua.SESSION_IDS),
  prune: registerScript(lua.SESSION_PRUNE),
};

/**
 * Every session id of a user (sorted set, scored by creation time), beside the seed's
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

export class SessionService {
  private readonly connection: RedisConnection;
  private readonly indexBumped = new Map<string, number>();
  private readonly waitForReplicas: number;
  private readonly replicaTimeoutMs: number;

  constructor(connection?: RedisConnection, options?: SessionServiceOptions) {
    this.connection = connection ?? redisConnection;
    const replicas = options?.waitForReplicas ?? 0;
    const timeout = options?.replicaTimeoutMs ?? 200;
    if (!Number.isInteger(replicas) || replicas < 0) throw new RangeError(`options.waitForReplicas must be a non-negative integer, got ${replicas}`);
    if (!Number.isInteger(timeout) || timeout <= 0) throw new RangeError(`options.replicaTimeoutMs must be a positive integer, got ${timeout}`);
    this.waitForReplicas = replicas;
    this.replicaTimeoutMs = timeout;
  }

  /**
   * With `waitForReplicas`, a write is acknowledged only once that many replicas have it
   * (WAIT on the node holding `key`), so a failover cannot lose it or bring back a
   * deleted session; otherwise it rejects with ERR_NOT_REPLICATED.
   */
  private async replicated(key: string): Promise<void> {
    if (this.waitForReplicas === 0) return;
    const replies = await runPipeline(this.connection, [
      ['EXISTS', key],
      ['WAIT', String(this.waitForReplicas), String(this.replicaTimeoutMs)],
    ]);
    const reached = Number(replies[1]);
    if (!(reached >= this.waitForReplicas)) {
      throw new RedisLayerError(
        'ERR_NOT_REPLICATED',
        `session write reached ${reached} of ${this.waitForReplicas} replicas within ${this.replicaTimeoutMs} ms`,
      );
    }
  }

  /** A new session id: 256 bits from the OS CSPRNG, base64url (43 characters). */
  generateSessionId(): string {
    return randomBytes(32).toString('base64url');
  }

  /** Stores the session and makes it the user's latest. Rejects when Redis cannot store it. */
  async createSession<T extends SessionOwner = SessionData>(sessionId: string, sessionData: T): Promise<void> {
    requireString(sessionId, 'sessionId');
    const userId = ownerOf(sessionData, 'sessionData');
    const text = JSON.stringify(sessionData);
    await runCommand(this.connection, ['SET', CacheKeys.session(sessionId), text, 'PX', String(SESSION_TTL_MS)]);
    await this.replicated(CacheKeys.session(sessionId));
    await this.index(userId, sessionId, raw(sessionId), '');
    log('info', 'Session created', { sessionId, userId });
  }

  /**
   * The session with `lastActivity` refreshed (as a Date) and its 24 h expiry slid,
   * or null. Redis trouble is logged and answered with null, as the seed.
   */
  async getSession<T extends SessionOwner = SessionData>(sessionId: string): Promise<T | null> {
    requireString(sessionId, 'sessionId');
    try {
      // What raw() makes of { lastActivity: new Date() }, without JSON.stringify's toJSON walk.
      return await this.mergePairs<T>(sessionId, '', [LAST_ACTIVITY_KEY, `"${new Date().toISOString()}"`]);
    } catch (error) {
      log('error', 'Session get error', { sessionId, ...describeError(error) });
      return null;
    }
  }

  /**
   * Merges `updates` into the stored session (server-side, so concurrent updates keep
   * each other's fields), refreshes `lastActivity` and slides the expiry. Resolves false
   * when the session does not exist (it is never created here). (`R` is for code typed against the seed's `Promise<void>`; leave it out.)
   */
  updateSession<T extends SessionOwner = SessionData, R extends boolean | void = boolean>(sessionId: string, updates: Partial<Declared<T>>): Promise<R>;
  async updateSession<T extends SessionOwner = SessionData>(sessionId: string, updates: Partial<Declared<T>>): Promise<boolean> {
    requireString(sessionId, 'sessionId');
    if (updates === null || typeof updates !== 'object' || Array.isArray(updates)) {
      throw new TypeError(`updates must be an object, got ${describeType(updates)}`);
    }
    const updated = (await this.merge(sessionId, { lastActivity: new Date(), ...updates })) !== null;
    if (updated) await this.replicated(CacheKeys.session(sessionId));
    return updated;
  }

  /** Deletes the session and forgets it in the user's index. Resolves false when there was none. (`R` is for code typed against the seed's `Promise<void>`; leave it out.) */
  deleteSession<R extends boolean | void = boolean>(sessionId: string): Promise<R>;
  async deleteSession(sessionId: string): Promise<boolean> {
    requireString(sessionId, 'sessionId');
    const key = CacheKeys.session(sessionId);
    for (let attempt = 0; attempt < RACE_RETRIES; attempt++) {
      const text = await runCommand<string | null>(this.connection, ['GET', key]);
      if (text === null) return false;
      const userId = storedOwner(text);
      if (userId === undefined) return (await runCommand<number>(this.connection, ['DEL', key])) === 1;
      const outcome = await runScript<number>(this.connection, scripts.removeOwned, [key], [raw(userId)]);
      if (outcome !== -1) {
        if (outcome === 1) await this.replicated(key);
        await this.unindex(userId, '', [sessionId]);
        if (outcome === 1) log('info', 'Session deleted', { sessionId, userId });
        return outcome === 1;
      }
    }
    throw new Error(`deleteSession: session ${sessionId} kept changing owner`);
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
      let left = 0;
      for (let i = 0; i < ids.length; i += DELETE_BATCH) {
        const batch = ids.slice(i, i + DELETE_BATCH);
        const outcomes = await Promise.all(
          batch.map((id) => runScript<number>(this.connection, scripts.removeOwned, [CacheKeys.session(id)], [raw(userId)])),
        );
        deleted += outcomes.filter((outcome) => outcome === 1).length;
        left = await this.unindex(userId, '', batch);
      }
      if (left === 0) break;
    }
    log('info', 'User sessions deleted', { userId, count: deleted });
    return deleted;
  }

  /** Restarts the 24 h expiry of a live session (as the seed, only one that has a TTL); resolves to whether it did. (`R` is for code typed against the seed's `Promise<void>`; leave it out.) */
  extendSession<R extends boolean | void = boolean>(sessionId: string): Promise<R>;
  async extendSession(sessionId: string): Promise<boolean> {
    requireString(sessionId, 'sessionId');
    const [done, owner] = await runScript<[number, string | null]>(
      this.connection,
      scripts.extend,
      [CacheKeys.session(sessionId)],
      [String(SESSION_TTL_MS)],
    );
    if (done === 1) this.keepIndex(owner === null ? undefined : parseOwner(owner));
    return done === 1;
  }

  /**
   * Every live session of the user, newest first. Ids of sessions that expired on their
   * own are pruned from the index here. Listing does not count as activity. Redis
   * trouble is logged and answered with [], as the seed.
   */
  async getActiveSessions<T extends SessionOwner = SessionData>(userId: string): Promise<T[]> {
    requireString(userId, 'userId');
    try {
      const entries = await this.sessionIds(userId);
      if (entries.length === 0) return [];
      const texts = await runCommand<Array<string | null>>(this.connection, ['MGET', ...entries.map((e) => CacheKeys.session(e.id))]);
      const sessions: T[] = [];
      const dead: IndexEntry[] = [];
      const unindexed: string[] = [];
      entries.forEach((entry, i) => {
        const text = texts[i];
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
      log('error', 'Session list error', { userId, ...describeError(error) });
      return [];
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
        log('info', 'Session rotated', { userId });
        return newSessionId;
      }
      await this.undoCopy(userId, newSessionId);
      if (outcome === 'gone') return null;
    }
    throw new Error(`rotateSession: session ${oldSessionId} could not be moved`);
  }

  /**
   * The copy is indexed before the old session goes, which happens only while it still
   * holds the copied text: an update landing meanwhile is copied again, a logout
   * meanwhile ('gone') wins. The pointer follows last.
   */
  private async moveOnce(userId: string, oldId: string, newId: string, seen: Snapshot): Promise<'moved' | 'gone' | 'retry'> {
    await this.index(userId, newId, '', oldId);
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
    await runCommand(this.connection, ['DEL', CacheKeys.session(newId)]);
    await this.unindex(userId, '', [newId]);
  }

  /** SESSION_TAKE: compare-and-delete `expected`, or only look when it is ''. */
  private async take(key: string, expected: string): Promise<Taken> {
    const reply = await runScript<[number, string?, number?]>(this.connection, scripts.take, [key], [expected]);
    if (reply[0] === 2) return { state: 2, text: reply[1] ?? '', pttl: Number(reply[2]) };
    return reply[0] === 1 ? { state: 1 } : { state: 0 };
  }

  /** Writes a copy with the TTL the original had; false when NX / XX refused it. */
  private async copy(key: string, from: Snapshot, mode: 'NX' | 'XX'): Promise<boolean> {
    const expiry = from.pttl > 0 ? ['PX', String(from.pttl)] : [];
    return (await runCommand<string | null>(this.connection, ['SET', key, from.text, ...expiry, mode])) !== null;
  }

  private async index(userId: string, sessionId: string, pointerJson: string, scoreFrom: string): Promise<void> {
    await runScript(
      this.connection,
      scripts.indexAdd,
      [userSessionsKey(userId), CacheKeys.userSession(userId)],
      [sessionId, pointerJson, String(REFRESH_TTL_MS), scoreFrom],
    );
  }

  /** Forgets ids; a pointer naming one moves to `replacement` ('' = the latest left). Resolves to the ids left. */
  private unindex(userId: string, replacement: string, ids: string[]): Promise<number> {
    return runScript<number>(this.connection, scripts.unindex, [userSessionsKey(userId), CacheKeys.userSession(userId)], [
      replacement,
      ...ids,
    ]);
  }

  private async prune(userId: string, dead: IndexEntry[], unindexed: string[]): Promise<void> {
    const pairs = dead.flatMap((entry) => [entry.id, entry.score ?? '']);
    try {
      await runScript(this.connection, scripts.prune, [userSessionsKey(userId)], [
        String(REFRESH_TTL_MS),
        String(dead.length),
        ...pairs,
        ...unindexed,
      ]);
    } catch (error) {
      // Housekeeping only: the sessions read are still the answer.
      log('warn', 'Session index not pruned', { userId, ...describeError(error) });
    }
  }

  /** The merged text, or null when there is no (usable) session. */
  /** The merged session, parsed (null when there is none), after keeping its user's index alive. */
  private merge<T>(sessionId: string, updates: Record<string, unknown>): Promise<T | null> {
    const pairs: string[] = [];
    for (const [field, value] of Object.entries(updates)) pairs.push(raw(field), raw(value));
    const newOwner = Object.prototype.hasOwnProperty.call(updates, 'userId') ? raw(updates.userId) : '';
    return this.mergePairs<T>(sessionId, newOwner, pairs);
  }

  /** `merge` with the updates already as raw JSON pairs (getSession's hot path). */
  private async mergePairs<T>(sessionId: string, newOwner: string, pairs: string[]): Promise<T | null> {
    const keys = [CacheKeys.session(sessionId)];
    const args = [String(SESSION_TTL_MS), newOwner, ...pairs];
    let reply = await runScript<[number, string?]>(this.connection, scripts.merge, keys, args);
    if (reply[0] === NEEDS_FULL_MERGE) reply = await runScript(this.connection, scripts.mergeFull, keys, args);
    switch (reply[0]) {
      case 1: {
        const session = parseSession<T>(reply[1] ?? '', sessionId);
        this.keepIndex(ownerOfRecord(session));
        return session;
      }
      case -1:
        log('warn', 'Session is not a JSON object, treated as missing', { sessionId });
        return null;
      case -2:
        throw new RangeError('updates.userId must name the session owner; create a new session to change users');
      default:
        return null;
    }
  }

  /** Keeps the user's index alive as long as a session of theirs slides (at most hourly per user). */
  private keepIndex(userId: string | undefined): void {
    if (userId === undefined) return;
    const now = Date.now();
    if (now - (this.indexBumped.get(userId) ?? 0) < INDEX_BUMP_EVERY_MS) return;
    if (this.indexBumped.size >= INDEX_BUMP_MEMORY) this.indexBumped.clear();
    this.indexBumped.set(userId, now);
    runCommand(this.connection, ['PEXPIRE', userSessionsKey(userId), String(REFRESH_TTL_MS), 'GT']).catch((error) => {
      this.indexBumped.delete(userId);
      log('warn', 'Session index expiry not extended', { userId, ...describeError(error) });
    });
  }

  /** The user's indexed ids (newest first), plus the seed's latest-session pointer (sessions the seed created). */
  private async sessionIds(userId: string): Promise<IndexEntry[]> {
    const [pointer, ...ranked] = await runScript<Array<string | null>>(this.connection, scripts.ids, [
      userSessionsKey(userId),
      CacheKeys.userSession(userId),
    ], []);
    const entries: IndexEntry[] = [];
    for (let i = 0; i + 1 < ranked.length; i += 2) entries.push({ id: String(ranked[i]), score: String(ranked[i + 1]) });
    const latest = pointer === null || pointer === undefined ? undefined : parseOwner(pointer);
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
  return userId;
}

/** A JSON scalar (string or number) as the id string it names. */
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
  } catch (error) {
    log('warn', 'Session is not JSON, treated as missing', { sessionId, ...describeError(error) });
    return null;
  }
  if (session === null || typeof session !== 'object' || Array.isArray(session)) return null;
  const record = session as { lastActivity?: unknown };
  if (typeof record.lastActivity === 'string') {
    const when = new Date(record.lastActivity);
    if (!Number.isNaN(when.getTime())) record.lastActivity = when;
  }
  return session as T;
}

export const sessionService = new SessionService();
