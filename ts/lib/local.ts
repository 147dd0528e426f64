import { performance } from 'node:perf_hooks';
import type { Dispatcher, WireArgument } from './dispatcher';
import { describeType, positiveOption } from './errors';
import { log } from './logger';
import type { Subscriber, TrackingNotice } from './subscriber';

/** The local cache tier of a CacheService: values kept in this process, invalidated by Redis. */
export interface LocalCacheOptions {
  /** The most bytes of stored text (values and keys, in UTF-16 code units) kept. @default 67108864 (64 MiB) */
  maxBytes?: number | undefined;
  /** The most entries kept. @default 10000 */
  maxEntries?: number | undefined;
  /** The longest an entry is kept; the key's TTL in Redis bounds it as well. Default: that TTL alone. */
  ttlMs?: number | undefined;
}

export interface LocalCacheStats {
  /** Reads answered from this process. */
  hits: number;
  /** Reads that went to Redis. */
  misses: number;
  /** Entries removed because their key changed (in Redis, or by a write of this process). */
  invalidations: number;
  /** Entries removed to stay within maxEntries / maxBytes. */
  evictions: number;
  /** Times every entry was dropped: tracking lost (a reconnect), FLUSHDB, or invalidations dropped. */
  flushes: number;
  entries: number;
  bytes: number;
}

/** Every local tier of the process, for telemetry's totals; references to collected tiers are pruned as it grows. */
const allCaches = new Set<WeakRef<LocalCache>>();
let pruneAt = 1024;

function register(cache: LocalCache): void {
  allCaches.add(new WeakRef(cache));
  if (allCaches.size < pruneAt) return;
  for (const ref of allCaches) if (ref.deref() === undefined) allCaches.delete(ref);
  pruneAt = Math.max(1024, allCaches.size * 2);
}

/** The stats of every local cache tier in the process, summed (what telemetry reports). */
export function localCacheTotals(): LocalCacheStats {
  const totals: LocalCacheStats = {
    hits: 0,
    misses: 0,
    invalidations: 0,
    evictions: 0,
    flushes: 0,
    entries: 0,
    bytes: 0,
  };
  for (const ref of allCaches) {
    const cache = ref.deref();
    if (cache === undefined) {
      allCaches.delete(ref);
      continue;
    }
    const stats = cache.snapshot();
    for (const name of localCacheStatNames) totals[name] += stats[name];
  }
  return totals;
}

/** Each stat and what it counts, as telemetry describes it. */
export const LOCAL_CACHE_STATS = {
  hits: 'reads answered from memory',
  misses: 'reads that went to Redis',
  invalidations: 'entries removed because their key changed',
  evictions: 'entries removed to stay within maxEntries / maxBytes',
  flushes: 'times every entry was dropped (tracking lost, FLUSHDB, invalidations dropped)',
  entries: 'entries held',
  bytes: 'bytes of text held (values and keys)',
} as const satisfies Record<keyof LocalCacheStats, string>;

/** The stats' names. */
export const localCacheStatNames = Object.keys(LOCAL_CACHE_STATS) as Array<keyof LocalCacheStats>;

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_ENTRIES = 10_000;

/** One cached value, a node of the SIEVE list (newest at `head`). */
export interface LocalEntry {
  readonly key: string;
  /** The value as a hit returns it: frozen and shared, or (for serializers other than JSON) parsed per hit. */
  readonly value: unknown;
  /** The stored text, kept only where a hit needs it: to parse per hit, or to tell a stored `null` from corrupt text. */
  readonly text: string | undefined;
  readonly size: number;
  /** performance.now() past which the entry is gone (Redis' TTL or ttlMs, whichever is sooner). */
  readonly expiresAt: number;
  visited: boolean;
  prev: LocalEntry | undefined;
  next: LocalEntry | undefined;
}

/** A read of a key from Redis in flight: an invalidation meanwhile marks it, and its result is not kept. */
interface Read {
  promise: Promise<LocalEntry | undefined>;
  stale: boolean;
}

/** What a read from Redis brings back: the stored text and its PTTL (-1: no expiry, -2: gone). */
export type Fetched = { text: string | null; pttl: number };

/**
 * A service's values kept in this process, bounded by entries and bytes, evicted by SIEVE
 * (a hit only marks its entry, and eviction passes over marked entries once, so keys being
 * read stay while a scan of cold keys goes through). Kept honest by the connection's
 * `KeyTracking`: an entry goes when Redis says its key changed, every entry goes when
 * tracking is lost, and nothing is served until tracking is on again.
 */
