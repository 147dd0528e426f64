import { performance } from 'node:perf_hooks';
import { failSoft, softly } from './access';
import { redisConnection, type RedisConnection } from './connection';
import { allOrError, type Dispatcher } from './dispatcher';
import {
  optionalTtl,
  positiveOption,
  RedisLayerError,
  rejectWith,
  requireString,
  requireStringArray,
  describeType,
  unexpectedReply,
} from './errors';
import {
  decodeOrMiss,
  encode,
  type JsonSerializer,
  jsonSerializer,
  type Loaded,
  type Serializer,
  serializerOf,
} from './json';
import { describeError, log } from './logger';
import { keyGroup, type OperationEvent, traceOperation, tracingOperations } from './telemetry';
import { type Fetched, LocalCache, type LocalCacheOptions, type LocalCacheStats, type LocalEntry } from './local';
import { deleteWithLease, peekFill, releaseLease, renewLease, SingleFlight, storeFills, takeLease } from './fill';

export interface CacheServiceOptions<S extends Serializer = JsonSerializer> {
  /** How values are stored: `jsonSerializer` (default, the seed's format) or `dateSerializer` or your own. */
  serializer?: S | undefined;
  /**
   * Keeps values read in this process too, kept honest by Redis (CLIENT TRACKING): `get`, `mget`
   * and `getOrSet` answer from memory while the key is unchanged in Redis. Values are then shared
   * between callers and frozen (with the JSON serializer; others are parsed per read). Default: off.
   */
  local?: LocalCacheOptions | undefined;
}

export interface GetOrSetOptions {
  /** Seconds the loaded value lives in Redis; default: no expiry (as `set`). */
  ttlSeconds?: number | undefined;
  /** Seconds a "not found" (`null`/`undefined` from the loader) is cached, so unknown ids stop reaching the loader; default: not cached. */
  cacheNullSeconds?: number | undefined;
  /**
   * Stale-while-revalidate: the value stays in Redis this many seconds past `ttlSeconds`. Read in
   * that time it is stale: returned at once while one refresh runs in the background, and kept
   * (served) if the refresh fails. Needs `ttlSeconds`. Default: none.
   */
  graceSeconds?: number | undefined;
  /** With a stale value: wait this long for the refresh before answering with the stale value. @default 0 */
  softTimeoutMs?: number | undefined;
  /** A load (with no stale value to fall back on) that takes longer rejects with ERR_TIMEOUT; it is not stored. Default: none. */
  hardTimeoutMs?: number | undefined;
  /**
   * The fill's lease in Redis (`{key}:lease`), renewed while the loader runs: concurrent misses in other
   * processes wait for this fill instead of loading, and take over within this time if its process dies.
   * @default 5000
   */
  leaseMs?: number | undefined;
  /** The longest a miss waits for another process's fill before it loads itself (without storing). @default 10000 */
  maxWaitMs?: number | undefined;
}

export interface GetOrSetResult<V> {
  /** What a cache hit returns: the JSON round trip of the loaded value, or null for "not found". */
  value: V | null;
  /** True when the value came from Redis (stored by anyone, this process or another), false when this call's loader ran. */
  hit: boolean;
  /** True when the value was past its TTL, within `graceSeconds` (a refresh was started). */
  stale?: boolean;
}

/** getOrSet's options, checked, in the units the fill uses. */
interface FillOptions {
  ttl: number | undefined;
  nullTtl: number | undefined;
  graceSeconds: number;
  softTimeoutMs: number;
  hardTimeoutMs: number | undefined;
  leaseMs: number;
  maxWaitMs: number;
}

const DEFAULT_LEASE_MS = 5_000;
const DEFAULT_MAX_WAIT_MS = 10_000;
/** A waiting fill looks at the key this often at first, then less often, up to WAIT_POLL_MAX_MS. */
const WAIT_POLL_MIN_MS = 5;
const WAIT_POLL_MAX_MS = 50;

