import { type Dispatcher, inPlaceErrors, type WireArgument } from './dispatcher';
import {
  RedisLayerError,
  rejectWith,
  requireString,
  requireStringArray,
  requireTtl,
  describeType,
  unexpectedReply,
} from './errors';

/** A command argument: numbers are sent in their decimal form, a Buffer (any Uint8Array) as its bytes. */
export type RedisArgument = string | number | Uint8Array;

export interface ScanOptions {
  /** A glob the keys must match. */
  MATCH?: string | undefined;
  /** Keys examined per round trip (a hint to Redis). @default 100 */
  COUNT?: number | undefined;
  /** Only keys of this type (`string`, `hash`, `zset`, …). */
  TYPE?: string | undefined;
}

export interface SetOptions {
  /** Expire after this many seconds. */
  EX?: number | undefined;
  /** Expire after this many milliseconds. */
  PX?: number | undefined;
  /** Only set when the key does not exist. */
  NX?: boolean | undefined;
  /** Only set when the key exists. */
  XX?: boolean | undefined;
  /** Keep the key's current TTL. */
  KEEPTTL?: boolean | undefined;
  /** Return the previous value. */
  GET?: boolean | undefined;
}

function toArgs(args: unknown, name: string): WireArgument[] {
  if (!Array.isArray(args)) throw new TypeError(`${name} must be an array of strings, got ${describeType(args)}`);
  return args.map((arg, i) => {
    if (typeof arg === 'string' || isBytes(arg)) return arg;
    if (typeof arg === 'number' && Number.isFinite(arg)) return String(arg);
    throw new TypeError(`${name}[${i}] must be a string, a finite number or a Buffer, got ${describeType(arg)}`);
  });
}

/** A Uint8Array (a Buffer included) from any realm: `instanceof` fails for one made in another context. */
function isBytes(value: unknown): value is Uint8Array {
  return ArrayBuffer.isView(value) && Object.prototype.toString.call(value) === '[object Uint8Array]';
}

/** An argument as text, for reading a command's name. */
function text(arg: WireArgument | undefined): string | undefined {
  return typeof arg === 'string' || arg === undefined
    ? arg
    : Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength).toString('utf8');
}

const TRANSACTION = 'use client.multi() … exec() for an atomic batch, or a Lua script (EVAL) for check-and-set';
const PUBSUB = 'use the MessageBroker or getSubscriber(), which subscribe on a socket of their own';
const PER_SOCKET = 'it would apply to every service on this socket and be lost on reconnect';

/**
 * Commands that change the state of the socket they run on. Every service shares these
 * sockets, so such a command would change what other callers' commands mean (a `get`
 * queued inside someone's MULTI reads `QUEUED`); each entry says what to use instead.
 * `CLIENT …` entries are matched on their subcommand.
 */
const CONNECTION_STATE: Record<string, string> = {
  MULTI: TRANSACTION,
  EXEC: TRANSACTION,
  DISCARD: TRANSACTION,
  WATCH: TRANSACTION,
  UNWATCH: TRANSACTION,
  SELECT: 'set the `database` option of the RedisConnection (one connection per database)',
  SUBSCRIBE: PUBSUB,
  PSUBSCRIBE: PUBSUB,
  SSUBSCRIBE: PUBSUB,
  UNSUBSCRIBE: PUBSUB,
  PUNSUBSCRIBE: PUBSUB,
  SUNSUBSCRIBE: PUBSUB,
  MONITOR: 'run MONITOR from redis-cli',
  RESET: 'use connection.close() and a new RedisConnection',
  QUIT: 'use connection.close()',
  HELLO: 'the connection negotiates the protocol and credentials itself (`username`, `password` options)',
  AUTH: 'set the `username` and `password` options of the RedisConnection',
  READONLY: 'the connection routes cluster commands itself',
  READWRITE: 'the connection routes cluster commands itself',
  ASKING: 'the connection follows cluster redirections itself',
  SYNC: 'replication needs a socket of its own (redis-cli --rdb)',
  PSYNC: 'replication needs a socket of its own (redis-cli --rdb)',
  REPLCONF: 'replication needs a socket of its own',
  'CLIENT REPLY': PER_SOCKET,
  'CLIENT TRACKING': PER_SOCKET,
  'CLIENT CACHING': PER_SOCKET,
  'CLIENT SETNAME': PER_SOCKET,
  'CLIENT SETINFO': PER_SOCKET,
  'CLIENT NO-EVICT': PER_SOCKET,
  'CLIENT NO-TOUCH': PER_SOCKET,
};

