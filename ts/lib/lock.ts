import { randomBytes } from 'node:crypto';
import { redisConnection, type RedisConnection } from './connection';
import { describeType, RedisLayerError, requireString, unexpectedReply } from './errors';
import { CacheKeys } from './keys';
import { describeError, log } from './logger';
import { replicaSettings, requireReplicated } from './access';
import { registerScript } from './native';
import { LOCK_ACQUIRE, LOCK_EXTEND, LOCK_RELEASE } from './scripts/lock';
import { sameSlotKey } from './slot';
import { performance } from 'node:perf_hooks';
import { traceOperation, tracingOperations } from './telemetry';

export interface AcquireOptions {
  /** Keep retrying this long while the lock is held by someone else. @default 0 */
  waitMs?: number | undefined;
}

export interface UsingOptions extends AcquireOptions {
  /**
   * The signal aborts this long before the lock could expire, as far as this process last
   * confirmed it: time for the callback to stop before a successor can hold the lock.
   * @default a fifth of ttlMs, at least 1 ms
   */
  safetyMarginMs?: number | undefined;
}

export interface LockServiceOptions {
  /**
   * `acquire` hands a lock out only once every replica online on the lock's master, and
   * at least this many, acknowledged the grant (Redis WAIT). Set it to the number of
   * replicas to cover a failover to one that was offline at the grant. @default 0
   */
  waitForReplicas?: number | undefined;
  /**
   * How long `acquire` waits for those acknowledgements (WAIT holds the command socket
   * meanwhile). When they do not all come, the lock is released and `acquire` rejects
   * with ERR_NOT_REPLICATED. @default 200
   */
  replicaTimeoutMs?: number | undefined;
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

/** The acquire script's grant: [fencing token, replicas online on the master]; anything else is an error, never NaN. */
function grantOf(reply: unknown): [fence: number, replicas: number] {
  if (Array.isArray(reply) && reply.length === 2) {
    const [text, replicas] = reply as unknown[];
    const fence = typeof text === 'string' && /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (
      Number.isSafeInteger(fence) &&
      typeof replicas === 'number' &&
      Number.isSafeInteger(replicas) &&
      replicas >= 0
    ) {
      return [fence, replicas];
    }
  }
  throw unexpectedReply('lock acquire', reply);
}

/** Release and extend answer 1 (done) or 0 (not the holder). */
function doneOf(what: string) {
  return (reply: unknown): boolean => {
    if (reply !== 0 && reply !== 1) throw unexpectedReply(what, reply);
    return reply === 1;
  };
}

async function releaseToken(connection: RedisConnection, resource: string, token: string): Promise<boolean> {
  return connection.dispatcher().script(scripts.release, [CacheKeys.lock(resource)], [token], doneOf('lock release'));
}

function requireMs(value: unknown, name: string, allowZero: boolean): number {
  if (typeof value !== 'number')
    throw new TypeError(`${name} must be a number of milliseconds, got ${describeType(value)}`);
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0) || value > 2 ** 31) {
    throw new RangeError(
      `${name} must be a ${allowZero ? 'non-negative' : 'positive'} number of milliseconds up to 2^31, got ${value}`,
    );
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
  release(): Promise<boolean> {
    if (!tracingOperations()) return releaseToken(this.connection, this.resource, this.token);
    return this.traced('release', () => releaseToken(this.connection, this.resource, this.token));
  }

  /** Sets the remaining time to `ttlMs`; false when the lock is no longer ours. */
  extend(ttlMs: number): Promise<boolean> {
    const extend = async () => {
      const ttl = requireMs(ttlMs, 'ttlMs', false);
      return this.connection
        .dispatcher()
        .script(scripts.extend, [CacheKeys.lock(this.resource)], [this.token, String(ttl)], doneOf('lock extend'));
    };
    return tracingOperations() ? this.traced('extend', extend) : extend();
  }

  private traced(operation: string, work: () => Promise<boolean>): Promise<boolean> {
    return traceOperation({ service: 'lock', operation, keyGroup: 'lock', fencingToken: this.fencingToken }, (event) =>
      work().then((done) => {
        event.outcome = done ? (operation === 'release' ? 'released' : 'extended') : 'lost';
        return done;
      }),
    );
  }
}