function getOrSetOptions(ttl: number | GetOrSetOptions | undefined): FillOptions {
  const options: FillOptions = {
    ttl: undefined,
    nullTtl: undefined,
    graceSeconds: 0,
    softTimeoutMs: 0,
    hardTimeoutMs: undefined,
    leaseMs: DEFAULT_LEASE_MS,
    maxWaitMs: DEFAULT_MAX_WAIT_MS,
  };
  if (ttl === undefined || typeof ttl === 'number') return { ...options, ttl: optionalTtl(ttl, 'ttlSeconds') };
  if (ttl === null || typeof ttl !== 'object') {
    throw new TypeError(`ttlSeconds must be a number of seconds or an options object, got ${describeType(ttl)}`);
  }
  options.ttl = optionalTtl(ttl.ttlSeconds, 'options.ttlSeconds');
  options.nullTtl = optionalTtl(ttl.cacheNullSeconds, 'options.cacheNullSeconds');
  options.graceSeconds = optionalTtl(ttl.graceSeconds, 'options.graceSeconds') ?? 0;
  if (options.graceSeconds > 0 && options.ttl === undefined) {
    throw new RangeError('options.graceSeconds needs options.ttlSeconds: a value without expiry is never stale');
  }
  if (ttl.softTimeoutMs !== undefined) {
    options.softTimeoutMs = positiveOption(ttl.softTimeoutMs, 'options.softTimeoutMs', 'milliseconds');
  }
  if (ttl.hardTimeoutMs !== undefined) {
    options.hardTimeoutMs = positiveOption(ttl.hardTimeoutMs, 'options.hardTimeoutMs', 'milliseconds');
  }
  options.leaseMs = Math.ceil(positiveOption(ttl.leaseMs, 'options.leaseMs', 'milliseconds', DEFAULT_LEASE_MS));
  options.maxWaitMs = positiveOption(ttl.maxWaitMs, 'options.maxWaitMs', 'milliseconds', DEFAULT_MAX_WAIT_MS);
  return options;
}

/**
 * The seed's CacheService: JSON values under the caller's keys, failing soft
 * (a Redis error or a corrupt value is logged and answered with null / false / -1 / 0).
 */
export class CacheService<S extends Serializer = JsonSerializer> {
  private readonly connection: RedisConnection;
  private readonly serializer: Serializer;
  /** How this service stores a cached "not found", once asked (a serializer may refuse `null`). */
  private nullTextMemo: string | null | undefined;
  private readonly flights = new SingleFlight();
  /** Background refreshes of stale values, one per key. */
  private readonly refreshes = new SingleFlight();
  private readonly local: LocalCache | undefined;

  constructor(connection?: RedisConnection, options?: CacheServiceOptions<S>) {
    this.connection = connection ?? redisConnection;
    this.serializer = serializerOf(options);
    const serializer = this.serializer;
    this.local =
      options?.local === undefined
        ? undefined
        : new LocalCache(
            options.local,
            (text, key) => decodeOrMiss(serializer, text, key),
            serializer === jsonSerializer,
          );
  }

  /** What the local tier has done (`local` option), or null when it is off. */
  localStats(): LocalCacheStats | null {
    return this.local?.snapshot() ?? null;
  }

  get<T>(key: string): Promise<T | null> {
    if (typeof key !== 'string') return rejectWith(() => requireString(key, 'key')) as Promise<never>;
    if (!tracingOperations()) return this.read<T>(key);
    return traceOperation({ service: 'cache', operation: 'get', keyGroup: keyGroup(key) }, (event) =>
      this.read<T>(key, event).then((value) => {
        event.outcome ??= value === null ? 'miss' : 'hit';
        return value;
      }),
    );
  }

  private read<T>(key: string, traced?: OperationEvent): Promise<T | null> {
    const local = this.local;
    if (local !== undefined) {
      const entry = traced === undefined ? this.localHit(key) : undefined;
      if (entry !== undefined) return Promise.resolve(local.valueOf(entry) as T | null);
      return this.remembered(key, traced).then((found) => (found === undefined ? null : (local.valueOf(found) as T)));
    }
    const recover = failSoft('Cache get error', { key }, null, traced);
    return softly(this.connection, recover, (redis) =>
      redis.get<T | null>(key, (reply) => decodeOrMiss<T>(this.serializer, reply, key), recover),
    );
  }

  set<T>(key: string, value: T, ttlSeconds?: number): Promise<boolean> {
    if (typeof key !== 'string') return rejectWith(() => requireString(key, 'key')) as Promise<never>;
    if (!tracingOperations()) return this.write(key, value, ttlSeconds);
    return traceOperation({ service: 'cache', operation: 'set', keyGroup: keyGroup(key) }, (event) =>
      this.write(key, value, ttlSeconds, event).then((stored) => {
        event.outcome ??= stored ? 'stored' : 'not-stored';
        return stored;
      }),
    );
  }