/** A command's arguments as strings, refusing the commands above (any letter case). */
function commandArgs(args: unknown): WireArgument[] {
  const checked = toArgs(args, 'args');
  const name = text(checked[0])?.toUpperCase();
  if (name === undefined) return checked;
  const command = name === 'CLIENT' && checked.length > 1 ? `${name} ${text(checked[1])?.toUpperCase()}` : name;
  const instead = CONNECTION_STATE[command];
  if (instead !== undefined) {
    throw new RedisLayerError(
      'ERR_UNSAFE_COMMAND',
      `${command} changes the state of the connection every service shares, so it is refused: ${instead}`,
    );
  }
  return checked;
}

function keyList(keys: unknown, name: string): string[] {
  return typeof keys === 'string' ? [keys] : requireStringArray(keys, name);
}

function setArgs(key: unknown, value: unknown, options?: SetOptions): string[] {
  const args = ['SET', requireString(key, 'key'), requireString(value, 'value')];
  if (options?.EX !== undefined) args.push('EX', String(requireTtl(options.EX, 'options.EX')));
  if (options?.PX !== undefined) args.push('PX', String(requireTtl(options.PX, 'options.PX')));
  if (options?.NX) args.push('NX');
  if (options?.XX) args.push('XX');
  if (options?.KEEPTTL) args.push('KEEPTTL');
  if (options?.GET) args.push('GET');
  return args;
}

function msetArgs(pairs: unknown): string[] {
  const args = ['MSET'];
  if (Array.isArray(pairs)) {
    const flat = (pairs as unknown[]).flat();
    args.push(...requireStringArray(flat, 'pairs'));
  } else if (pairs !== null && typeof pairs === 'object') {
    for (const [key, value] of Object.entries(pairs)) args.push(key, requireString(value, `pairs.${key}`));
  } else {
    throw new TypeError(`pairs must be an object or an array of [key, value], got ${describeType(pairs)}`);
  }
  return args;
}

const toBoolean = (reply: unknown): boolean => reply === 1;

/** A sorted-set member and its score, as node-redis takes and returns them. */
export interface ZMember {
  score: number;
  value: string;
}

/** An integer Redis reads as a 64-bit integer: a fraction or an unsafe integer is a RangeError naming `name`. */
function requireInteger(value: unknown, name: string): string {
  if (typeof value !== 'number') throw new TypeError(`${name} must be an integer, got ${describeType(value)}`);
  if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be a safe integer, got ${value}`);
  return String(value);
}

/** A score (a double): ±Infinity are sent as Redis spells them, NaN is a RangeError naming `name`. */
function requireScore(value: unknown, name: string): string {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${describeType(value)}`);
  if (Number.isNaN(value)) throw new RangeError(`${name} must be a number or ±Infinity, got NaN`);
  if (value === Number.POSITIVE_INFINITY) return '+inf';
  if (value === Number.NEGATIVE_INFINITY) return '-inf';
  return String(value);
}

/** A hash field's value: a string, or a finite number sent in decimal. */
function fieldValue(value: unknown, name: string): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'number')
    throw new TypeError(`${name} must be a string or a number, got ${describeType(value)}`);
  if (!Number.isFinite(value)) throw new RangeError(`${name} must be a finite number, got ${value}`);
  return String(value);
}

/**
 * `command key ...items`; with no items, the command name alone, which `send` answers with
 * its `empty` value without a round trip (the key is still checked).
 */
function withItems(command: string, key: unknown, items: string[]): string[] {
  const checked = requireString(key, 'key');
  return items.length === 0 ? [command] : [command, checked, ...items];
}

function hsetArgs(key: unknown, field: unknown, value: unknown): string[] {
  const checked = requireString(key, 'key');
  if (typeof field === 'string') return ['HSET', checked, field, fieldValue(value, 'value')];
  if (field === null || typeof field !== 'object' || Array.isArray(field)) {
    throw new TypeError(`field must be a string or an object of fields, got ${describeType(field)}`);
  }
  const items: string[] = [];
  for (const [name, v] of Object.entries(field)) items.push(name, fieldValue(v, `fields.${name}`));
  return withItems('HSET', key, items);
}

