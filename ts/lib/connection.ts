import { RedisClient } from './client';
import { Dispatcher } from './dispatcher';
import { KeyTracking } from './local';
import { RedisLayerError, describeType, fromNative, rejectWith } from './errors';
import { describeError, log } from './logger';
import { type NativeOptions, describeTarget } from './native';
import { Subscriber } from './subscriber';

export interface RedisConnectionOptions {
  /** `redis://[user:password@]host:port[/db]`. Default: `REDIS_URL` at connect() time, else `redis://127.0.0.1:6379`. */
  url?: string | undefined;
  /** Default: `REDIS_PASSWORD` at connect() time. */
  password?: string | undefined;
  /** ACL user name. */
  username?: string | undefined;
  /** Database number (SELECT). */
  database?: number | undefined;
  /** How long connect() may take before it rejects; 0: no limit (as node-redis). @default 5000 */
  connectTimeoutMs?: number | undefined;
  /** How long one command may wait for its reply; 0: no limit (as node-redis). @default 5000 */
  commandTimeoutMs?: number | undefined;
  /** Reconnect delay grows by this much per attempt… @default 50 */
  reconnectDelayMs?: number | undefined;
  /** …up to this cap: the seed's `Math.min(retries * 50, 1000)`. @default 1000 */
  maxReconnectDelayMs?: number | undefined;
  /** Redis Cluster: seed node URLs (default: `REDIS_CLUSTER_NODES`, comma-separated, when no url is given). */
  cluster?: { nodes: string[] } | undefined;
  /**
   * Redis Sentinel: the master's name and sentinel URLs; writes follow failovers. The sentinels'
   * credentials come from their URLs; the master's from masterUsername / masterPassword, else from
   * username / password. With `rediss://` sentinels the master is reached over TLS too, with `tls`.
   */
  sentinel?:
    | { masterName: string; nodes: string[]; masterUsername?: string | undefined; masterPassword?: string | undefined }
    | undefined;
  /** TLS for `rediss://` URLs: PEM CA to trust (default: the system store) and a client certificate. */
  tls?:
    | {
        ca?: string | Uint8Array | undefined;
        cert?: string | Uint8Array | undefined;
        key?: string | Uint8Array | undefined;
      }
    | undefined;
  /**
   * The key prefixes Redis reports changes of to this connection's local cache tiers (`CLIENT
   * TRACKING … BCAST PREFIX`); a tier then keeps only keys under one of them. Default: every key,
   * which costs each process with a tier one message per write anywhere in the database.
   */
  trackingPrefixes?: string[] | undefined;
}

function nodeList(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.some((node) => typeof node !== 'string')) {
    throw new TypeError(`${name} must be a non-empty array of URL strings`);
  }
  return value as string[];
}

function pem(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  // Uint8Array (Buffer included) keeps the public typings free of Node's types.
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  throw new TypeError(`${name} must be a PEM string or Buffer, got ${describeType(value)}`);
}

/** What the native socket needs, from validated options. */
function toNative(options: RedisConnectionOptions): NativeOptions {
  const { cluster, sentinel, tls, trackingPrefixes: _, ...plain } = options;
  const native: NativeOptions = { ...plain };
  if (cluster !== undefined) native.clusterNodes = nodeList(cluster?.nodes, 'options.cluster.nodes');
  if (sentinel !== undefined) {
    if (typeof sentinel?.masterName !== 'string' || sentinel.masterName === '') {
      throw new TypeError('options.sentinel.masterName must be a non-empty string');
    }
    native.sentinelMasterName = sentinel.masterName;
    native.sentinelNodes = nodeList(sentinel.nodes, 'options.sentinel.nodes');
    for (const name of ['masterUsername', 'masterPassword'] as const) {
      const value: unknown = sentinel[name];
      if (value !== undefined && typeof value !== 'string') {
        throw new TypeError(`options.sentinel.${name} must be a string, got ${describeType(value)}`);
      }
    }
    native.sentinelMasterUsername = sentinel.masterUsername;
    native.sentinelMasterPassword = sentinel.masterPassword;
  }
  if (tls !== undefined) {
    if (tls === null || typeof tls !== 'object') throw new TypeError('options.tls must be an object');
    native.tlsCa = pem(tls.ca, 'options.tls.ca');
    native.tlsCert = pem(tls.cert, 'options.tls.cert');
    native.tlsKey = pem(tls.key, 'options.tls.key');
    if ((native.tlsCert === undefined) !== (native.tlsKey === undefined)) {
      throw new TypeError('options.tls.cert and options.tls.key go together');
    }
  }
  return native;
}

const NUMERIC_OPTIONS = [
  'database',
  'connectTimeoutMs',
  'commandTimeoutMs',
  'reconnectDelayMs',
  'maxReconnectDelayMs',
] as const;
const STRING_OPTIONS = ['url', 'password', 'username'] as const;

