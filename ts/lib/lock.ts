import { randomBytes } from 'node:crypto';
import { redisConnection, RedisConnection } from './connection';
import { describeType, RedisLayerError, requireString } from './errors';
import { CacheKeys } from './keys';
import { describeError, log } from './logger';
import { registerScript } from './native';
import { runScript } from './scripts/run';
import { LOCK_ACQUIRE, LOCK_EXTEND, LOCK_RELEASE } from './scripts/lock';
import { sameSlotKey } from './scripts/slot';

export interface AcquireOptions {
  /** Keep retrying this long while the lock is held by someone else. @default 0 */
  waitMs?: number;
}

const scripts = {
  acquire: registerScript(LOCK_ACQUIRE),
  release: registerScript(LOCK_RELEASE),
  extend: registerScript(LOCK_EXTEND),
};

/** Fence state outlives any lock; after it expires the server clock keeps tokens growing. */
const FENCE_TTL_MS = 86_400_000;
const RETRY_MIN_MS = 10;
const RETRY_MAX_MS = 200;

/**
 * Key of the fencing counter, `{lock:<resource>}:fence`: in the lock key's hash slot (so
 * acquire is one script on Redis Cluster too) and outside `lock:`, so no resource name
 * can collide with it.
 */
export function lockFenceKey(resource: string): string {
  return sameSlotKey(CacheKeys.lock(resource), ':fence');
}

function requireMs(value: unknown, name: string, allowZero: boolean): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number of milliseconds, got ${describeType(value)}`);
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0) || value > 2 ** 31) {
    throw new RangeError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number of milliseconds up to 2^31, got ${value}`);
  }
  return Math.ceil(value);
}

/** A granted lock. Only this handle's token can release or extend it. */
export class Lock {
  /** @internal */
  constructor(
    private readonly connection: RedisConnection,
    readonly resource: string,
    readonly token: string,
    /** Grows with every grant of this resource: pass it to the storage you protect and reject older ones. */
    readonly fencingToken: number,
  ) {}

  /** Releases the lock; false when it is no longer ours (expired, or taken over since). */
  async release(): Promise<boolean> {
    const done = await runScript<number>(this.connection, scripts.release, [CacheKeys.lock(this.resource)], [this.token]);
    return done === 1;
  }

  /** Sets the remaining time to `ttlMs`; false when the lock is no longer ours. */
  async extend(ttlMs: number): Promise<boolean> {
    const ttl = requireMs(ttlMs, 'ttlMs', false);
    const done = await runScript<number>(this.connection, scripts.extend, [CacheKeys.lock(this.resource)], [
      this.token,
      String(ttl),
    ]);
    return done === 1;
  }
}

/**
 * Distributed mutual exclusion on `lock:<resource>` (SET NX PX with a random token).
 * Redis trouble rejects: a lock never "fails open".
 */
export class LockService {
  private readonly connection: RedisConnection;

  constructor(connection?: RedisConnection) {
    this.connection = connection ?? redisConnection;
  }

  /** The lock, or null when someone else still holds it after `waitMs`. */
  async acquire(resource: string, ttlMs: number, options: AcquireOptions = {}): Promise<Lock | null> {
    requireString(resource, 'resource');
    const ttl = requireMs(ttlMs, 'ttlMs', false);
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`options must be an object, got ${describeType(options)}`);
    }
    const waitMs = options.waitMs === undefined ? 0 : requireMs(options.waitMs, 'options.waitMs', true);
    const deadline = Date.now() + waitMs;
    let delay = RETRY_MIN_MS;
    for (;;) {
      const token = randomBytes(16).toString('base64url');
      const fence = await runScript<string | null>(
        this.connection,
        scripts.acquire,
        [CacheKeys.lock(resource), lockFenceKey(resource)],
        [token, String(ttl), String(Math.max(FENCE_TTL_MS, ttl))],
      );
      if (fence !== null) return new Lock(this.connection, resource, token, Number(fence));
      const left = deadline - Date.now();
      if (left <= 0) return null;
      // Jitter keeps waiters from retrying in lockstep.
      await new Promise((resolve) => setTimeout(resolve, Math.min(left, delay / 2 + Math.random() * delay)));
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
  }

  /**
   * Runs `fn` holding the lock and releases it however `fn` ends (its error is rethrown).
   * Rejects with code ERR_LOCK_BUSY when the lock cannot be had within `waitMs`.
   */
  async withLock<R>(
    resource: string,
    ttlMs: number,
    fn: (lock: Lock) => Promise<R> | R,
    options?: AcquireOptions,
  ): Promise<R> {
    if (typeof fn !== 'function') throw new TypeError(`fn must be a function, got ${describeType(fn)}`);
    const lock = await this.acquire(resource, ttlMs, options);
    if (lock === null) throw new RedisLayerError('ERR_LOCK_BUSY', `lock on ${resource} is held by someone else`);
    try {
      return await fn(lock);
    } finally {
      // The work is done either way; a failed release only means the lock lapses at its TTL.
      await lock.release().then(
        (released) => {
          if (!released) log('warn', 'Lock expired before release', { resource });
        },
        (error) => log('error', 'Lock release error', { resource, ...describeError(error) }),
      );
    }
  }
}

export const lockService = new LockService();