function zaddArgs(key: unknown, members: unknown): string[] {
  requireString(key, 'key');
  const one = (member: unknown, name: string): string[] => {
    if (member === null || typeof member !== 'object' || Array.isArray(member)) {
      throw new TypeError(`${name} must be an object { score, value }, got ${describeType(member)}`);
    }
    const { score, value } = member as { score?: unknown; value?: unknown };
    return [requireScore(score, `${name}.score`), requireString(value, `${name}.value`)];
  };
  const items = Array.isArray(members) ? members.flatMap((m, i) => one(m, `members[${i}]`)) : one(members, 'members');
  return withItems('ZADD', key, items);
}

function zrangeArgs(key: unknown, start: unknown, stop: unknown): string[] {
  return ['ZRANGE', requireString(key, 'key'), requireInteger(start, 'start'), requireInteger(stop, 'stop')];
}

/** A score reply (text; Redis writes infinities as `inf`, `-inf`) as a number. */
function toScore(reply: unknown): number {
  if (typeof reply === 'number') return reply;
  if (typeof reply !== 'string') throw unexpectedReply('score', reply);
  if (reply === 'inf' || reply === '+inf') return Number.POSITIVE_INFINITY;
  if (reply === '-inf') return Number.NEGATIVE_INFINITY;
  return Number(reply);
}

const toScoreOrNull = (reply: unknown): number | null => (reply === null ? null : toScore(reply));

/** HGETALL's flat `[field, value, …]` as an object without a prototype (as node-redis), so any field name is safe. */
function toHash(reply: unknown): Record<string, string> {
  if (!Array.isArray(reply) || reply.length % 2 !== 0) throw unexpectedReply('hGetAll', reply);
  const hash: Record<string, string> = Object.create(null);
  for (let i = 0; i < reply.length; i += 2) hash[reply[i]] = reply[i + 1];
  return hash;
}

/**
 * ZRANGE … WITHSCORES as node-redis' `{ value, score }` list: the socket speaks RESP3, which answers
 * `[member, score]` pairs; RESP2's flat `[member, score, …]` is read too.
 */
function toMembers(reply: unknown): ZMember[] {
  if (!Array.isArray(reply)) throw unexpectedReply('zRangeWithScores', reply);
  const members: ZMember[] = [];
  if (reply.length > 0 && Array.isArray(reply[0])) {
    for (const pair of reply) {
      if (!Array.isArray(pair) || pair.length !== 2) throw unexpectedReply('zRangeWithScores', pair);
      members.push({ value: pair[0], score: toScore(pair[1]) });
    }
    return members;
  }
  if (reply.length % 2 !== 0) throw unexpectedReply('zRangeWithScores', reply);
  for (let i = 0; i < reply.length; i += 2) members.push({ value: reply[i], score: toScore(reply[i + 1]) });
  return members;
}

/**
 * The general-purpose client `redisConnection.getClient()` returns: node-redis
 * names and result shapes for the commands the backend calls, `sendCommand` for
 * the rest.
 */
export class RedisClient {
  /** @internal */
  readonly dispatcher: Dispatcher;

  /** @internal */
  constructor(dispatcher: Dispatcher) {
    this.dispatcher = dispatcher;
  }

  /**
   * Runs any command: `sendCommand(['HSET', 'h', 'f', 'v'])`. Replies keep RESP2 shapes.
   * Commands that change the shared socket's state (MULTI, SELECT, SUBSCRIBE, CLIENT REPLY, …)
   * reject with a `RedisLayerError` of code `ERR_UNSAFE_COMMAND` naming what to use instead.
   */
  sendCommand<T = unknown>(args: readonly RedisArgument[]): Promise<T> {
    return this.send(() => commandArgs(args));
  }

  get(key: string): Promise<string | null> {
    if (typeof key !== 'string') return rejectWith(() => requireString(key, 'key')) as Promise<never>;
    return this.dispatcher.get(key);
  }

  set(key: string, value: string, options?: SetOptions): Promise<string | null> {
    return this.send(() => setArgs(key, value, options));
  }

  setEx(key: string, seconds: number, value: string): Promise<string> {
    return this.send(() => [
      'SETEX',
      requireString(key, 'key'),
      String(requireTtl(seconds, 'seconds')),
      requireString(value, 'value'),
    ]);
  }

  del(keys: string | string[]): Promise<number> {
    return this.send(() => ['DEL', ...keyList(keys, 'keys')], undefined, 0);
  }

  unlink(keys: string | string[]): Promise<number> {
    return this.send(() => ['UNLINK', ...keyList(keys, 'keys')], undefined, 0);
  }