export class LocalCache {
  private entries = new Map<string, LocalEntry>();
  /** The entries as they were when tracking was lost: never hits, only a fallback within grace while Redis is away. */
  private lastGood = new Map<string, LocalEntry>();
  private readonly reads = new Map<string, Read>();
  private head: LocalEntry | undefined;
  private tail: LocalEntry | undefined;
  private hand: LocalEntry | undefined;
  private bytes = 0;
  private readonly maxBytes: number;
  private readonly maxEntries: number;
  private readonly ttlMs: number;
  private tracking: KeyTracking | undefined;
  private readonly stats = { hits: 0, misses: 0, invalidations: 0, evictions: 0, flushes: 0 };

  /**
   * `decode` turns stored text into the value a hit returns (throwing for text that does not
   * decode); `shared` says that value may be handed to every caller (it is frozen).
   */
  constructor(
    options: LocalCacheOptions,
    private readonly decode: (text: string, key: string) => unknown,
    private readonly shared: boolean,
  ) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`options.local must be an object, got ${describeType(options)}`);
    }
    this.maxBytes = positiveOption(options.maxBytes, 'options.local.maxBytes', 'bytes', DEFAULT_MAX_BYTES);
    this.maxEntries = Math.floor(
      positiveOption(options.maxEntries, 'options.local.maxEntries', 'entries', DEFAULT_MAX_ENTRIES),
    );
    this.ttlMs = positiveOption(options.ttlMs, 'options.local.ttlMs', 'milliseconds', Number.POSITIVE_INFINITY);
    register(this);
  }

  /** The live entry of `key`, marked as read; undefined when there is none or tracking is not on. */
  hit(key: string, tracking: KeyTracking): LocalEntry | undefined {
    if (tracking !== this.tracking) this.attach(tracking);
    const entry = this.entries.get(key);
    if (entry === undefined || !tracking.on) return undefined;
    if (entry.expiresAt <= performance.now()) {
      this.remove(entry);
      return undefined;
    }
    entry.visited = true;
    this.stats.hits += 1;
    return entry;
  }

  /** What a hit on `entry` returns. */
  valueOf(entry: LocalEntry): unknown {
    return this.shared ? entry.value : this.decode(entry.text as string, entry.key);
  }

  /**
   * Reads `key` from Redis with `fetch` (one read per key at a time, shared by concurrent
   * misses) and keeps the result unless an invalidation of the key, or a change of the
   * tracking, came while it was in flight. Undefined: not in Redis, or text that does not decode.
   */
  load(key: string, fetch: () => Promise<Fetched>): Promise<LocalEntry | undefined> {
    const pending = this.reads.get(key);
    if (pending !== undefined) return pending.promise;
    this.stats.misses += 1;
    const tracking = this.tracking;
    const started = performance.now();
    const read: Read = { promise: undefined as unknown as Promise<LocalEntry | undefined>, stale: !tracking?.on };
    read.promise = fetch().then(({ text, pttl }) => {
      if (this.reads.get(key) === read) this.reads.delete(key);
      if (text === null || pttl === -2) return undefined;
      let value: unknown;
      try {
        value = this.decode(text, key);
      } catch {
        return undefined;
      }
      if (this.shared) deepFreeze(value);
      const expiresAt = Math.min(pttl >= 0 ? started + pttl : Number.POSITIVE_INFINITY, started + this.ttlMs);
      const entry: LocalEntry = {
        key,
        value,
        text: this.shared && value !== null ? undefined : text,
        size: key.length + text.length,
        expiresAt,
        visited: false,
        prev: undefined,
        next: undefined,
      };
      if (!read.stale && tracking === this.tracking && tracking?.on === true && tracking.covers(key)) {
        this.insert(entry);
      }
      return entry;
    });
    this.reads.set(key, read);
    read.promise.catch(() => {
      if (this.reads.get(key) === read) this.reads.delete(key);
    });
    return read.promise;
  }

  /** The entry `key` had when tracking was lost, while still within its time in Redis (TTL and grace). */
  fallback(key: string): LocalEntry | undefined {
    const entry = this.lastGood.get(key);
    return entry !== undefined && entry.expiresAt > performance.now() ? entry : undefined;
  }

  /** Forgets `key`: its entry, and the result of any read of it in flight. */
  invalidate(key: string): void {
    this.lastGood.delete(key);
    const read = this.reads.get(key);
    if (read !== undefined) {
      read.stale = true;
      this.reads.delete(key);
    }
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      this.remove(entry);
      this.stats.invalidations += 1;
    }
  }

  /** Forgets everything, reads in flight included; `keepLastGood` keeps the entries as a fallback (see `fallback`). */
  flush(keepLastGood = false): void {
    for (const read of this.reads.values()) read.stale = true;
    this.reads.clear();
    if (keepLastGood) {
      for (const [key, entry] of this.entries) this.lastGood.set(key, entry);
    } else {
      this.lastGood.clear();
    }
    this.entries = new Map();
    this.head = this.tail = this.hand = undefined;
    this.bytes = 0;
    this.stats.flushes += 1;
  }

  snapshot(): LocalCacheStats {
    return { ...this.stats, entries: this.entries.size, bytes: this.bytes };
  }

  /** Follows the tracking of the connection's current sockets; a new one starts from nothing. */
  private attach(tracking: KeyTracking): void {
    if (this.tracking !== undefined) this.flush();
    this.tracking = tracking;
    tracking.add(this);
  }

  private insert(entry: LocalEntry): void {
    if (entry.size > this.maxBytes) return;
    const old = this.entries.get(entry.key);
    if (old !== undefined) this.remove(old);
    while (this.entries.size > 0 && (this.entries.size >= this.maxEntries || this.bytes + entry.size > this.maxBytes)) {
      this.evict();
    }
    entry.next = this.head;
    if (this.head !== undefined) this.head.prev = entry;
    this.head = entry;
    this.tail ??= entry;
    this.entries.set(entry.key, entry);
    this.bytes += entry.size;
  }

  /** SIEVE: from the hand towards the newest, clears marks until an unmarked entry, which goes. */
  private evict(): void {
    let node = this.hand ?? this.tail;
    while (node?.visited) {
      node.visited = false;
      node = node.prev ?? this.tail;
    }
    if (node === undefined) return;
    this.hand = node.prev;
    this.remove(node);
    this.stats.evictions += 1;
  }

  private remove(entry: LocalEntry): void {
    if (this.entries.get(entry.key) !== entry) return;
    this.entries.delete(entry.key);
    this.bytes -= entry.size;
    if (this.hand === entry) this.hand = entry.prev;
    if (entry.prev !== undefined) entry.prev.next = entry.next;
    else this.head = entry.next;
    if (entry.next !== undefined) entry.next.prev = entry.prev;
    else this.tail = entry.prev;
    entry.prev = entry.next = undefined;
  }
}

