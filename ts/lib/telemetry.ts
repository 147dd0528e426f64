/**
 * What redis-layer reports about itself, on `node:diagnostics_channel` (the mechanism node-redis,
 * ioredis, undici, OpenTelemetry and Sentry meet on). Subscribers get plain event objects; with no
 * subscriber the services check one flag per call and build nothing.
 *
 * - `redis-layer:command` (TracingChannel): one event per command, pipeline, transaction or script.
 * - `redis-layer:operation` (TracingChannel): one per service call (cache, session, rate limit, lock,
 *   broker), with its outcome; its commands are traced inside it.
 * - `redis-layer:connection` (channel): a socket connected, reconnected, disconnected, or failed a
 *   reconnect attempt.
 * - `redis-layer:delivery` (channel): a batch of pub/sub messages received, with drops and backlog.
 *
 * Events carry command names, key groups and counts, never a value, a key's id part, a password or a
 * session id.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import diagnosticsChannel from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';

/** Where a socket points: what OpenTelemetry calls server.address, server.port and db.namespace. */
export interface ServerTarget {
  address: string;
  port: number;
  database: number;
}

export interface CommandEvent {
  /** The command's name (`GET`, `SET`, `EVALSHA`…), or `PIPELINE` / `MULTI` for several. */
  operation: string;
  /** The command with every argument replaced by `?` (`SET ? ? EX ?`), or the pipeline's command names. */
  query: string;
  /** How many commands the call carries (1, or a pipeline's length). */
  batchSize: number;
  /** Which socket: `client` (commands) or `publisher`. */
  role: string;
  server: ServerTarget;
  /** `performance.now()` when the call was made, and when its batch went to native code. */
  calledAt: number;
  sentAt?: number;
  /** Milliseconds from the hand-off to native code until the native lane queued the call's write. */
  nativeMs?: number;
  /** Milliseconds from then until its reply was read: the network and Redis. */
  networkMs?: number;
  /** The operation this command belongs to, when it ran inside one. */
  parent?: OperationEvent | undefined;
  /** Set by the channel: the reply, or the error. */
  result?: unknown;
  error?: unknown;
}

export interface OperationEvent {
  service: 'cache' | 'session' | 'rate-limit' | 'lock' | 'broker';
  /** The method, e.g. `get`, `getOrSet`, `checkLimit`, `acquire`, `publish`. */
  operation: string;
  /** The kind of key, from the CacheKeys templates (`user`, `user:profile`, `feed:page`…), `other` else. */
  keyGroup?: string;
  /** `hit`, `local-hit` (from the local tier), `miss`, `stale`, `fail-soft` (cache); `allowed` / `denied` (rate limit); `acquired` / `busy` (lock). */
  outcome?: string;
  allowed?: boolean;
  degraded?: boolean;
  /** Lock: how long acquire waited, and the fencing token it got. */
  waitMs?: number;
  fencingToken?: number;
  /** Broker: how many messages a publish carried. */
  batchSize?: number;
  calledAt: number;
  result?: unknown;
  error?: unknown;
}

export interface ConnectionEvent {
  kind: 'connected' | 'reconnected' | 'disconnected' | 'reconnect-failed';
  role: string;
  /** The log line native code wrote for it (no credentials). */
  message: string;
}

/** A batch of pub/sub messages a subscriber socket received. */
export interface DeliveryEvent {
  role: string;
  /** Messages in the batch, handed to the callbacks now. */
  messages: number;
  /** Messages dropped before this batch because callbacks fell behind and the inbox was full. */
  dropped: number;
  /** Messages received and not yet handed over. */
  backlog: number;
}

export const commandChannel = diagnosticsChannel.tracingChannel<unknown, CommandEvent>('redis-layer:command');
export const operationChannel = diagnosticsChannel.tracingChannel<OperationEvent, OperationEvent>(
  'redis-layer:operation',
);
export const connectionChannel = diagnosticsChannel.channel('redis-layer:connection');
export const deliveryChannel = diagnosticsChannel.channel('redis-layer:delivery');

/** The traced operation a call runs inside: its commands name it as their parent, a fail-soft marks it. */
const operationStore = new AsyncLocalStorage<OperationEvent>();

export function currentOperation(): OperationEvent | undefined {
  return operationStore.getStore();
}

/** Some of a TracingChannel's five events, for `listen`. */
export type Handlers<T> = Partial<Record<'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error', (event: T) => void>>;

