import { type Dispatcher, inPlaceErrors, type WireArgument } from './dispatcher';
import { RedisLayerError, rejectWith, requireString, requireStringArray, requireTtl, describeType } from './errors';

/** A command argument: numbers are sent in their decimal form, a Buffer (any Uint8Array) as its bytes. */
export type RedisArgument = string | number | Uint8Array;

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

  publish(channel: string, message: string): Promise<number> {
    return this.send(() => ['PUBLISH', requireString(channel, 'channel'), requireString(message, 'message')]);
  }

  ping(): Promise<string> {
    return this.send(() => ['PING']);
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

/** Queued commands sent in one round trip by `exec()`. Per-command errors come back in place as Errors. */
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
