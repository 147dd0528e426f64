import type { RedisClient } from './client';
import { redisConnection, RedisConnection } from './connection';
import { optionalTtl, rejectWith, requireString, requireStringArray, describeType } from './errors';
import { fromJson, toJson } from './json';
import { describeError, log } from './logger';

/**
 * The seed's CacheService: JSON values under the caller's keys, failing soft
 * (a Redis error or a corrupt value is logged and answered with null / false / -1 / 0).
 */
export class CacheService {
  private readonly connection: RedisConnection;
  private readonly loading = new Map<string, { flight?: Promise<unknown> }>();

  constructor(connection?: RedisConnection) {
    this.connection = connection ?? redisConnection;
  }

  get<T>(key: string): Promise<T | null> {
    if (typeof key !== 'string') return rejectWith(() => requireString(key, 'key')) as Promise<never>;
    const client = this.client('Cache get error', { key });
    if (!client) return Promise.resolve(null);
    const { dispatcher } = client;
    return dispatcher.get<T | null>(
      key,
      (reply) => parseOrMiss<T>(reply, key),
      (error) => {
        log('error', 'Cache get error', { key, ...describeError(error) });
        return null;
      },
    );
  }

  set<T>(key: string, value: T, ttlSeconds?: number): Promise<boolean> {
    if (typeof key !== 'string') return rejectWith(() => requireString(key, 'key')) as Promise<never>;
    let ttl: number | undefined;
    let text: string;
    try {
      ttl = optionalTtl(ttlSeconds, 'ttlSeconds');
    } catch (error) {
      return Promise.reject(error);
    }
    try {
      text = toJson(value);
    } catch (error) {
      log('error', 'Cache set error', { key, ...describeError(error) });
      return Promise.resolve(false);
    }
    const client = this.client('Cache set error', { key });
    if (!client) return Promise.resolve(false);
    const { dispatcher } = client;
    return dispatcher.set<boolean>(
      key,
      text,
      ttl,
      () => true,
      (error) => {
        log('error', 'Cache set error', { key, ...describeError(error) });
        return false;
      },
    );
  }

  del(key: string): Promise<boolean> {
    return this.command('Cache delete error', { key }, () => ['DEL', requireString(key, 'key')], (n: number) => n > 0, false);
  }

  exists(key: string): Promise<boolean> {
    return this.command('Cache exists error', { key }, () => ['EXISTS', requireString(key, 'key')], (n: number) => n === 1, false);
  }

  mget<T>(keys: string[]): Promise<(T | null)[]> {
    let list: string[];
    try {
      list = requireStringArray(keys, 'keys');
    } catch (error) {
      return Promise.reject(error);
    }
    if (list.length === 0) return Promise.resolve([]);
    const client = this.client('Cache mget error', { keys: list.length });
    const misses = () => list.map(() => null);
    const fail = (error: unknown) => {
      log('error', 'Cache mget error', { keys: list.length, ...describeError(error) });
      return misses();
    };
    if (!client) return Promise.resolve(misses());
    const { dispatcher } = client;
    return dispatcher.run(
      (id) => dispatcher.native.jsonArray(id, ['MGET', ...list]),
      ([text, unchecked]: [string, unknown[]]) => {
        let values: (T | null)[];
        try {
          values = JSON.parse(text) as (T | null)[];
        } catch (error) {
          // Each spliced value passed a strict JSON check natively; V8 disagreeing is a bug.
          return fail(error);
        }
        for (let i = 0; i < unchecked.length; i += 2) {
          const index = unchecked[i] as number;
          values[index] = parseOrMiss<T>(unchecked[i + 1], list[index]);
        }
        return values;
      },
      fail,
    );
  }