/**
 * Key tracking for one set of sockets: `CLIENT TRACKING ON BCAST` on the subscriber socket
 * (Redis pushes every changed key there) and the command socket's own writes, both
 * forgotten in every LocalCache of the connection. `on` only between the tracking's `on`
 * notice and its loss.
 */
export class KeyTracking {
  on = false;
  private readonly caches = new Set<WeakRef<LocalCache>>();

  /** `prefixes`: the keys tracked (and so the only ones a tier keeps); empty: every key. */
  constructor(
    dispatcher: Dispatcher,
    subscriber: Subscriber,
    private readonly prefixes: readonly string[],
  ) {
    dispatcher.changes = (key) => this.forget(key);
    subscriber
      .track([...prefixes], (notice, key) => this.notice(notice, key))
      .catch((error: unknown) =>
        log('warn', 'Local cache tier off: key tracking could not start', {
          message: (error as Error)?.message,
        }),
      );
  }

  /** Whether Redis reports changes of `key` here. */
  covers(key: string): boolean {
    return this.prefixes.length === 0 || this.prefixes.some((prefix) => key.startsWith(prefix));
  }

  add(cache: LocalCache): void {
    this.caches.add(new WeakRef(cache));
  }

  /** A key a call of this process may change, or Redis said changed (null: any key). */
  forget(key: WireArgument | null): void {
    if (key === null) this.each((cache) => cache.flush());
    else if (typeof key === 'string') this.each((cache) => cache.invalidate(key));
  }

  private notice(notice: TrackingNotice, key: string | null): void {
    switch (notice) {
      case 'key':
        if (key !== null) this.forget(key);
        return;
      case 'lost':
        this.on = false;
        this.each((cache) => cache.flush(true));
        return;
      case 'flush':
        this.each((cache) => cache.flush());
        return;
      case 'on':
        this.each((cache) => cache.flush());
        this.on = true;
        return;
    }
  }

  private each(visit: (cache: LocalCache) => void): void {
    for (const ref of this.caches) {
      const cache = ref.deref();
      if (cache === undefined) this.caches.delete(ref);
      else visit(cache);
    }
  }
}

/** Freezes a parsed JSON value and everything in it, so callers sharing it cannot change it. */
function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
}
