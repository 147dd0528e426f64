/**
 * `redis-layer/express-rate-limit`: an express-rate-limit Store on a RedisConnection. Every hit is
 * counted atomically by one script in a fixed window per client (the semantics of the middleware's
 * own MemoryStore and of rate-limit-redis); the middleware decides what to allow.
 */
import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import { redisConnection, type RedisConnection } from '../lib/connection';
import { describeType, positiveOption, requireString } from '../lib/errors';
import { HitCounter, type Hits } from './hit-counter';

export interface RedisRateLimitStoreOptions {
  /** The connection (default: the shared `redisConnection`). */
  connection?: RedisConnection | undefined;
  /** Prefix of the keys, one per client: `<prefix><key>`. @default 'rl:' (rate-limit-redis') */
  prefix?: string | undefined;
}

export class RedisRateLimitStore implements Store {
  readonly prefix: string;
  /** Keys live in Redis, shared by every instance and process. */
  readonly localKeys = false;
  private readonly counter: HitCounter;
  private windowMs = 60_000;

  constructor(options: RedisRateLimitStoreOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`options must be an object, got ${describeType(options)}`);
    }
    this.prefix = options.prefix === undefined ? 'rl:' : requireString(options.prefix, 'options.prefix');
    this.counter = new HitCounter(options.connection ?? redisConnection, this.prefix);
  }

  /** Takes the middleware's window. */
  init(options: Options): void {
    this.windowMs = Math.ceil(positiveOption(options.windowMs, 'windowMs', 'milliseconds'));
  }

  /** Counts the hit; resolves to the hits in the window and when it ends. */
  async increment(key: string): Promise<ClientRateLimitInfo> {
    return info(await this.counter.record(key, this.windowMs));
  }

  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const hits = await this.counter.read(key);
    return hits.hits === 0 ? undefined : info(hits);
  }

  /** Removes exactly one hit (a request the middleware chose not to count). */
  async decrement(key: string): Promise<void> {
    await this.counter.drop(key);
  }

  async resetKey(key: string): Promise<void> {
    await this.counter.reset(key);
  }

  /** Forgets every client under the prefix (SCAN + UNLINK on every master). */
  async resetAll(): Promise<void> {
    await this.counter.resetAll();
  }

  /** The connection is the application's: nothing to release here. */
  async shutdown(): Promise<void> {}
}

function info({ hits, msLeft }: Hits): ClientRateLimitInfo {
  return { totalHits: hits, resetTime: msLeft === undefined ? undefined : new Date(Date.now() + msLeft) };
}
