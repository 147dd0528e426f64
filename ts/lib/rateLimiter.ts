import { redisConnection, type RedisConnection } from './connection';
import type { Dispatcher } from './dispatcher';
import { RedisLayerError, describeType, fromNative, positiveOption, requireString } from './errors';
import { CacheKeys } from './keys';
import { log, redactedTag } from './logger';
import { failSoft } from './access';
import { registerScript } from './native';
import { GCRA, SLIDING_LOG } from './scripts/rateLimiter';
import { slotOf } from './slot';
import { traceOperation, tracingOperations } from './telemetry';

export type RateLimitAlgorithm = 'sliding-log' | 'gcra';

export interface RateLimitConfig {
  /** Length of the window in milliseconds (fractions round up). */
  windowMs: number;
  /**
   * Requests allowed per window (an integer >= 1). Sliding log: in any window of
   * `windowMs`. GCRA: the sustained rate, one request every `windowMs / maxRequests` ms.
   */
  maxRequests: number;
  /** For the caller's HTTP layer (as the seed); the limiter does not use it. */
  message?: string | undefined;
  /**
   * What to answer when Redis cannot be asked: allow (true) or deny (false); either
   * way the result says `degraded: true`. @default true (the seed fails open)
   */
  failOpen?: boolean | undefined;
  /**
   * `'sliding-log'`: at most `maxRequests` in any window of `windowMs`, one sorted-set
   * entry per allowed request (the seed's model).
   * `'gcra'`: up to `burst` at once, refilling by one every `windowMs / maxRequests` ms;
   * O(1) memory per key. It allows up to `burst + maxRequests - 1` in one window of `windowMs`.
   * @default 'sliding-log'
   */
  algorithm?: RateLimitAlgorithm | undefined;
  /**
   * GCRA only (an integer >= 1): how many requests may pass at once. `1` spaces requests
   * evenly, so no window of `windowMs` holds more than `maxRequests`. @default maxRequests
   */
  burst?: number | undefined;
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
  /** Requests that may pass at once: `burst` for GCRA, `maxRequests` for the sliding log. */
  capacity: number;
}

function validate(config: unknown): Checked {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new TypeError(`config must be an object, got ${describeType(config)}`);
  }
  const { windowMs, maxRequests, failOpen, algorithm, burst } = config as Record<string, unknown>;
  if (typeof windowMs !== 'number')
    throw new TypeError(`config.windowMs must be a number, got ${describeType(windowMs)}`);
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
  if (burst !== undefined) {
    if (algorithm !== 'gcra') throw new RangeError(`config.burst applies to algorithm 'gcra' only`);
    if (typeof burst !== 'number') throw new TypeError(`config.burst must be a number, got ${describeType(burst)}`);
    if (!Number.isSafeInteger(burst) || burst < 1)
      throw new RangeError(`config.burst must be an integer >= 1, got ${burst}`);
  }
  return {
    windowMs: Math.ceil(windowMs),
    maxRequests,
    failOpen: failOpen ?? true,
    algorithm: (algorithm as RateLimitAlgorithm | undefined) ?? 'sliding-log',
    capacity: (burst as number | undefined) ?? maxRequests,
  };
}

/**
 * Rate-limit types are code constants that never hold `:`, so a key
 * `rate_limit:<type>:<identifier>` names one (type, identifier) pair: the identifier,
 * which callers often take from a request, may hold anything.
 */
function requireType(type: unknown): string {
  const name = requireString(type, 'type');
  if (name.includes(':')) {
    throw new RangeError(
      `type must not contain ':' (a constant such as 'login'; variable parts go in the identifier), got '${name}'`,
    );
  }
  return name;
}

type ScriptReply = [allowed: boolean, count: number, slot: number, now: number];

/** A finite number, or one sent as text (Lua replies turn fractions into integers, so they travel as strings). */
const isNumeric = (value: unknown): boolean =>
  typeof value === 'number'
    ? Number.isFinite(value)
    : typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value));

/**
 * A script's `{allowed 0|1, count, slot time}` per key and then now, for `keys` keys; any
 * other shape (a socket in a bad state, say) is an error.
 */
