/**
 * `redis-layer/express-rate-limit`: an express-rate-limit Store on a RedisConnection. Every hit is
 * counted atomically by one script in a fixed window per client (the semantics of the middleware's
 * own MemoryStore and of rate-limit-redis); the middleware decides what to allow.
 */
import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import { redisConnection, type RedisConnection } from '../lib/connection';
import { describeType, positiveOption, requireString, unexpectedReply } from '../lib/errors';
import { escapeGlob } from '../lib/keys';
import { registerScript } from '../lib/native';
import { DROP_HIT, READ_HITS, RECORD_HIT } from '../lib/scripts/rateLimiter';

export interface RedisRateLimitStoreOptions {
  /** The connection (default: the shared `redisConnection`). */
  connection?: RedisConnection | undefined;
  /** Prefix of the keys, one per client: `<prefix><key>`. @default 'rl:' (rate-limit-redis') */
  prefix?: string | undefined;
}

const scripts = { record: registerScript(RECORD_HIT), read: registerScript(READ_HITS), drop: registerScript(DROP_HIT) };

export class RedisRateLimitStore implements Store {
  readonly prefix: string;
  /** Keys live in Redis, shared by every instance and process. */
  readonly localKeys = false;
  private readonly connection: RedisConnection;
  private windowMs = 60_000;

  constructor(options: RedisRateLimitStoreOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`options must be an object, got ${describeType(options)}`);
    }
    this.connection = options.connection ?? redisConnection;
    this.prefix = options.prefix === undefined ? 'rl:' : requireString(options.prefix, 'options.prefix');
  }

  /** Takes the middleware's window. */
  init(options: Options): void {
    this.windowMs = Math.ceil(positiveOption(options.windowMs, 'windowMs', 'milliseconds'));
  }

  /** Records the hit; resolves to the hits in the window and when the oldest of them leaves it. */
  async increment(key: string): Promise<ClientRateLimitInfo> {
    const reply = await this.connection.dispatcher().script(scripts.record, [this.key(key)], [String(this.windowMs)]);
    return this.info(reply, 'record hit');
  }

  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const reply = await this.connection.dispatcher().script(scripts.read, [this.key(key)], [String(this.windowMs)]);
    const info = this.info(reply, 'read hits');
    return info.totalHits === 0 ? undefined : info;
  }

  /** Removes exactly one hit (a request the middleware chose not to count). */
  async decrement(key: string): Promise<void> {
    await this.connection.dispatcher().script(scripts.drop, [this.key(key)], []);
  }

  async resetKey(key: string): Promise<void> {
    await this.connection.dispatcher().command(['DEL', this.key(key)]);
  }

  /** Forgets every client under the prefix (SCAN + UNLINK on every master). */
  async resetAll(): Promise<void> {
    await this.connection.dispatcher().scanDelete(`${escapeGlob(this.prefix)}*`, 1000);
  }

  /** The connection is the application's: nothing to release here. */
  async shutdown(): Promise<void> {}

  private key(key: string): string {
    return this.prefix + requireString(key, 'key');
  }

  private info(reply: unknown, what: string): ClientRateLimitInfo {
    if (!Array.isArray(reply) || typeof reply[0] !== 'number') throw unexpectedReply(what, reply);
    const msLeft = reply[1];
    return {
      totalHits: reply[0],
      resetTime: typeof msLeft === 'number' ? new Date(Date.now() + msLeft) : undefined,
    };
  }
}
