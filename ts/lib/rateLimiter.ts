import { redisConnection, RedisConnection } from './connection';
import { describeType, requireString } from './errors';
import { CacheKeys } from './keys';
import { describeError, log } from './logger';
import { registerScript } from './native';
import { runCommand, runScript } from './scripts/run';
import { GCRA, SLIDING_LOG } from './scripts/rateLimiter';

export type RateLimitAlgorithm = 'sliding-log' | 'gcra';

export interface RateLimitConfig {
  /** Length of the window in milliseconds (fractions round up). */
  windowMs: number;
  /** Requests allowed per window (an integer >= 1). */
  maxRequests: number;
  /** For the caller's HTTP layer (as the seed); the limiter does not use it. */
  message?: string;
  /**
   * What to answer when Redis cannot be asked: allow (true) or deny (false); either
   * way the result says `degraded: true`. @default true (the seed fails open)
   */
  failOpen?: boolean;
  /**
   * `'sliding-log'`: exact, one sorted-set entry per allowed request (the seed's model).
   * `'gcra'`: the same quota as a burst that refills evenly, O(1) memory per key.
   * @default 'sliding-log'
   */
  algorithm?: RateLimitAlgorithm;
}

export interface RateLimitResult {
  allowed: boolean;
  /** Requests still allowed right now. */
  remaining: number;
  /** Epoch ms (Redis server clock) when the next slot frees up. */
  resetTime: number;
  /** How long a denied caller should wait; 0 when allowed. */
  retryAfterMs: number;
  /** True when Redis could not be asked and the answer comes from `failOpen`. */
  degraded: boolean;
}

const scripts = { 'sliding-log': registerScript(SLIDING_LOG), gcra: registerScript(GCRA) };

/** A fail-closed caller retries soon: outages are usually short, windows may be long. */
const DEGRADED_RETRY_MS = 1000;

interface Checked {
  windowMs: number;
  maxRequests: number;
  failOpen: boolean;
  algorithm: RateLimitAlgorithm;
}

function validate(config: unknown): Checked {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new TypeError(`config must be an object, got ${describeType(config)}`);
  }
  const { windowMs, maxRequests, failOpen, algorithm } = config as Record<string, unknown>;
  if (typeof windowMs !== 'number') throw new TypeError(`config.windowMs must be a number, got ${describeType(windowMs)}`);
  if (!Number.isFinite(windowMs) || windowMs <= 0 || windowMs > 2 ** 31) {
    throw new RangeError(`config.windowMs must be a positive number of milliseconds up to 2^31, got ${windowMs}`);
  }
  if (typeof maxRequests !== 'number') {
    throw new TypeError(`config.maxRequests must be a number, got ${describeType(maxRequests)}`);
  }
  if (!Number.isInteger(maxRequests) || maxRequests < 1) {
    throw new RangeError(`config.maxRequests must be an integer >= 1, got ${maxRequests}`);
  }
  if (failOpen !== undefined && typeof failOpen !== 'boolean') {
    throw new TypeError(`config.failOpen must be a boolean, got ${describeType(failOpen)}`);
  }
  if (algorithm !== undefined && algorithm !== 'sliding-log' && algorithm !== 'gcra') {
    throw new RangeError(`config.algorithm must be 'sliding-log' or 'gcra', got ${String(algorithm)}`);
  }
  return {
    windowMs: Math.ceil(windowMs),
    maxRequests,
    failOpen: failOpen ?? true,
    algorithm: (algorithm as RateLimitAlgorithm | undefined) ?? 'sliding-log',
  };
}

/**
 * The seed's RateLimiter with the check-and-record done in one Lua step, so exactly
 * `maxRequests` calls pass per window however many run at once.
 */
export class RateLimiter {
  private readonly connection: RedisConnection;

  constructor(connection?: RedisConnection) {
    this.connection = connection ?? redisConnection;
  }

  async checkLimit(identifier: string, type: string, config: RateLimitConfig): Promise<RateLimitResult> {
    requireString(identifier, 'identifier');
    requireString(type, 'type');
    const checked = validate(config);
    const { windowMs, maxRequests, algorithm } = checked;
    let reply: [number, number, string, string];
    try {
      reply = await runScript(this.connection, scripts[algorithm], [CacheKeys.rateLimit(type, identifier)], [
        String(windowMs),
        String(maxRequests),
      ]);
    } catch (error) {
      log('error', 'Rate limiter error', { identifier, type, failOpen: checked.failOpen, ...describeError(error) });
      return degraded(checked);
    }
    const [allowedFlag, count, slotText, nowText] = reply;
    const now = Number(nowText);
    const allowed = allowedFlag === 1;
    const remaining = algorithm === 'gcra' ? count : Math.max(0, maxRequests - count);
    const nextSlot = algorithm === 'gcra' ? Number(slotText) : Number(slotText) + windowMs;
    const resetTime = Math.ceil(nextSlot);
    const retryAfterMs = allowed ? 0 : Math.max(1, Math.ceil(nextSlot - now));
    if (!allowed) log('warn', 'Rate limit exceeded', { identifier, type, currentCount: algorithm === 'gcra' ? maxRequests : count });
    return { allowed, remaining, resetTime, retryAfterMs, degraded: false };
  }

  /** Forgets the identifier's history; resolves true when there was one (Redis trouble: logged, false). (`R` is for code typed against the seed's `Promise<void>`; leave it out.) */
  resetLimit<R extends boolean | void = boolean>(identifier: string, type: string): Promise<R>;
  async resetLimit(identifier: string, type: string): Promise<boolean> {
    requireString(identifier, 'identifier');
    requireString(type, 'type');
    try {
      return (await runCommand<number>(this.connection, ['DEL', CacheKeys.rateLimit(type, identifier)])) === 1;
    } catch (error) {
      log('error', 'Rate limiter reset error', { identifier, type, ...describeError(error) });
      return false;
    }
  }
}

function degraded({ windowMs, maxRequests, failOpen }: Checked): RateLimitResult {
  const now = Date.now();
  return failOpen
    ? { allowed: true, remaining: maxRequests, resetTime: now + windowMs, retryAfterMs: 0, degraded: true }
    : {
        allowed: false,
        remaining: 0,
        resetTime: now + Math.min(windowMs, DEGRADED_RETRY_MS),
        retryAfterMs: Math.min(windowMs, DEGRADED_RETRY_MS),
        degraded: true,
      };
}

export const rateLimiter = new RateLimiter();