  private write<T>(key: string, value: T, ttlSeconds: number | undefined, traced?: OperationEvent): Promise<boolean> {
    let ttl: number | undefined;
    let text: string;
    try {
      ttl = optionalTtl(ttlSeconds, 'ttlSeconds');
    } catch (error) {
      return Promise.reject(error);
    }
    const recover = failSoft('Cache set error', { key }, false, traced);
    try {
      text = encode(this.serializer, value);
    } catch (error) {
      return Promise.resolve(recover(error));
    }
    return softly(this.connection, recover, (redis) => redis.set<boolean>(key, text, ttl, acknowledged, recover));
  }

  /** Deletes the key and cancels any fill of it in flight (its lease), so a value loaded before is not stored after. */
  del(key: string): Promise<boolean> {
    if (typeof key !== 'string') return rejectWith(() => requireString(key, 'key')) as Promise<never>;
    const recover = failSoft('Cache delete error', { key }, false);
    return softly(this.connection, recover, (redis) => deleteWithLease(redis, key).catch(recover));
  }

  exists(key: string): Promise<boolean> {
    return this.command(
      'Cache exists error',
      { key },
      () => ['EXISTS', requireString(key, 'key')],
      (n: number) => n === 1,
      false,
    );
  }

  mget<T>(keys: string[]): Promise<(T | null)[]> {
    let list: string[];
    try {
      list = requireStringArray(keys, 'keys');
    } catch (error) {
      return Promise.reject(error);
    }
    if (list.length === 0) return Promise.resolve([]);
    const local = this.local;
    if (local !== undefined) {
      return Promise.all(
        list.map((key) =>
          this.remembered(key).then((found) => (found === undefined ? null : (local.valueOf(found) as T))),
        ),
      );
    }
    const logged = failSoft('Cache mget error', { keys: list.length }, undefined);
    const recover = (error: unknown): (T | null)[] => {
      logged(error);
      return list.map(() => null);
    };
    if (this.serializer !== jsonSerializer) {
      // The native splice into one JSON array only serves JSON; other formats decode value by value.
      const serializer = this.serializer;
      return softly(this.connection, recover, (redis) =>
        redis.command(
          ['MGET', ...list],
          (replies: unknown) => {
            if (!Array.isArray(replies) || replies.length !== list.length)
              return recover(unexpectedReply('MGET', replies));
            return replies.map((reply, i) => decodeOrMiss<T>(serializer, reply, list[i]));
          },
          recover,
        ),
      );
    }
    return softly(this.connection, recover, (redis) =>
      redis.jsonArray(
        ['MGET', ...list],
        ([text, unchecked]) => {
          let values: (T | null)[];
          try {
            values = JSON.parse(text) as (T | null)[];
          } catch (error) {
            // Each spliced value passed a strict JSON check natively; V8 disagreeing is a bug.
            return recover(error);
          }
          for (let i = 0; i < unchecked.length; i += 2) {
            const index = unchecked[i] as number;
            values[index] = decodeOrMiss<T>(jsonSerializer, unchecked[i + 1], list[index]);
          }
          return values;
        },
        recover,
      ),
    );
  }