function scriptReplies(reply: unknown, keys: number): ScriptReply[] {
  const now = Array.isArray(reply) && reply.length === 3 * keys + 1 ? reply[3 * keys] : undefined;
  if (isNumeric(now)) {
    const list = reply as unknown[];
    const replies: ScriptReply[] = [];
    for (let i = 0; i < 3 * keys; i += 3) {
      const [allowed, count, slot] = [list[i], list[i + 1], list[i + 2]];
      if ((allowed !== 0 && allowed !== 1) || !Number.isSafeInteger(count) || (count as number) < 0 || !isNumeric(slot))
        break;
      replies.push([allowed === 1, count as number, Number(slot), Number(now)]);
    }
    if (replies.length === keys) return replies;
  }
  throw new RedisLayerError(
    'ERR_UNEXPECTED_REPLY',
    `Rate limiter script returned an unexpected reply: ${Array.isArray(reply) ? `an array of ${reply.length}` : describeType(reply)}`,
  );
}

/**
 * Checks in one script call at most. Past a few dozen the shared start-up saves little, and a
 * batch of many callers in one call would look like a lone caller to the I/O thread's
 * busy-poller (src/busy_poll.rs), which would spin for it; several calls keep it off.
 */
const MAX_BATCH = 32;

type Settle = (reply: ScriptReply | Error) => void;

/** The script call checks are being added to, while it is the last call queued on its socket. */
interface OpenBatch {
  redis: Dispatcher;
  id: number;
  algorithm: RateLimitAlgorithm;
  slot: number;
  decisions: Settle[];
}

/**
 * Puts the checks made one after another into one script call per algorithm (per hash slot on a
 * cluster) while no other call was queued in between and the call has not been sent, so a batch
 * shares the script's start-up on the server and nothing overtakes anything: calls reach Redis
 * in the order they were made.
 */
class DecisionBatch {
  private open: OpenBatch | undefined;
  private cluster: { redis: Dispatcher; isCluster: boolean } | undefined;

  constructor(private readonly connection: RedisConnection) {}

  decide(key: string, checked: Checked): Promise<ScriptReply> {
    const redis = this.connection.dispatcher();
    const slot = this.isCluster(redis) ? slotOf(key) : 0;
    const args = [String(checked.windowMs), String(checked.maxRequests), String(checked.capacity)];
    return new Promise((resolve, reject) => {
      const settle: Settle = (reply) => (reply instanceof Error ? reject(reply) : resolve(reply));
      const open = this.open;
      if (
        open !== undefined &&
        open.redis === redis &&
        open.algorithm === checked.algorithm &&
        open.slot === slot &&
        open.decisions.length < MAX_BATCH &&
        redis.extendScript(open.id, [key], args)
      ) {
        open.decisions.push(settle);
        return;
      }
      const decisions = [settle];
      const { id, result } = redis.openScript(scripts[checked.algorithm], [key], args, (reply: unknown) =>
        scriptReplies(reply, decisions.length),
      );
      this.open = { redis, id, algorithm: checked.algorithm, slot, decisions };
      result.then(
        (replies) => {
          for (let i = 0; i < decisions.length; i++) decisions[i](replies[i]);
        },
        (error: unknown) => {
          for (const decision of decisions) decision(fromNative(error));
        },
      );
    });
  }

  private isCluster(redis: Dispatcher): boolean {
    if (this.cluster?.redis !== redis) {
      this.cluster = { redis, isCluster: this.connection.nativeOptions().clusterNodes !== undefined };
    }
    return this.cluster.isCluster;
  }
}

export interface RateLimiterOptions {
  /** Denials are logged one by one at debug and summed per type in one warn line at most this often. @default 10000 */
  denialLogIntervalMs?: number | undefined;
}

/** Counts denials per limit type and logs them as one warn line per interval, so an attack does not flood the log. */
class DenialSummary {
  private readonly counts = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly intervalMs: number) {}

  add(type: string): void {
    this.counts.set(type, (this.counts.get(type) ?? 0) + 1);
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => this.flush(), this.intervalMs);
    // A pending summary never keeps the process alive.
    this.timer.unref();
  }

  private flush(): void {
    this.timer = undefined;
    const denied = Object.fromEntries(this.counts);
    this.counts.clear();
    log('warn', 'Rate limits exceeded', { denied, intervalMs: this.intervalMs });
  }
}