/** Checks the options and turns them into the native sockets' settings, once. */
function validate(options: unknown): NativeOptions {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object') throw new TypeError(`options must be an object, got ${describeType(options)}`);
  const given = options as Record<string, unknown>;
  for (const name of STRING_OPTIONS) {
    if (given[name] !== undefined && typeof given[name] !== 'string') {
      throw new TypeError(`options.${name} must be a string, got ${describeType(given[name])}`);
    }
  }
  for (const name of NUMERIC_OPTIONS) {
    const value = given[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new TypeError(`options.${name} must be a non-negative integer, got ${String(value)}`);
    }
  }
  return toNative(given as RedisConnectionOptions);
}

/** `options.trackingPrefixes`, checked: non-empty strings, none starting another (Redis refuses overlaps). */
function trackingPrefixes(options: unknown): string[] {
  const value = (options as RedisConnectionOptions | null | undefined)?.trackingPrefixes;
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((prefix) => typeof prefix !== 'string' || prefix === '')) {
    throw new TypeError('options.trackingPrefixes must be an array of non-empty strings');
  }
  for (const a of value) {
    const overlapping = value.find((b) => a !== b && b.startsWith(a));
    if (overlapping !== undefined) {
      throw new RangeError(`options.trackingPrefixes: '${a}' overlaps '${overlapping}'; keep the shorter one`);
    }
  }
  return [...new Set(value)];
}

/** Where the target came from, for the connect log line. */
type Source = 'options' | 'REDIS_URL' | 'REDIS_CLUSTER_NODES' | 'default URL';

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value === '' ? undefined : value;

/**
 * Fills what the options left open from `env` (this realm's `process.env` at connect() time:
 * Jest gives each test file its own): REDIS_URL, REDIS_PASSWORD, and REDIS_CLUSTER_NODES when
 * no URL is set at all. Native code never reads the environment.
 */
function withEnvironment(
  options: NativeOptions,
  env: Record<string, string | undefined>,
): { native: NativeOptions; source: Source } {
  const native = { ...options };
  native.password ??= nonEmpty(env.REDIS_PASSWORD);
  if (native.url !== undefined || native.clusterNodes !== undefined || native.sentinelNodes !== undefined) {
    return { native, source: 'options' };
  }
  native.url = nonEmpty(env.REDIS_URL);
  if (native.url !== undefined) return { native, source: 'REDIS_URL' };
  const nodes = (env.REDIS_CLUSTER_NODES ?? '')
    .split(',')
    .map((node) => node.trim())
    .filter((node) => node !== '');
  if (nodes.length > 0) {
    native.clusterNodes = nodes;
    return { native, source: 'REDIS_CLUSTER_NODES' };
  }
  return { native, source: 'default URL' };
}

/** Same settings, whatever the key order. */
function sameOptions(a: NativeOptions, b: NativeOptions): boolean {
  const canonical = (options: NativeOptions) =>
    JSON.stringify(
      Object.entries(options)
        .filter(([, value]) => value !== undefined)
        .sort(([x], [y]) => (x < y ? -1 : 1)),
    );
  return canonical(a) === canonical(b);
}

/** The seed's three connections, each one socket. */
interface Sockets {
  client: Dispatcher;
  publisher: Dispatcher;
  subscriber: Subscriber;
  /** What getClient() and getPublisher() return. */
  clientApi: RedisClient;
  publisherApi: RedisClient;
  /** Key tracking for the local cache tier, started by the first service that has one. */
  tracking?: KeyTracking;
}

const notConnected = (): RedisLayerError => new RedisLayerError('ERR_NOT_CONNECTED', 'Redis not connected');

/**
 * The seed's three connections, each one socket that reconnects by itself: commands
 * (`getClient()`), publishing (`getPublisher()`) and subscriptions (`getSubscriber()`,
 * which every MessageBroker of the connection shares). Commands issued while a socket is
 * down fail at once instead of queueing.
 */
export class RedisConnection {
  private native: NativeOptions;
  private trackingPrefixes: string[];
  /** The settings of the last connect(), environment applied. */
  private resolved: NativeOptions | undefined;
  private sockets: Sockets | undefined;
  private connecting: Promise<void> | undefined;
  /** Sockets of the connect() in progress, so close() can end them before they are installed. */
  private opening: Array<Dispatcher | Subscriber> = [];
  /** Counts close() calls: a connect() that sees it change lost to a close. */
  private closes = 0;
  private readonly closeHooks = new Set<() => void>();

  constructor(options?: RedisConnectionOptions) {
    this.native = validate(options);
    this.trackingPrefixes = trackingPrefixes(options);
  }

  /** True between a successful connect() and close() while the command socket is up. */
  get isConnected(): boolean {
    return this.sockets?.client.isConnected === true;
  }

  /** Opens all three connections; rejects (naming the cause) within connectTimeoutMs. */
  connect(): Promise<void> {
    if (this.sockets) return Promise.resolve();
    if (!this.connecting) {
      const connecting: Promise<void> = this.open().finally(() => {
        if (this.connecting === connecting) this.connecting = undefined;
      });
      this.connecting = connecting;
    }
    return this.connecting;
  }