  /**
   * Writes all pairs as one MULTI/EXEC of SET (… EX with a TTL), so no key is ever left without
   * its TTL. On a cluster the transaction is atomic per hash slot; if any part fails (or times
   * out), every key of the call is deleted so none is left holding part of it, and the answer is
   * false. A transaction is never re-sent by the cluster client, so the deletion, sent after the
   * failure on the same per-node connection, follows any write of the call that still lands.
   */
  mset<T>(keyValuePairs: Record<string, T>, ttlSeconds?: number): Promise<boolean> {
    let ttl: number | undefined;
    try {
      if (keyValuePairs === null || typeof keyValuePairs !== 'object' || Array.isArray(keyValuePairs)) {
        throw new TypeError(`keyValuePairs must be an object, got ${describeType(keyValuePairs)}`);
      }
      ttl = optionalTtl(ttlSeconds, 'ttlSeconds');
    } catch (error) {
      return Promise.reject(error);
    }
    const recover = failSoft('Cache mset error', {}, false);
    const entries: Array<[string, string]> = [];
    try {
      for (const [key, value] of Object.entries(keyValuePairs))
        entries.push([key, encode(this.serializer, value, `keyValuePairs.${key}`)]);
    } catch (error) {
      return Promise.resolve(recover(error));
    }
    if (entries.length === 0) return Promise.resolve(true);
    const expiry = ttl === undefined ? [] : ['EX', String(ttl)];
    const commands = entries.map(([key, text]) => ['SET', key, text, ...expiry]);
    return softly(this.connection, recover, (redis) =>
      redis
        .pipeline(commands, true, (replies: unknown[]) => {
          const failed = replies.find((reply) => reply !== 'OK');
          if (failed !== undefined)
            throw new Error(`SET in MSET transaction failed: ${String((failed as Error)?.message ?? failed)}`);
          return true;
        })
        .catch((error: unknown) =>
          undoMset(
            redis,
            entries.map(([key]) => key),
            recover(error),
          ),
        ),
    );
  }

  expire(key: string, ttlSeconds: number): Promise<boolean> {
    return this.command(
      'Cache expire error',
      { key },
      () => {
        const ttl = optionalTtl(ttlSeconds, 'ttlSeconds');
        if (ttl === undefined) throw new RangeError('ttlSeconds must be a positive number of seconds');
        return ['EXPIRE', requireString(key, 'key'), String(ttl)];
      },
      (n: number) => n === 1,
      false,
    );
  }

  /** Seconds left; -2 for a missing key and -1 for a key without TTL (as Redis says), -1 on error (as the seed). */
  ttl(key: string): Promise<number> {
    return this.command(
      'Cache ttl error',
      { key },
      () => ['TTL', requireString(key, 'key')],
      (n: number) => n,
      -1,
    );
  }

  /** Deletes the keys matching a glob with SCAN + UNLINK in batches (never KEYS); resolves to the count. */
  flushPattern(pattern: string): Promise<number> {
    if (typeof pattern !== 'string') return rejectWith(() => requireString(pattern, 'pattern')) as Promise<never>;
    const recover = failSoft('Cache flush pattern error', { pattern }, 0);
    return softly(this.connection, recover, (redis) => redis.scanDelete(pattern, 1000, undefined, recover));
  }

  /**
   * Cache-aside with single flight: concurrent misses on one key run `loader` once and share
   * its value; a loader error rejects every waiter and caches nothing. A miss answers what a
   * hit would (the value's JSON round trip), so one call never gives two shapes. A loader
   * answering `null` or `undefined` ("not found") gives `null`, cached only with
   * `cacheNullSeconds`. The value is stored only if no invalidation of the key (del, the
   * services' invalidate methods) happened since the load began (see fill.ts).
   */
  async getOrSet<T>(
    key: string,
    loader: () => Promise<T> | T,
    ttl?: number | GetOrSetOptions,
  ): Promise<Loaded<NonNullable<T>, S> | null> {
    return (await this.getOrSetWithInfo(key, loader, ttl)).value;
  }

  /** `getOrSet` that also says whether the value came from the cache (`hit`) or the loader. */
  getOrSetWithInfo<T>(
    key: string,
    loader: () => Promise<T> | T,
    ttl?: number | GetOrSetOptions,
  ): Promise<GetOrSetResult<Loaded<NonNullable<T>, S>>> {
    let options: FillOptions;
    try {
      requireString(key, 'key');
      if (typeof loader !== 'function') throw new TypeError(`loader must be a function, got ${describeType(loader)}`);
      options = getOrSetOptions(ttl);
    } catch (error) {
      return Promise.reject(error);
    }
    type Value = Loaded<NonNullable<T>, S>;
    if (tracingOperations()) {
      return traceOperation({ service: 'cache', operation: 'getOrSet', keyGroup: keyGroup(key) }, (event) =>
        this.fill<T, Value>(key, loader, options).then((result) => {
          event.outcome ??= result.stale ? 'stale' : result.hit ? 'hit' : 'miss';
          return result;
        }),
      );
    }
    return this.fill<T, Value>(key, loader, options);
  }

