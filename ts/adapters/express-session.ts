/**
 * `redis-layer/express-session`: an express-session Store (also usable by `@fastify/session`)
 * on a RedisConnection. Sessions are stored as connect-redis stores them (`sess:<sid>` holding
 * JSON, by default), so a team switches stores without logging anyone out.
 */
import { Store, type SessionData } from 'express-session';
import { redisConnection, type RedisConnection } from '../lib/connection';
import { describeType, positiveOption, requireString, unexpectedReply } from '../lib/errors';
import { escapeGlob } from '../lib/keys';
import { encode, type Serializer, serializerOf } from '../lib/json';
import { redactedTag } from '../lib/logger';
import { registerScript } from '../lib/native';
import { sameSlotKey } from '../lib/slot';

export interface RedisSessionStoreOptions {
  /** The connection (default: the shared `redisConnection`). */
  connection?: RedisConnection | undefined;
  /** Key prefix; a session lives at `<prefix><sid>`. @default 'sess:' (connect-redis') */
  prefix?: string | undefined;
  /** Lifetime of a session whose cookie has no expiry, in seconds. @default 86400 */
  ttlSeconds?: number | undefined;
  /** How sessions are written. @default jsonSerializer (connect-redis' format) */
  serializer?: Serializer | undefined;
  /** The session field naming its user, for `destroyAllForUser` (e.g. `'userId'`); none by default. */
  ownerField?: string | undefined;
  /** How long a destroyed session's id is remembered, so a late `set` or `touch` cannot bring it back. @default 3600 */
  tombstoneSeconds?: number | undefined;
  /** How often the connection's state is checked for `disconnect`/`connect` events, in ms. @default 500 */
  healthCheckMs?: number | undefined;
}

type Callback<T = void> = (error?: unknown, value?: T) => void;

/**
 * What the store reads of a session it is given: the cookie's expiry. Both express-session's and
 * @fastify/session's sessions fit; the rest is stored as it is.
 */
export interface StorableSession {
  cookie?: { expires?: Date | string | number | null | undefined } | undefined;
}

// KEYS: session, its tombstone. ARGV: text, ttl ms. Writes unless the session was destroyed.
const SET_LIVE = registerScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`);

// KEYS: session, its tombstone. ARGV: tombstone ttl ms. Deletes the session and remembers it was destroyed.
const DESTROY = registerScript(`
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
return redis.call('DEL', KEYS[1])
`);

// KEYS: user index. ARGV: now ms, expiry ms, sid. Forgets expired entries, then records the session.
const INDEX = registerScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIREAT', KEYS[1], redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2])
return 1
`);

/** Settles `cb`, when there is one, with the promise's outcome. */
function settle<T>(work: Promise<T>, cb: Callback<T> | undefined): void {
  work.then(
    (value) => cb?.(null, value),
    (error: unknown) => cb?.(error),
  );
}

export class RedisSessionStore extends Store {
  readonly prefix: string;
  private readonly connection: RedisConnection;
  private readonly ttlMs: number;
  private readonly tombstoneMs: number;
  private readonly serializer: Serializer;
  private readonly ownerField: string | undefined;
  private readonly health: ReturnType<typeof setInterval>;
  private connected: boolean;

