import { RedisClient } from './client';
import { describeType } from './errors';
import { log } from './logger';
import { Dispatcher, NativeOptions } from './native';

export interface RedisConnectionOptions {
  /** `redis://[user:password@]host:port[/db]`. Default: `REDIS_URL` at connect() time, else `redis://127.0.0.1:6379`. */
  url?: string;
  /** Default: `REDIS_PASSWORD` at connect() time. */
  password?: string;
  /** ACL user name. */
  username?: string;
  /** Database number (SELECT). */
  database?: number;
  /** How long connect() may take before it rejects. @default 5000 */
  connectTimeoutMs?: number;
  /** How long one command may wait for its reply. @default 5000 */
  commandTimeoutMs?: number;
  /** Reconnect delay grows by this much per attempt… @default 50 */
  reconnectDelayMs?: number;
  /** …up to this cap: the seed's `Math.min(retries * 50, 1000)`. @default 1000 */
  maxReconnectDelayMs?: number;
  /** Redis Cluster: seed node URLs (default: `REDIS_CLUSTER_NODES`, comma-separated, when no url is given). */
  cluster?: { nodes: string[] };
  /** Redis Sentinel: the master's name and sentinel URLs; writes follow failovers. */
  sentinel?: { masterName: string; nodes: string[] };
  /** TLS for `rediss://` URLs: PEM CA to trust (default: the system store) and a client certificate. */
  tls?: { ca?: string | Uint8Array; cert?: string | Uint8Array; key?: string | Uint8Array };
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
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("utf8");
  throw new TypeError(`${name} must be a PEM string or Buffer, got ${describeType(value)}`);
}

/** What the native socket needs, from validated options. */
function toNative(options: RedisConnectionOptions): NativeOptions {
  const { cluster, sentinel, tls, ...plain } = options;
  const native: NativeOptions = { ...plain };
  if (cluster !== undefined) native.clusterNodes = nodeList(cluster?.nodes, 'options.cluster.nodes');
  if (sentinel !== undefined) {
    if (typeof sentinel?.masterName !== 'string' || sentinel.masterName === '') {
      throw new TypeError('options.sentinel.masterName must be a non-empty string');
    }
    native.sentinelMasterName = sentinel.masterName;
    native.sentinelNodes = nodeList(sentinel.nodes, 'options.sentinel.nodes');
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

const NUMERIC_OPTIONS = ['database', 'connectTimeoutMs', 'commandTimeoutMs', 'reconnectDelayMs', 'maxReconnectDelayMs'] as const;
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

type Role = 'client' | 'subscriber' | 'publisher';

/**
 * The seed's three connections (commands, subscriber, publisher), each one socket
 * that reconnects by itself. Commands issued while a socket is down fail at once
 * instead of queueing.
 */
export class RedisConnection {
  private readonly native: NativeOptions;
  private clients: Record<Role, RedisClient> | undefined;
  private connecting: Promise<void> | undefined;
  private readonly closeHooks = new Set<() => void>();

  constructor(options?: RedisConnectionOptions) {
    this.native = validate(options);
  }

  /** True between a successful connect() and close() while the command socket is up. */
  get isConnected(): boolean {
    return this.clients !== undefined && this.clients.client.dispatcher.native.isConnected;
  }

  /** Opens all three connections; rejects (naming the cause) within connectTimeoutMs. */
  connect(): Promise<void> {
    if (this.clients) return Promise.resolve();
    if (!this.connecting) {
      this.connecting = this.open().finally(() => {
        this.connecting = undefined;
      });
    }
    return this.connecting;
  }

  getClient(): RedisClient {
    return this.role('client');
  }

  getSubscriber(): RedisClient {
    return this.role('subscriber');
  }

  getPublisher(): RedisClient {
    return this.role('publisher');
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
    const clients = this.clients;
    this.clients = undefined;
    if (!clients) return;
    for (const client of Object.values(clients)) client.dispatcher.native.close();
    log('info', 'Redis connections closed');
  }

  /** @internal Services that own timers or subscriptions stop them here. */
  onClose(hook: () => void): () => void {
    this.closeHooks.add(hook);
    return () => this.closeHooks.delete(hook);
  }

  /** @internal Settings for sockets a service opens itself (the message broker's subscriber). */
  nativeOptions(): NativeOptions {
    return { ...this.native };
  }

  private role(role: Role): RedisClient {
    if (!this.clients) throw new Error('Redis not connected');
    return this.clients[role];
  }

  private async open(): Promise<void> {
    const native = this.native;
    const created = {
      client: new RedisClient(new Dispatcher(native, 'client')),
      subscriber: new RedisClient(new Dispatcher(native, 'subscriber')),
      publisher: new RedisClient(new Dispatcher(native, 'publisher')),
    };
    const all = Object.values(created);
    const results = await Promise.allSettled(
      all.map((client) => client.dispatcher.run((id) => client.dispatcher.native.connect(id))),
    );
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure) {
      for (const client of all) client.dispatcher.native.close();
      log('error', 'Redis connection failed', { code: failure.reason?.code, message: failure.reason?.message });
      throw failure.reason;
    }
    this.clients = created;
    log('info', 'All Redis connections established');
  }
}

export const redisConnection = new RedisConnection();

export const connectRedis = (): Promise<void> => redisConnection.connect();