  /**
   * One getOrSet: a fresh hit; a stale one (answered at once or after `softTimeoutMs`, one refresh
   * running); or a load, which concurrent calls in this process share (SingleFlight) and concurrent
   * calls in other processes wait for (the lease).
   */
  private fill<T, Value>(
    key: string,
    loader: () => Promise<T> | T,
    options: FillOptions,
  ): Promise<GetOrSetResult<Value>> {
    return this.flights.run(key, async (): Promise<GetOrSetResult<Value>> => {
      const cached =
        options.graceSeconds > 0 ? await this.lookupAged<Value>(key, options) : await this.lookup<Value>(key);
      if (!cached.hit) {
        if (options.graceSeconds === 0) return this.load<T, Value>(key, loader, options, options.hardTimeoutMs);
        return this.load<T, Value>(key, loader, options, options.hardTimeoutMs).catch((error: unknown) =>
          this.lastGood<Value>(key, error),
        );
      }
      if (!cached.stale) return { value: cached.value, hit: true };
      const refresh = this.refreshes.run(key, () => this.load<T, Value>(key, loader, options, undefined));
      refresh.catch((error: unknown) =>
        log('warn', 'Cache refresh failed: serving the stale value', { key, ...describeError(error) }),
      );
      if (options.softTimeoutMs > 0) {
        const fresh = await within(refresh, options.softTimeoutMs).catch(() => undefined);
        if (fresh !== undefined) return fresh;
      }
      return { value: cached.value, hit: true, stale: true };
    });
  }

  /**
   * A load that failed while Redis was away (no stale value could be read): the value the
   * local tier held when it lost Redis, while within its TTL and grace; else the failure.
   */
  private lastGood<Value>(key: string, error: unknown): GetOrSetResult<Value> {
    const entry = this.local?.fallback(key);
    if (entry === undefined) throw error;
    log('warn', 'Cache load failed while Redis is unreachable: serving the last good value', {
      key,
      ...describeError(error),
    });
    return { value: (this.local as LocalCache).valueOf(entry) as Value, hit: true, stale: true };
  }

  /**
   * Runs the loader under the key's lease and stores what it returns. When another fill (this
   * process or another) holds the lease, waits for its value instead; takes over when that fill
   * ends without one (its loader failed, its process died and the lease lapsed).
   */
  private async load<T, Value>(
    key: string,
    loader: () => Promise<T> | T,
    options: FillOptions,
    hardTimeoutMs: number | undefined,
  ): Promise<GetOrSetResult<Value>> {
    const started = performance.now();
    for (;;) {
      const lease = await this.takeLease(key, options.leaseMs);
      if (lease === null || lease.own)
        return this.runLoader<T, Value>(key, loader, options, lease?.token ?? null, hardTimeoutMs);
      const waited = await this.waitForFill<Value>(key, lease.token, started + options.maxWaitMs);
      if (waited === 'timeout') return this.runLoader<T, Value>(key, loader, options, null, hardTimeoutMs);
      if (waited !== 'gone') return { value: waited.value, hit: true };
    }
  }