/**
 * Distributed mutual exclusion on `lock:<resource>` (SET NX PX with a random token).
 * Redis trouble rejects: a lock never "fails open". A lock is handed out only once its
 * fencing token is on every replica online on the master, so a failover to one of them
 * continues the token sequence.
 */
export class LockService {
  private readonly connection: RedisConnection;
  private readonly waitForReplicas: number;
  private readonly replicaTimeoutMs: number;

  constructor(connection?: RedisConnection, options?: LockServiceOptions) {
    this.connection = connection ?? redisConnection;
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw new TypeError(`options must be an object, got ${describeType(options)}`);
    }
    ({ waitForReplicas: this.waitForReplicas, replicaTimeoutMs: this.replicaTimeoutMs } = replicaSettings(options));
  }

  /** The lock, or null when someone else still holds it after `waitMs`. */
  acquire(resource: string, ttlMs: number, options: AcquireOptions = {}): Promise<Lock | null> {
    if (!tracingOperations()) return this.take(resource, ttlMs, options);
    return traceOperation({ service: 'lock', operation: 'acquire', keyGroup: 'lock' }, (event) =>
      this.take(resource, ttlMs, options).then((lock) => {
        event.waitMs = performance.now() - event.calledAt;
        event.outcome = lock === null ? 'busy' : 'acquired';
        if (lock !== null) event.fencingToken = lock.fencingToken;
        return lock;
      }),
    );
  }

  private async take(resource: string, ttlMs: number, options: AcquireOptions): Promise<Lock | null> {
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
      const grant = await this.connection
        .dispatcher()
        .script<unknown>(
          scripts.acquire,
          [CacheKeys.lock(resource), lockFenceKey(resource)],
          [token, String(ttl), String(Math.max(FENCE_TTL_MS, ttl))],
        );
      if (grant !== null) return this.handOut(resource, token, grant);
      const left = deadline - Date.now();
      if (left <= 0) return null;
      // Jitter keeps waiters from retrying in lockstep.
      await new Promise((resolve) => setTimeout(resolve, Math.min(left, delay / 2 + Math.random() * delay)));
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
  }

  /**
   * The granted lock, once its fencing token is on every online replica (and at least
   * waitForReplicas). A grant that cannot be handed out (an unexpected reply, replicas
   * behind) is released, not left to its TTL.
   */
  private async handOut(resource: string, token: string, grant: unknown): Promise<Lock> {
    try {
      const [fence, online] = grantOf(grant);
      const replicas = Math.max(online, this.waitForReplicas);
      if (replicas > 0) {
        await requireReplicated(
          this.connection,
          CacheKeys.lock(resource),
          replicas,
          this.replicaTimeoutMs,
          `lock on ${resource}: the grant`,
        );
      }
      return new Lock(this.connection, resource, token, fence);
    } catch (error) {
      await releaseToken(this.connection, resource, token).catch((releaseError) =>
        log('error', 'Lock release error', { resource, ...describeError(releaseError) }),
      );
      throw error;
    }
  }

  /**
   * Runs `fn` holding the lock, extending it every third of `ttlMs` while `fn` runs, and releases it
   * however `fn` ends (its error is rethrown). `signal` aborts, with an ERR_LOCK_LOST error as its
   * reason, `safetyMarginMs` before the lock could expire when it was not extended in time (Redis
   * slow or down, or this thread blocked), and at once when an extend finds the lock taken over:
   * stop then, since a successor may soon hold it (with a higher fencing token). Rejects with
   * ERR_LOCK_BUSY when the lock cannot be had within `waitMs`.
   */
  async using<R>(
    resource: string,
    ttlMs: number,
    fn: (signal: AbortSignal, lock: Lock) => Promise<R> | R,
    options: UsingOptions = {},
  ): Promise<R> {
    if (typeof fn !== 'function') throw new TypeError(`fn must be a function, got ${describeType(fn)}`);
    const ttl = requireMs(ttlMs, 'ttlMs', false);
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`options must be an object, got ${describeType(options)}`);
    }
    const margin =
      options.safetyMarginMs === undefined
        ? Math.max(1, Math.floor(ttl / 5))
        : requireMs(options.safetyMarginMs, 'options.safetyMarginMs', false);
    if (margin >= ttl) {
      throw new RangeError(`options.safetyMarginMs must be less than ttlMs (${ttl}), got ${margin}`);
    }
    const requested = performance.now();
    const lock = await this.acquireOrBusy(resource, ttl, options);
    const keeper = new LockKeeper(lock, ttl, margin, requested);
    try {
      return await fn(keeper.signal, lock);
    } finally {
      keeper.stop();
      await this.releaseAfterWork(lock);
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
    const lock = await this.acquireOrBusy(resource, ttlMs, options);
    try {
      return await fn(lock);
    } finally {
      await this.releaseAfterWork(lock);
    }
  }

  /** The lock, or ERR_LOCK_BUSY when someone else still holds it after `waitMs`. */
  private async acquireOrBusy(resource: string, ttlMs: number, options: AcquireOptions | undefined): Promise<Lock> {
    const lock = await this.acquire(resource, ttlMs, options);
    if (lock === null) throw new RedisLayerError('ERR_LOCK_BUSY', `lock on ${resource} is held by someone else`);
    return lock;
  }

  /** The work is done either way; a failed release only means the lock lapses at its TTL. */
  private releaseAfterWork(lock: Lock): Promise<void> {
    const { resource } = lock;
    return lock.release().then(
      (released) => {
        if (!released) log('warn', 'Lock expired before release', { resource });
      },
      (error) => log('error', 'Lock release error', { resource, ...describeError(error) }),
    );
  }
}