/** Subscribes `handlers` to a tracing channel (only the events given); returns the unsubscribe. */
export function listen<T extends object>(
  channel: diagnosticsChannel.TracingChannel<unknown, T>,
  handlers: Handlers<T>,
): () => void {
  const subscribers = handlers as diagnosticsChannel.TracingChannelSubscribers<T>;
  channel.subscribe(subscribers);
  return () => {
    channel.unsubscribe(subscribers);
  };
}

/** Whether anything listens for operations: the one check a service call makes. */
export function tracingOperations(): boolean {
  return operationChannel.start.hasSubscribers;
}

/** Whether anything listens for commands. */
export function tracingCommands(): boolean {
  return commandChannel.start.hasSubscribers;
}

/** Runs `work` as one traced service call; `event` may be filled in by `work` (its outcome). */
export function traceOperation<T>(
  event: Omit<OperationEvent, 'calledAt'>,
  work: (event: OperationEvent) => Promise<T>,
): Promise<T> {
  const full = event as OperationEvent;
  full.calledAt = performance.now();
  return operationChannel.tracePromise(() => operationStore.run(full, () => work(full)), full);
}

const NAMED = new Set([
  'friends',
  'profile',
  'settings',
  'comments',
  'reactions',
  'page',
  'session',
  'messages',
  'unread',
  'suggestions',
  'sessions',
]);
const ROOTS = new Set([
  'user',
  'post',
  'feed',
  'session',
  'conversation',
  'notifications',
  'search',
  'ratelimit',
  'lock',
]);

const keyGroups = new Map<string, string>();
/** Keys whose group is remembered at most; past it the memo starts over. */
const MAX_KEY_GROUPS = 10_000;

/** A key's group for labels: its CacheKeys template without the ids (`user:1:profile` → `user:profile`). */
export function keyGroup(key: string): string {
  let group = keyGroups.get(key);
  if (group === undefined) {
    if (keyGroups.size >= MAX_KEY_GROUPS) keyGroups.clear();
    group = groupOf(key);
    keyGroups.set(key, group);
  }
  return group;
}

function groupOf(key: string): string {
  const parts = key.split(':');
  const root = parts[0] as string;
  if (!ROOTS.has(root)) return 'other';
  const named = parts.slice(1).filter((part) => NAMED.has(part));
  return named.length === 0 ? root : `${root}:${named.join(':')}`;
}

/** The target of a socket from its options (the first node of a cluster; Sentinel's master name). */
export function serverTarget(options: {
  url?: string | undefined;
  clusterNodes?: string[] | undefined;
  sentinelMasterName?: string | undefined;
  database?: number | undefined;
}): ServerTarget {
  const url = options.url ?? options.clusterNodes?.[0];
  let address = options.sentinelMasterName ?? '127.0.0.1';
  let port = 6379;
  let database = options.database ?? 0;
  if (url !== undefined && options.sentinelMasterName === undefined) {
    try {
      const parsed = new URL(url);
      address = parsed.hostname || address;
      port = parsed.port === '' ? 6379 : Number(parsed.port);
      const path = parsed.pathname.replace('/', '');
      if (options.database === undefined && /^\d+$/.test(path)) database = Number(path);
    } catch {
      // Validated elsewhere; an unparsable URL keeps the defaults here.
    }
  }
  return { address, port, database };
}

/** Where a command's time went, in seconds (see `commandPhases`). */
export interface CommandPhases {
  /** JavaScript, from the call until its batch went to native code. */
  queue: number;
  /** Native code, until the write was queued on the socket. */
  native: number;
  /** Network and Redis, until the reply was read. */
  network: number;
  /** From the reply read until this thread took it: what a busy event loop adds. */
  callback: number;
}

/** The phases in the order they happen. */
export const PHASES: ReadonlyArray<keyof CommandPhases> = ['queue', 'native', 'network', 'callback'];

/** The phases of a command that ended at `endedAt` (`performance.now()`); undefined if it was not timed. */
export function commandPhases(event: CommandEvent, endedAt: number): CommandPhases | undefined {
  const { sentAt, nativeMs, networkMs } = event;
  if (sentAt === undefined || nativeMs === undefined || networkMs === undefined) return undefined;
  return {
    queue: (sentAt - event.calledAt) / 1000,
    native: nativeMs / 1000,
    network: networkMs / 1000,
    callback: Math.max(0, endedAt - sentAt - nativeMs - networkMs) / 1000,
  };
}

/** `SET ? ? EX ?`: the command's name and a `?` per argument. */
export function sanitized(args: readonly unknown[]): string {
  let text = String(args[0]).toUpperCase();
  for (let i = 1; i < args.length; i++) text += ' ?';
  return text;
}