  exists(keys: string | string[]): Promise<number> {
    return this.send(() => ['EXISTS', ...keyList(keys, 'keys')], undefined, 0);
  }

  mGet(keys: string[]): Promise<(string | null)[]> {
    return this.send(() => ['MGET', ...requireStringArray(keys, 'keys')], undefined, []);
  }

  mSet(pairs: Record<string, string> | Array<[string, string]> | string[]): Promise<string> {
    return this.send(() => msetArgs(pairs), undefined, 'OK');
  }

  /** True when the timeout was set (node-redis v4 shape, which the seed relies on). */
  expire(key: string, seconds: number): Promise<boolean> {
    return this.send(() => ['EXPIRE', requireString(key, 'key'), String(requireTtl(seconds, 'seconds'))], toBoolean);
  }

  ttl(key: string): Promise<number> {
    return this.send(() => ['TTL', requireString(key, 'key')]);
  }

  incr(key: string): Promise<number> {
    return this.send(() => ['INCR', requireString(key, 'key')]);
  }

  /** The value after adding `increment` (an integer). */
  incrBy(key: string, increment: number): Promise<number> {
    return this.send(() => ['INCRBY', requireString(key, 'key'), requireInteger(increment, 'increment')]);
  }

  /** The value after subtracting 1. */
  decr(key: string): Promise<number> {
    return this.send(() => ['DECR', requireString(key, 'key')]);
  }

  /** The value after subtracting `decrement` (an integer). */
  decrBy(key: string, decrement: number): Promise<number> {
    return this.send(() => ['DECRBY', requireString(key, 'key'), requireInteger(decrement, 'decrement')]);
  }

  /** The number of fields that were new (an empty object answers 0 without a round trip). */
  hSet(key: string, field: string, value: string | number): Promise<number>;
  hSet(key: string, fields: Record<string, string | number>): Promise<number>;
  hSet(key: string, field: string | Record<string, string | number>, value?: string | number): Promise<number> {
    return this.send(() => hsetArgs(key, field, value), undefined, 0);
  }

  /** The field's value, or null when the field or the key does not exist. */
  hGet(key: string, field: string): Promise<string | null> {
    return this.send(() => ['HGET', requireString(key, 'key'), requireString(field, 'field')]);
  }

  /** Every field and value as an object without a prototype (node-redis' shape); `{}` for a missing key. */
  hGetAll(key: string): Promise<Record<string, string>> {
    return this.send(() => ['HGETALL', requireString(key, 'key')], toHash);
  }

  /** The number of fields removed (an empty list answers 0 without a round trip). */
  hDel(key: string, fields: string | string[]): Promise<number> {
    return this.send(() => withItems('HDEL', key, keyList(fields, 'fields')), undefined, 0);
  }

  /** The field's value after adding `increment` (an integer). */
  hIncrBy(key: string, field: string, increment: number): Promise<number> {
    return this.send(() => [
      'HINCRBY',
      requireString(key, 'key'),
      requireString(field, 'field'),
      requireInteger(increment, 'increment'),
    ]);
  }

  /** True when the field exists (node-redis v4's boolean; v5 answers 1 or 0). */
  hExists(key: string, field: string): Promise<boolean> {
    return this.send(() => ['HEXISTS', requireString(key, 'key'), requireString(field, 'field')], toBoolean);
  }

  /** The number of members that were new (an empty list answers 0 without a round trip). */
  sAdd(key: string, members: string | string[]): Promise<number> {
    return this.send(() => withItems('SADD', key, keyList(members, 'members')), undefined, 0);
  }

  /** The number of members removed (an empty list answers 0 without a round trip). */
  sRem(key: string, members: string | string[]): Promise<number> {
    return this.send(() => withItems('SREM', key, keyList(members, 'members')), undefined, 0);
  }

  /** Every member, in no particular order; `[]` for a missing key. */
  sMembers(key: string): Promise<string[]> {
    return this.send(() => ['SMEMBERS', requireString(key, 'key')]);
  }

  /** True when `member` is in the set (node-redis v4's boolean; v5 answers 1 or 0). */
  sIsMember(key: string, member: string): Promise<boolean> {
    return this.send(() => ['SISMEMBER', requireString(key, 'key'), requireString(member, 'member')], toBoolean);
  }

  /** The number of members; 0 for a missing key. */
  sCard(key: string): Promise<number> {
    return this.send(() => ['SCARD', requireString(key, 'key')]);
  }