  /** Waits while the lease is `token`'s: the value it stored, 'gone' when it ended without one, 'timeout' past `deadline`. */
  private async waitForFill<Value>(
    key: string,
    token: string,
    deadline: number,
  ): Promise<{ value: Value | null } | 'gone' | 'timeout'> {
    let delay = WAIT_POLL_MIN_MS;
    for (;;) {
      if (performance.now() >= deadline) return 'timeout';
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, WAIT_POLL_MAX_MS);
      let peeked: { text: string | null; lease: string | null };
      try {
        peeked = await peekFill(this.connection.dispatcher(), key);
      } catch (error) {
        failSoft('Cache get error', { key }, undefined)(error);
        return 'timeout';
      }
      if (peeked.text !== null) {
        const cached = this.cached<Value>(peeked.text, key);
        if (cached.hit) return { value: cached.value };
      }
      if (peeked.lease !== token) return 'gone';
    }
  }

  /**
   * Runs the loader, renewing the lease `token` meanwhile (null: no lease, nothing is stored), and
   * stores its value; a loader that fails or answers nothing to store ends the lease at once.
   */
  private async runLoader<T, Value>(
    key: string,
    loader: () => Promise<T> | T,
    options: FillOptions,
    token: string | null,
    hardTimeoutMs: number | undefined,
  ): Promise<GetOrSetResult<Value>> {
    const renewal = token === null ? undefined : this.renewWhileLoading(key, token, options.leaseMs);
    let loaded: T;
    try {
      const loading = Promise.resolve().then(loader);
      loaded = hardTimeoutMs === undefined ? await loading : await within(loading, hardTimeoutMs, key);
    } catch (error) {
      await this.endLease(key, token);
      throw error;
    } finally {
      clearInterval(renewal);
    }
    if (loaded === null || loaded === undefined) {
      const nullText = this.nullText();
      if (token !== null && options.nullTtl !== undefined && nullText !== null) {
        await this.storeFill(key, token, nullText, options.nullTtl);
      } else {
        await this.endLease(key, token);
      }
      return { value: null, hit: false };
    }
    let text: string;
    try {
      text = encode(this.serializer, loaded);
    } catch (error) {
      await this.endLease(key, token);
      failSoft('Cache set error', { key }, undefined)(error);
      return { value: loaded as unknown as Value, hit: false };
    }
    const ttl = options.ttl === undefined ? undefined : options.ttl + options.graceSeconds;
    if (token !== null) await this.storeFill(key, token, text, ttl);
    return { value: this.serializer.parse(text) as Value, hit: false };
  }

  /** Renews the lease every third of its time while the loader runs; the returned timer is cleared after. */
  private renewWhileLoading(key: string, token: string, leaseMs: number): NodeJS.Timeout {
    const timer = setInterval(() => {
      renewLease(this.connection.dispatcher(), key, token, leaseMs).catch((error: unknown) =>
        log('warn', 'Cache fill lease renewal failed', { key, ...describeError(error) }),
      );
    }, leaseMs / 3);
    timer.unref();
    return timer;
  }

  /** Ends the fill's lease, if it has one, so fills waiting on it go on at once. */
  private async endLease(key: string, token: string | null): Promise<void> {
    if (token === null) return;
    await releaseLease(this.connection.dispatcher(), key, token).catch((error: unknown) =>
      log('warn', 'Cache fill lease release failed: waiters take over when it lapses', {
        key,
        ...describeError(error),
      }),
    );
  }

  /** GET and PTTL of a key stored with grace: a hit is stale once less than the grace is left. */
  private lookupAged<T>(
    key: string,
    options: FillOptions,
  ): Promise<{ hit: boolean; value: T | null; stale?: boolean }> {
    const miss = { hit: false, value: null };
    const local = this.local;
    if (local !== undefined) {
      return this.remembered(key).then((found) => {
        const value = found === undefined ? null : (local.valueOf(found) as T | null);
        if (found === undefined || (value === null && found.text !== this.nullText())) return miss;
        return { hit: true, value, stale: found.expiresAt - performance.now() <= options.graceSeconds * 1000 };
      });
    }
    const recover = (error: unknown) => failSoft('Cache get error', { key }, miss)(error);
    return softly(this.connection, recover, (redis) =>
      redis.pipeline(
        [
          ['GET', key],
          ['PTTL', key],
        ],
        false,
        (replies: unknown[]) => {
          const [reply, pttl] = replies;
          if (typeof reply !== 'string') return miss;
          const cached = this.cached<T>(reply, key);
          const stale = typeof pttl === 'number' && pttl >= 0 && pttl <= options.graceSeconds * 1000;
          return cached.hit ? { ...cached, stale } : miss;
        },
        recover,
      ),
    );
  }

  /** The stored text of `null` under this service's serializer; null when the serializer refuses it. */
  private nullText(): string | null {
    if (this.nullTextMemo === undefined) {
      try {
        this.nullTextMemo = encode(this.serializer, null);
      } catch {
        this.nullTextMemo = null;
      }
    }
    return this.nullTextMemo;
  }

  /** GET that tells a stored JSON `null` (a cached "not found") from a missing key; fails soft as a miss. */
  private lookup<T>(key: string): Promise<{ hit: boolean; value: T | null; stale?: boolean }> {
    const miss = { hit: false, value: null };
    const local = this.local;
    if (local !== undefined) {
      return this.remembered(key).then((found) => {
        const value = found === undefined ? null : (local.valueOf(found) as T | null);
        return found === undefined || (value === null && found.text !== this.nullText()) ? miss : { hit: true, value };
      });
    }
    const recover = (error: unknown) => failSoft('Cache get error', { key }, miss)(error);
    return softly(this.connection, recover, (redis) =>
      redis.get(key, (reply) => (reply === null ? miss : this.cached<T>(reply, key)), recover),
    );
  }

  /** The key's live entry in the local tier, if any (none while not connected). */
  private localHit(key: string): LocalEntry | undefined {
    const tracking = this.connection.currentKeyTracking();
    return tracking === undefined ? undefined : (this.local as LocalCache).hit(key, tracking);
  }

  /**
   * The key's entry through the local tier: from memory, or read from Redis with its TTL (and
   * kept); undefined when Redis has no value (or could not answer: logged).
   */
  private remembered(key: string, traced?: OperationEvent): Promise<LocalEntry | undefined> {
    const entry = this.localHit(key);
    if (entry !== undefined) {
      if (traced !== undefined) traced.outcome = 'local-hit';
      return Promise.resolve(entry);
    }
    const local = this.local as LocalCache;
    const recover = failSoft('Cache get error', { key }, undefined, traced);
    return softly(this.connection, recover, (redis) =>
      local.load(key, () => readWithTtl(redis, key)).then(undefined, recover),
    );
  }

  /** A stored text as a hit (a cached `null` included), or a miss when it does not decode. */
  private cached<T>(text: string, key: string): { hit: boolean; value: T | null } {
    const value = decodeOrMiss<T>(this.serializer, text, key);
    return value === null && text !== this.nullText() ? { hit: false, value: null } : { hit: true, value };
  }

  /** The key's lease, taken (or found taken) before a load; null (logged) when Redis cannot give one: the value is then not stored. */
  private async takeLease(key: string, leaseMs: number): Promise<{ token: string; own: boolean } | null> {
    try {
      return await takeLease(this.connection.dispatcher(), key, leaseMs);
    } catch (error) {
      return failSoft('Cache set error', { key }, null)(error);
    }
  }

  private async storeFill(key: string, token: string, text: string, ttl: number | undefined): Promise<void> {
    try {
      const [stored] = await storeFills(this.connection.dispatcher(), [[key, token, text, ttl]]);
      if (!stored) log('debug', 'Cache fill not stored: the key was invalidated during the load', { key });
    } catch (error) {
      failSoft('Cache set error', { key }, undefined)(error);
    }
  }

  private command<R, T>(
    context: string,
    meta: Record<string, unknown>,
    build: () => string[],
    map: (reply: R) => T,
    fallback: T,
  ): Promise<T> {
    let args: string[];
    try {
      args = build();
    } catch (error) {
      return Promise.reject(error);
    }
    const recover = failSoft(context, meta, fallback);
    return softly(this.connection, recover, (redis) => redis.command<T>(args, map, recover));
  }
}