/**
 * Keeps a lock for `using`: extends it every third of its TTL, and aborts `signal` once the lock
 * could expire within the margin. The lock's expiry is counted from when each successful extend was
 * sent (Redis sets it later), so this side never believes it longer than Redis does.
 */
class LockKeeper {
  private readonly controller = new AbortController();
  /** `performance.now()` by which the lock may have expired. */
  private validUntil: number;
  private extendTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly lock: Lock,
    private readonly ttl: number,
    private readonly margin: number,
    requested: number,
  ) {
    this.validUntil = requested + ttl;
    this.arm();
    this.scheduleExtend(ttl / 3);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.extendTimer);
    clearTimeout(this.watchdog);
  }

  private scheduleExtend(delay: number): void {
    this.extendTimer = setTimeout(() => void this.extend(), delay);
    this.extendTimer.unref();
  }

  private async extend(): Promise<void> {
    const sentAt = performance.now();
    let held: boolean;
    try {
      held = await this.lock.extend(this.ttl);
    } catch (error) {
      if (this.stopped) return;
      log('warn', 'Lock extend failed', { resource: this.lock.resource, ...describeError(error) });
      this.scheduleExtend(Math.max(1, this.ttl / 10));
      return;
    }
    if (this.stopped) return;
    if (!held) {
      this.abort(`lock on ${this.lock.resource} was lost: it expired or was taken over`);
      return;
    }
    this.validUntil = sentAt + this.ttl;
    this.arm();
    this.scheduleExtend(this.ttl / 3);
  }

  /** Checks again when the lock could next come within the margin of expiring. */
  private arm(): void {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.check(), Math.max(0, this.validUntil - this.margin - performance.now()));
    this.watchdog.unref();
  }

  private check(): void {
    if (this.stopped) return;
    if (performance.now() < this.validUntil - this.margin) {
      this.arm();
      return;
    }
    this.abort(`lock on ${this.lock.resource} could expire within ${this.margin} ms: it was not extended in time`);
  }

  private abort(message: string): void {
    this.stop();
    log('warn', 'Lock lost while in use', { resource: this.lock.resource, fencingToken: this.lock.fencingToken });
    this.controller.abort(new RedisLayerError('ERR_LOCK_LOST', message));
  }
}

export const lockService = new LockService();