  /** The number of members added; an existing member's score is updated but not counted (an empty list answers 0). */
  zAdd(key: string, members: ZMember | ZMember[]): Promise<number> {
    return this.send(() => zaddArgs(key, members), undefined, 0);
  }

  /** The number of members removed (an empty list answers 0 without a round trip). */
  zRem(key: string, members: string | string[]): Promise<number> {
    return this.send(() => withItems('ZREM', key, keyList(members, 'members')), undefined, 0);
  }

  /** The member's score (±Infinity included), or null when the member or the key does not exist. */
  zScore(key: string, member: string): Promise<number | null> {
    return this.send(() => ['ZSCORE', requireString(key, 'key'), requireString(member, 'member')], toScoreOrNull);
  }

  /** The member's score after adding `increment` (the member is added when missing). */
  zIncrBy(key: string, increment: number, member: string): Promise<number> {
    return this.send(
      () => [
        'ZINCRBY',
        requireString(key, 'key'),
        requireScore(increment, 'increment'),
        requireString(member, 'member'),
      ],
      toScore,
    );
  }

  /** The number of members; 0 for a missing key. */
  zCard(key: string): Promise<number> {
    return this.send(() => ['ZCARD', requireString(key, 'key')]);
  }

  /** The members ranked `start` to `stop` (integer indexes, inclusive, negative from the end), lowest score first. */
  zRange(key: string, start: number, stop: number): Promise<string[]> {
    return this.send(() => zrangeArgs(key, start, stop));
  }

  /** Like `zRange`, with each member's score: `[{ value, score }]`, lowest score first. */
  zRangeWithScores(key: string, start: number, stop: number): Promise<ZMember[]> {
    return this.send(() => [...zrangeArgs(key, start, stop), 'WITHSCORES'], toMembers);
  }

  publish(channel: string, message: string): Promise<number> {
    return this.send(() => ['PUBLISH', requireString(channel, 'channel'), requireString(message, 'message')]);
  }

  ping(): Promise<string> {
    return this.send(() => ['PING']);
  }

  /**
   * Every key (matching `MATCH`, of `TYPE`), one at a time, with SCAN in pages of about `COUNT`
   * (default 100): node-redis v4's `scanIterator`. On a cluster every master is scanned in turn.
   * As with SCAN, a key added or removed during the scan may or may not be seen, and one may come twice.
   */
  async *scanIterator(options: ScanOptions = {}): AsyncIterableIterator<string> {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`options must be an object, got ${describeType(options)}`);
    }
    const match = options.MATCH === undefined ? undefined : requireString(options.MATCH, 'options.MATCH');
    const type = options.TYPE === undefined ? undefined : requireString(options.TYPE, 'options.TYPE');
    const count = options.COUNT ?? 100;
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) {
      throw new RangeError(`options.COUNT must be a positive integer, got ${String(count)}`);
    }
    let cursor = '0';
    do {
      const [next, keys] = await this.dispatcher.scanPage(cursor, match, count, type);
      for (const key of keys) yield key;
      cursor = next;
    } while (cursor !== '0');
  }

  /** A MULTI/EXEC transaction: chain commands, then `exec()`. */
  multi(): Multi {
    return new Multi(this.dispatcher, true);
  }

  /** Like `multi()` but without MULTI/EXEC: one round trip, not atomic. */
  pipeline(): Multi {
    return new Multi(this.dispatcher, false);
  }

  /**
   * Validates and queues at once (never in a later microtask), so calls reach Redis
   * in the order they were made. A command with no arguments after its name (e.g.
   * `del([])`) answers `empty` without a round trip.
   */
  private send<T>(build: () => WireArgument[], map?: (reply: any) => T, empty?: T): Promise<T> {
    let args: WireArgument[];
    try {
      args = build();
    } catch (error) {
      return Promise.reject(error);
    }
    if (empty !== undefined && args.length === 1) return Promise.resolve(empty);
    return this.dispatcher.command(args, map);
  }
}

/**
 * Queued commands sent in one round trip by `exec()`. Per-command errors come back in place as Errors.
 * Replies are not converted (`expire` answers 1), so the helpers whose `RedisClient` result is
 * (`hGetAll`, `hExists`, `sIsMember`, `zScore`, `zIncrBy`, `zRangeWithScores`) are not here:
 * queue those with `addCommand`.
 */
export class Multi {
  private readonly commands: WireArgument[][] = [];