  constructor(options: RedisSessionStoreOptions = {}) {
    super();
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`options must be an object, got ${describeType(options)}`);
    }
    this.connection = options.connection ?? redisConnection;
    this.prefix = options.prefix === undefined ? 'sess:' : requireString(options.prefix, 'options.prefix');
    this.ttlMs = positiveOption(options.ttlSeconds, 'options.ttlSeconds', 'seconds', 86_400) * 1000;
    this.tombstoneMs = positiveOption(options.tombstoneSeconds, 'options.tombstoneSeconds', 'seconds', 3600) * 1000;
    this.serializer = serializerOf(options);
    this.ownerField =
      options.ownerField === undefined ? undefined : requireString(options.ownerField, 'options.ownerField');
    // express-session stops serving sessions on 'disconnect' and resumes on 'connect'.
    this.connected = this.connection.isConnected;
    this.health = setInterval(
      () => this.checkHealth(),
      positiveOption(options.healthCheckMs, 'options.healthCheckMs', 'milliseconds', 500),
    );
    this.health.unref();
  }

  /** The session stored under `sid`, or null; typed as the calling framework types its sessions. */
  get<Session = SessionData>(sid: string, cb: Callback<Session | null>): void {
    settle(this.read(sid) as Promise<Session | null>, cb);
  }

  set(sid: string, session: StorableSession, cb?: Callback): void {
    settle(this.write(sid, session), cb);
  }

  /** Slides the expiry of an existing session; an expired or destroyed one stays gone. */
  touch(sid: string, session: StorableSession, cb?: Callback): void {
    settle(
      (async () => {
        const ttl = this.ttlOf(session);
        if (ttl <= 0) return;
        await this.connection.dispatcher().command(['PEXPIRE', this.key(sid), String(ttl)]);
      })(),
      cb,
    );
  }

  destroy(sid: string, cb?: Callback): void {
    settle(
      this.remove([sid]).then(() => undefined),
      cb,
    );
  }

  /** Every session, keyed by id (scans every master on a cluster). */
  all(cb: Callback<Record<string, SessionData>>): void {
    settle(
      (async () => {
        const ids = await this.listIds();
        const read = await Promise.all(ids.map((sid) => this.read(sid)));
        const sessions: Record<string, SessionData> = {};
        ids.forEach((sid, i) => {
          const session = read[i];
          if (session) sessions[sid] = session;
        });
        return sessions;
      })(),
      cb,
    );
  }

  /** The session ids. */
  ids(cb: Callback<string[]>): void {
    settle(this.listIds(), cb);
  }

  length(cb: Callback<number>): void {
    settle(
      this.listIds().then((ids) => ids.length),
      cb,
    );
  }

  /** Deletes every session under the prefix (SCAN + UNLINK on every master; glob characters in the prefix match themselves). */
  clear(cb?: Callback): void {
    settle(
      this.connection
        .dispatcher()
        .scanDelete(`${escapeGlob(this.prefix)}*`, 1000)
        .then(() => undefined),
      cb,
    );
  }

  /** Logs a user out everywhere: destroys every session whose `ownerField` named them. Resolves to how many. */
  async destroyAllForUser(userId: string): Promise<number> {
    requireString(userId, 'userId');
    if (this.ownerField === undefined) {
      throw new TypeError('destroyAllForUser needs the ownerField option (the session field naming its user)');
    }
    const index = this.userIndex(userId);
    const redis = this.connection.dispatcher();
    const sids = (await redis.command(['ZRANGE', index, '0', '-1'])) as string[];
    const removed = await this.remove(sids);
    await redis.command(['DEL', index]);
    return removed;
  }

  /** Stops the connection-state checks (the connection itself is the caller's). */
  close(): void {
    clearInterval(this.health);
  }

  private key(sid: string): string {
    return this.prefix + requireString(sid, 'sid');
  }

  private tombstone(sid: string): string {
    return sameSlotKey(this.key(sid), ':destroyed');
  }

  private userIndex(userId: string): string {
    return sameSlotKey(`${this.prefix}user:${userId}`, ':sessions');
  }

  /** Milliseconds until the cookie expires, else the default lifetime (connect-redis' rule, in ms). */
  private ttlOf(session: StorableSession): number {
    const expires = session?.cookie?.expires;
    return expires ? new Date(expires).getTime() - Date.now() : this.ttlMs;
  }

  private async read(sid: string): Promise<SessionData | null> {
    const text = await this.connection.dispatcher().get(this.key(sid));
    if (text === null) return null;
    // A session id is a credential: errors name its tag only.
    if (typeof text !== 'string') throw unexpectedReply(`GET of the session tagged ${redactedTag(sid)}`, text);
    return this.serializer.parse(text) as SessionData;
  }

  private async write(sid: string, session: StorableSession): Promise<void> {
    const ttl = this.ttlOf(session);
    if (ttl <= 0) {
      await this.remove([sid]);
      return;
    }
    const text = encode(this.serializer, session, 'session');
    const redis = this.connection.dispatcher();
    const key = this.key(sid);
    const px = String(Math.ceil(ttl));
    // A session that exists cannot have been destroyed, so a plain SET XX updates it; only a new, expired or
    // destroyed one takes the script that checks the tombstone.
    const updated = (await redis.command(['SET', key, text, 'PX', px, 'XX'])) !== null;
    const written = updated ? 1 : await redis.script(SET_LIVE, [key, this.tombstone(sid)], [text, px]);
    const owner =
      this.ownerField === undefined ? undefined : (session as unknown as Record<string, unknown>)[this.ownerField];
    if (written === 1 && typeof owner === 'string' && owner !== '') {
      const now = Date.now();
      await redis.script(INDEX, [this.userIndex(owner)], [String(now), String(Math.ceil(now + ttl)), sid]);
    }
  }

  private async remove(sids: readonly string[]): Promise<number> {
    const redis = this.connection.dispatcher();
    const deleted = await Promise.all(
      sids.map((sid) => redis.script(DESTROY, [this.key(sid), this.tombstone(sid)], [String(this.tombstoneMs)])),
    );
    return deleted.reduce((sum: number, n) => sum + Number(n), 0);
  }

  private async listIds(): Promise<string[]> {
    const ids: string[] = [];
    const client = this.connection.getClient();
    for await (const key of client.scanIterator({ MATCH: `${escapeGlob(this.prefix)}*`, COUNT: 1000 })) {
      ids.push(key.slice(this.prefix.length));
    }
    return ids;
  }

  private checkHealth(): void {
    const now = this.connection.isConnected;
    if (now === this.connected) return;
    this.connected = now;
    this.emit(now ? 'connect' : 'disconnect');
  }
}
