/**
 * `redis-layer/keyv`: a Keyv storage adapter on a RedisConnection, so Keyv, cache-manager and
 * `@nestjs/cache-manager` run on redis-layer. Keyv serializes the values and prefixes the keys
 * with its namespace (`<namespace>:<key>`); the adapter stores the text under that key.
 */
import { EventEmitter } from 'node:events';
import { redisConnection, type RedisConnection } from '../lib/connection';
import { describeType, requireString, requireStringArray } from '../lib/errors';
import { escapeGlob } from '../lib/keys';

export interface KeyvRedisLayerOptions {
  /** The connection (default: the shared `redisConnection`). */
  connection?: RedisConnection | undefined;
}

/** A TTL Keyv gives in ms, as `PX` arguments; none for a missing, zero or negative one. */
function expiry(ttl: unknown, name: string): string[] {
  if (ttl === undefined || ttl === null) return [];
  if (typeof ttl !== 'number' || Number.isNaN(ttl))
    throw new TypeError(`${name} must be a number of ms, got ${describeType(ttl)}`);
  return ttl > 0 && Number.isFinite(ttl) ? ['PX', String(Math.ceil(ttl))] : [];
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export class KeyvRedisLayer extends EventEmitter {
  /** What Keyv reads to recognise an adapter it can iterate. */
  readonly opts: { dialect: 'redis' };
  /** Set by Keyv: `clear()` and `iterator()` cover only `<namespace>:*`. */
  namespace: string | undefined;
  private readonly connection: RedisConnection;

  constructor(options: KeyvRedisLayerOptions = {}) {
    super();
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`options must be an object, got ${describeType(options)}`);
    }
    this.connection = options.connection ?? redisConnection;
    this.opts = { dialect: 'redis' };
  }

  async get(key: string): Promise<string | undefined> {
    const value = await this.redis().get(requireString(key, 'key'));
    return value === null ? undefined : (value as string);
  }

  /** One MGET, in the order of `keys`. */
  async getMany(keys: string[]): Promise<Array<string | undefined>> {
    const list = requireStringArray(keys, 'keys');
    if (list.length === 0) return [];
    const values = (await this.redis().command(['MGET', ...list])) as Array<string | null>;
    return values.map((value) => (value === null ? undefined : value));
  }

  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    const reply = await this.redis().command(['SET', requireString(key, 'key'), text(value), ...expiry(ttl, 'ttl')]);
    return reply === 'OK';
  }

  /** All entries in one pipelined round trip. */
  async setMany(entries: Array<{ key: string; value: unknown; ttl?: number }>): Promise<void> {
    if (!Array.isArray(entries)) throw new TypeError(`entries must be an array, got ${describeType(entries)}`);
    if (entries.length === 0) return;
    const commands = entries.map(({ key, value, ttl }, i) => [
      'SET',
      requireString(key, `entries[${i}].key`),
      text(value),
      ...expiry(ttl, `entries[${i}].ttl`),
    ]);
    await this.redis().pipeline(commands, false);
  }

  async delete(key: string): Promise<boolean> {
    return (await this.redis().command(['DEL', requireString(key, 'key')])) === 1;
  }

  /** True when at least one of the keys was there. */
  async deleteMany(keys: string[]): Promise<boolean> {
    const list = requireStringArray(keys, 'keys');
    if (list.length === 0) return false;
    return ((await this.redis().command(['DEL', ...list])) as number) > 0;
  }

  async has(key: string): Promise<boolean> {
    return (await this.redis().command(['EXISTS', requireString(key, 'key')])) === 1;
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    const list = requireStringArray(keys, 'keys');
    const replies = (await this.redis().pipeline(
      list.map((key) => ['EXISTS', key]),
      false,
    )) as number[];
    return replies.map((n) => n === 1);
  }

  /**
   * Deletes this namespace's keys with SCAN + UNLINK on every master (no side index that grows).
   * Without a namespace, every key of the database.
   */
  async clear(): Promise<void> {
    const pattern = this.namespace === undefined ? '*' : `${escapeGlob(this.namespace)}:*`;
    await this.redis().scanDelete(pattern, 1000);
  }

  /** `[key, value]` for every key of the namespace (every master on a cluster). */
  async *iterator(namespace?: string): AsyncGenerator<[string, string], void> {
    const pattern = namespace === undefined ? '*' : `${escapeGlob(namespace)}:*`;
    const client = this.connection.getClient();
    for await (const key of client.scanIterator({ MATCH: pattern, COUNT: 1000 })) {
      const value = await client.get(key);
      if (value !== null) yield [key, value];
    }
  }

  /** Keyv's `disconnect()`: the connection is the application's, so this leaves it open. */
  async disconnect(): Promise<void> {}

  private redis() {
    return this.connection.dispatcher();
  }
}