  /**
   * @internal connectRedis(options): new settings for a connection that is not connected; the same
   * settings again are fine; other settings while connected (or connecting) are an Error.
   */
  reconfigure(options: RedisConnectionOptions): void {
    const native = validate(options);
    const prefixes = trackingPrefixes(options);
    if (sameOptions(native, this.native) && prefixes.join('\n') === this.trackingPrefixes.join('\n')) return;
    if (this.sockets || this.connecting) {
      throw new Error(
        'connectRedis(options): the shared connection is already connected with other options; close() it first, or use new RedisConnection(options)',
      );
    }
    this.native = native;
    this.trackingPrefixes = prefixes;
  }

  /** The command client. Throws a RedisLayerError (ERR_NOT_CONNECTED) before connect() and after close(), as every getter. */
  getClient(): RedisClient {
    return this.connected().clientApi;
  }

  /** The pub/sub socket: subscribe / pSubscribe with listeners that get each message's text and channel. */
  getSubscriber(): Subscriber {
    return this.connected().subscriber;
  }

  /** The client of the publishing socket. */
  getPublisher(): RedisClient {
    return this.connected().publisherApi;
  }

  /** Ends every socket, reconnect loop and registered service timer. */
  async close(): Promise<void> {
    for (const hook of [...this.closeHooks]) {
      try {
        hook();
      } catch (error) {
        log('error', 'Redis close hook failed', { message: (error as Error)?.message });
      }
    }
    // Counted first: a connect() still opening gives up its sockets when it sees the count change.
    this.closes += 1;
    this.connecting = undefined;
    const opening = this.opening;
    this.opening = [];
    for (const socket of opening) socket.close();
    const sockets = this.sockets;
    this.sockets = undefined;
    if (!sockets) return;
    for (const socket of [sockets.client, sockets.publisher, sockets.subscriber]) socket.close();
    log('info', 'Redis connections closed');
  }

  /**
   * @internal How services reach Redis: the dispatcher of the command socket (or of the
   * publishing one). Throws ERR_NOT_CONNECTED before connect() and after close(); see access.ts.
   */
  dispatcher(role: 'client' | 'publisher' = 'client'): Dispatcher {
    return this.connected()[role];
  }

  /**
   * @internal The key tracking of the current sockets (started on first use) that keeps local
   * cache tiers honest; undefined while not connected.
   */
  currentKeyTracking(): KeyTracking | undefined {
    const sockets = this.sockets;
    if (sockets === undefined) return undefined;
    sockets.tracking ??= new KeyTracking(sockets.client, sockets.subscriber, this.trackingPrefixes);
    return sockets.tracking;
  }

  /** @internal Services that own timers or subscriptions stop them here. */
  onClose(hook: () => void): () => void {
    this.closeHooks.add(hook);
    return () => this.closeHooks.delete(hook);
  }

  /** @internal Settings for sockets a service opens itself (a message broker with inbox bounds of its own). */
  nativeOptions(): NativeOptions {
    return { ...this.settings() };
  }

  /** @internal Whether the connection is to a Redis Cluster. */
  isCluster(): boolean {
    return this.settings().clusterNodes !== undefined;
  }

  /** The native settings: as resolved by connect(), or as the options and environment give them before. */
  private settings(): NativeOptions {
    return this.resolved ?? withEnvironment(this.native, process.env).native;
  }

  private connected(): Sockets {
    if (!this.sockets) throw notConnected();
    return this.sockets;
  }

  private async open(): Promise<void> {
    const closes = this.closes;
    const failed = (error: unknown): never => {
      log('error', 'Redis connection failed', describeError(error));
      throw error;
    };
    const { native, source } = withEnvironment(this.native, process.env);
    let target: string;
    try {
      target = describeTarget(native);
    } catch (error) {
      return failed(fromNative(error));
    }
    log('info', `Redis connecting to ${target} (${source})`);
    this.resolved = native;
    const client = new Dispatcher(native, 'client');
    const publisher = new Dispatcher(native, 'publisher');
    // The broker's socket: its events log with the broker's role.
    const subscriber = new Subscriber(native, 'broker');
    const all = [client, publisher, subscriber];
    this.opening = all;
    const results = await Promise.allSettled(all.map((socket) => socket.connect()));
    if (this.opening === all) this.opening = [];
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure || this.closes !== closes) {
      for (const socket of all) socket.close();
    }
    if (this.closes !== closes) throw new RedisLayerError('ERR_CLOSED', 'Redis connection was closed while connecting');
    if (failure) return failed(failure.reason);
    this.sockets = {
      client,
      publisher,
      subscriber,
      clientApi: new RedisClient(client),
      publisherApi: new RedisClient(publisher),
    };
    log('info', 'All Redis connections established');
  }
}

export const redisConnection = new RedisConnection();

/**
 * Connects the shared `redisConnection`, first applying `options` (the same as
 * `new RedisConnection(options)`'s). Rejects with an Error when it is already connected with
 * other options.
 */
export const connectRedis = (options?: RedisConnectionOptions): Promise<void> =>
  rejectWith(() => {
    if (options !== undefined) redisConnection.reconfigure(options);
  }).then(() => redisConnection.connect());