  /** @internal */
  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly atomic: boolean,
  ) {}

  /** Queues any command; throws `ERR_UNSAFE_COMMAND` for the ones `sendCommand` refuses. */
  addCommand(args: RedisArgument[]): this {
    this.commands.push(commandArgs(args));
    return this;
  }

  get(key: string): this {
    return this.addCommand(['GET', requireString(key, 'key')]);
  }

  set(key: string, value: string, options?: SetOptions): this {
    this.commands.push(setArgs(key, value, options));
    return this;
  }

  setEx(key: string, seconds: number, value: string): this {
    return this.addCommand([
      'SETEX',
      requireString(key, 'key'),
      requireTtl(seconds, 'seconds'),
      requireString(value, 'value'),
    ]);
  }

  del(keys: string | string[]): this {
    return this.addCommand(['DEL', ...keyList(keys, 'keys')]);
  }

  exists(keys: string | string[]): this {
    return this.addCommand(['EXISTS', ...keyList(keys, 'keys')]);
  }

  expire(key: string, seconds: number): this {
    return this.addCommand(['EXPIRE', requireString(key, 'key'), requireTtl(seconds, 'seconds')]);
  }

  ttl(key: string): this {
    return this.addCommand(['TTL', requireString(key, 'key')]);
  }

  incr(key: string): this {
    return this.addCommand(['INCR', requireString(key, 'key')]);
  }

  incrBy(key: string, increment: number): this {
    return this.addCommand(['INCRBY', requireString(key, 'key'), requireInteger(increment, 'increment')]);
  }

  decr(key: string): this {
    return this.addCommand(['DECR', requireString(key, 'key')]);
  }

  decrBy(key: string, decrement: number): this {
    return this.addCommand(['DECRBY', requireString(key, 'key'), requireInteger(decrement, 'decrement')]);
  }

  hSet(key: string, field: string, value: string | number): this;
  hSet(key: string, fields: Record<string, string | number>): this;
  hSet(key: string, field: string | Record<string, string | number>, value?: string | number): this {
    return this.addCommand(hsetArgs(key, field, value));
  }

  hGet(key: string, field: string): this {
    return this.addCommand(['HGET', requireString(key, 'key'), requireString(field, 'field')]);
  }

  hDel(key: string, fields: string | string[]): this {
    return this.addCommand(withItems('HDEL', key, keyList(fields, 'fields')));
  }

  hIncrBy(key: string, field: string, increment: number): this {
    return this.addCommand([
      'HINCRBY',
      requireString(key, 'key'),
      requireString(field, 'field'),
      requireInteger(increment, 'increment'),
    ]);
  }

  sAdd(key: string, members: string | string[]): this {
    return this.addCommand(withItems('SADD', key, keyList(members, 'members')));
  }

  sRem(key: string, members: string | string[]): this {
    return this.addCommand(withItems('SREM', key, keyList(members, 'members')));
  }

  sMembers(key: string): this {
    return this.addCommand(['SMEMBERS', requireString(key, 'key')]);
  }

  sCard(key: string): this {
    return this.addCommand(['SCARD', requireString(key, 'key')]);
  }

  zRem(key: string, members: string | string[]): this {
    return this.addCommand(withItems('ZREM', key, keyList(members, 'members')));
  }

  zRange(key: string, start: number, stop: number): this {
    return this.addCommand(zrangeArgs(key, start, stop));
  }

  zAdd(key: string, members: { score: number; value: string } | Array<{ score: number; value: string }>): this {
    const list = Array.isArray(members) ? members : [members];
    return this.addCommand([
      'ZADD',
      requireString(key, 'key'),
      ...list.flatMap((m) => [m.score, requireString(m.value, 'value')]),
    ]);
  }

  zRemRangeByScore(key: string, min: number | string, max: number | string): this {
    return this.addCommand(['ZREMRANGEBYSCORE', requireString(key, 'key'), min, max]);
  }

  zCard(key: string): this {
    return this.addCommand(['ZCARD', requireString(key, 'key')]);
  }

  publish(channel: string, message: string): this {
    return this.addCommand(['PUBLISH', requireString(channel, 'channel'), requireString(message, 'message')]);
  }

  exec<T extends unknown[] = unknown[]>(): Promise<T> {
    if (this.commands.length === 0) return Promise.resolve([] as unknown[] as T);
    const commands = this.commands.splice(0);
    return this.dispatcher.pipeline(commands, this.atomic, inPlaceErrors) as Promise<T>;
  }
}