  /** Writes all pairs; with a TTL, atomically (MULTI/EXEC of SET … EX), so no key is ever left without one. */
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
    const entries: Array<[string, string]> = [];
    try {
      for (const [key, value] of Object.entries(keyValuePairs)) entries.push([key, toJson(value, `keyValuePairs.${key}`)]);
    } catch (error) {
      log('error', 'Cache mset error', describeError(error));
      return Promise.resolve(false);
    }
    if (entries.length === 0) return Promise.resolve(true);
    const client = this.client('Cache mset error', {});
    if (!client) return Promise.resolve(false);
    const { dispatcher } = client;
    const recover = (error: Error) => {
      log('error', 'Cache mset error', describeError(error));
      return false;
    };
    if (ttl === undefined) {
      return dispatcher.command(['MSET', ...entries.flat()], () => true, recover);
    }
    const commands = entries.map(([key, text]) => ['SET', key, text, 'EX', String(ttl)]);
    return dispatcher.run(
      (id) => dispatcher.native.pipeline(id, commands, true),
      (replies: unknown[]) => {
        const failed = replies.find((reply) => reply !== 'OK');
        if (failed !== undefined) return recover(new Error(`SET in MSET transaction failed: ${String((failed as Error)?.message ?? failed)}`));
        return true;
      },
      recover,
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
    return this.command('Cache ttl error', { key }, () => ['TTL', requireString(key, 'key')], (n: number) => n, -1);
  }

  /** Deletes the keys matching a glob with SCAN + UNLINK in batches (never KEYS); resolves to the count. */
  flushPattern(pattern: string): Promise<number> {
    if (typeof pattern !== 'string') return rejectWith(() => requireString(pattern, 'pattern')) as Promise<never>;
    const client = this.client('Cache flush pattern error', { pattern });
    if (!client) return Promise.resolve(0);
    const { dispatcher } = client;
    return dispatcher.run<number>(
      (id) => dispatcher.native.scanDelete(id, pattern, 1000),
      (count) => count,
      (error) => {
        log('error', 'Cache flush pattern error', { pattern, ...describeError(error) });
        return 0;
      },
    );
  }

  /**
   * Cache-aside with single flight: concurrent misses on one key run `loader` once
   * and share its value; a loader error rejects every waiter and caches nothing.
   */
  getOrSet<T>(key: string, loader: () => Promise<T> | T, ttlSeconds?: number): Promise<T> {
    try {
      requireString(key, 'key');
      if (typeof loader !== 'function') throw new TypeError(`loader must be a function, got ${describeType(loader)}`);
      optionalTtl(ttlSeconds, 'ttlSeconds');
    } catch (error) {
      return Promise.reject(error);
    }
    const running = this.loading.get(key)?.flight;
    if (running) return running as Promise<T>;
    // The map holds a holder that forgets the flight when it lands: a churning Map's
    // rehashed-away stores keep pointing at old entries (see PendingTable), and through
    // the promise they would keep every loaded value alive until the next full GC.
    const holder: { flight?: Promise<unknown> } = {};
    const flight = (async () => {
      const cached = await this.get<T>(key);
      if (cached !== null) return cached;
      const value = await loader();
      await this.set(key, value, ttlSeconds);
      return value;
    })().finally(() => {
      holder.flight = undefined;
      this.loading.delete(key);
    });
    holder.flight = flight;
    this.loading.set(key, holder);
    return flight;
  }

  /** @internal The command client, or null (logged) while not connected. */
  client(context: string, meta: Record<string, unknown>): RedisClient | null {
    try {
      return this.connection.getClient();
    } catch (error) {
      log('error', context, { ...meta, ...describeError(error) });
      return null;
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
    const client = this.client(context, meta);
    if (!client) return Promise.resolve(fallback);
    const { dispatcher } = client;
    return dispatcher.command<T>(
      args,
      map,
      (error) => {
        log('error', context, { ...meta, ...describeError(error) });
        return fallback;
      },
    );
  }
}

function parseOrMiss<T>(reply: unknown, key: string): T | null {
  try {
    return fromJson<T>(reply);
  } catch (error) {
    log('warn', 'Cache get error: stored value is not JSON, treated as a miss', { key, ...describeError(error) });
    return null;
  }
}

export const cacheService = new CacheService();