/** RateLimiter's methods with their plain result types, for a test double or a wrapper (see SessionServiceApi). */
export interface RateLimiterApi {
  checkLimit(identifier: string, type: string, config: RateLimitConfig): Promise<RateLimitResult>;
  resetLimit(identifier: string, type: string): Promise<boolean>;
}

/**
 * The seed's RateLimiter with the check-and-record done in one Lua step, so exactly
 * `maxRequests` calls pass per window however many run at once.
 */
export class RateLimiter implements RateLimiterApi {
  private readonly connection: RedisConnection;
  private readonly denials: DenialSummary;
  private readonly batch: DecisionBatch;

  constructor(connection?: RedisConnection, options?: RateLimiterOptions) {
    this.connection = connection ?? redisConnection;
    this.denials = new DenialSummary(
      positiveOption(options?.denialLogIntervalMs, 'options.denialLogIntervalMs', 'milliseconds', 10_000),
    );
    this.batch = new DecisionBatch(this.connection);
  }

  checkLimit(identifier: string, type: string, config: RateLimitConfig): Promise<RateLimitResult> {
    if (!tracingOperations() || typeof type !== 'string') return this.decide(identifier, type, config);
    return traceOperation({ service: 'rate-limit', operation: 'checkLimit', keyGroup: `ratelimit:${type}` }, (event) =>
      this.decide(identifier, type, config).then((result) => {
        event.allowed = result.allowed;
        event.degraded = result.degraded;
        event.outcome = result.degraded ? 'degraded' : result.allowed ? 'allowed' : 'denied';
        return result;
      }),
    );
  }

  private async decide(identifier: string, type: string, config: RateLimitConfig): Promise<RateLimitResult> {
    requireString(identifier, 'identifier');
    requireType(type);
    const checked = validate(config);
    const { windowMs, maxRequests, algorithm, capacity } = checked;
    // Identifiers are often IP addresses or e-mails: logs carry a tag of them, never the value.
    const who = () => ({ identifierTag: redactedTag(identifier), type });
    let reply: ScriptReply;
    try {
      reply = await this.batch.decide(CacheKeys.rateLimit(type, identifier), checked);
    } catch (error) {
      return failSoft('Rate limiter error', { ...who(), failOpen: checked.failOpen }, degraded(checked))(error);
    }
    const [allowed, count, slot, now] = reply;
    const remaining = algorithm === 'gcra' ? count : Math.max(0, maxRequests - count);
    const nextSlot = algorithm === 'gcra' ? slot : slot + windowMs;
    const resetTime = Math.ceil(nextSlot);
    const retryAfterMs = allowed ? 0 : Math.max(1, Math.ceil(nextSlot - now));
    if (!allowed) {
      log('debug', 'Rate limit exceeded', { ...who(), currentCount: algorithm === 'gcra' ? capacity : count });
      this.denials.add(type);
    }
    return { allowed, remaining, resetTime, retryAfterMs, degraded: false };
  }

  /** Forgets the identifier's history; resolves true when there was one (Redis trouble: logged, false). (`R` is for code typed against the seed's `Promise<void>`; leave it out.) */
  resetLimit<R extends boolean | void = boolean>(identifier: string, type: string): Promise<R>;
  async resetLimit(identifier: string, type: string): Promise<boolean> {
    requireString(identifier, 'identifier');
    requireType(type);
    try {
      const deleted = await this.connection
        .dispatcher()
        .command<unknown>(['DEL', CacheKeys.rateLimit(type, identifier)]);
      if (deleted !== 0 && deleted !== 1) {
        throw new RedisLayerError('ERR_UNEXPECTED_REPLY', `DEL returned an unexpected reply: ${describeType(deleted)}`);
      }
      return deleted === 1;
    } catch (error) {
      return failSoft('Rate limiter reset error', { identifierTag: redactedTag(identifier), type }, false)(error);
    }
  }
}

function degraded({ windowMs, capacity, failOpen }: Checked): RateLimitResult {
  const now = Date.now();
  return failOpen
    ? { allowed: true, remaining: capacity, resetTime: now + windowMs, retryAfterMs: 0, degraded: true }
    : {
        allowed: false,
        remaining: 0,
        resetTime: now + Math.min(windowMs, DEGRADED_RETRY_MS),
        retryAfterMs: Math.min(windowMs, DEGRADED_RETRY_MS),
        degraded: true,
      };
}

export const rateLimiter = new RateLimiter();