/**
 * After a failed mset some slot groups may have committed (or, after a timeout, all of
 * them, later): deleting every key of the call leaves none holding part of it. Deleting
 * is safe for a cache: a key holding its old value is merely a miss afterwards.
 */
async function undoMset(dispatcher: Dispatcher, keys: string[], answer: boolean): Promise<boolean> {
  try {
    await dispatcher.command(['DEL', ...keys]);
    log('warn', 'Cache mset undone: every key it was given was deleted', { keys: keys.length });
  } catch (undoError) {
    log('error', 'Cache mset undo error: some of its keys may hold the new values', {
      keys: keys.length,
      ...describeError(undoError),
    });
  }
  return answer;
}

const acknowledged = (): boolean => true;

/** GET and PTTL of `key` in one round trip, for the local tier. */
function readWithTtl(redis: Dispatcher, key: string): Promise<Fetched> {
  return redis.pipeline(
    [
      ['GET', key],
      ['PTTL', key],
    ],
    false,
    (replies: unknown[]) => {
      const [text, pttl] = allOrError(replies);
      if (text !== null && typeof text !== 'string') throw unexpectedReply('GET', text);
      return { text: text as string | null, pttl: typeof pttl === 'number' ? pttl : -1 };
    },
  );
}

/** `promise`, or a rejection with ERR_TIMEOUT once `ms` have passed (naming `key` when given). */
function within<T>(promise: Promise<T>, ms: number, key?: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const what = key === undefined ? 'the refresh' : `the loader of ${key}`;
      reject(new RedisLayerError('ERR_TIMEOUT', `${what} took longer than ${ms} ms`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const cacheService = new CacheService();
