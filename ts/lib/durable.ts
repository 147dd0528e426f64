import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Message } from './broker';
import { redisConnection, type RedisConnection } from './connection';
import { describeType, fromNative, RedisLayerError, requireString, unexpectedReply } from './errors';
import { messageText, nextMessageId, parseEnvelope } from './envelope';
import { describeError, log } from './logger';
import { Outbox, type PublishBatch } from './outbox';
import { registerScript } from './native';
import * as lua from './scripts/durable';
import { hashTag, slotOf } from './slot';
import type { SubscriptionListener } from './subscriber';
import { traceOperation, tracingOperations } from './telemetry';

/** A message of a DurableBroker: the seed's envelope, and where it stands in its stream. */
export interface DurableMessage<T = any> extends Message<T> {
  /** 1 on the first delivery; more when the message comes again (a failed callback, or a consumer that died holding it). */
  deliveryCount: number;
  /** The stream entry's id (`<ms>-<seq>`), as `publish` resolved to; `from` and `seek` take it. */
  streamId: string;
}

/**
 * Gets each message of its channel. The message is acknowledged once every callback of the
 * channel has returned, or its returned promise resolved; a throw or a rejection leaves it
 * pending, to be delivered again after `visibilityTimeoutMs`.
 */
export type DurableHandler<T = any> = (message: DurableMessage<T>, channel: string) => unknown;

/** Where a new consumer group starts: new messages only, the whole stream, an entry id (inclusive), or a time. */
export type DurableStart = 'latest' | 'earliest' | string | Date;

export interface DurableBrokerOptions {
  /**
   * The consumer group. Brokers sharing a group share its messages (a work queue: each message
   * goes to one of them); brokers with different groups each get every message (fan-out). Without
   * it the broker reads in a group of its own, removed by `close()`: every such broker gets every
   * message published while it is subscribed.
   */
  group?: string | undefined;
  /** This broker's name in its groups. @default `<hostname>-<pid>-<random>` */
  consumer?: string | undefined;
  /** Where a group this broker creates starts; a group that exists keeps its place (see `seek`). @default 'latest' */
  from?: DurableStart | undefined;
  /** Retention: each publish trims the stream to about this many entries (`XADD MAXLEN ~`). @default 100000 */
  maxLen?: number | undefined;
  /** Retention by age instead: entries older than this are trimmed on publish (`XADD MINID ~`). */
  maxAgeMs?: number | undefined;
  /** Messages of one channel handed to callbacks and not yet settled, at most; reads wait for room. @default 100 */
  maxInFlight?: number | undefined;
  /** A message unacknowledged this long (its consumer died, or its callback failed) is delivered again. @default 30000 */
  visibilityTimeoutMs?: number | undefined;
  /** After this many deliveries without an acknowledgement a message goes to the dead-letter stream. @default 5 */
  maxDeliveries?: number | undefined;
  /** How often pending messages are checked for the visibility timeout. @default visibilityTimeoutMs / 4, within 10..5000 */
  claimIntervalMs?: number | undefined;
  /** How often the stream is read without a wake-up (wake-ups lost across a reconnect). @default 1000 */
  pollIntervalMs?: number | undefined;
  /** `publish` resolves only once this many replicas have the message (Redis WAIT), else rejects with ERR_NOT_REPLICATED. @default 0 */
  waitForReplicas?: number | undefined;
  /** How long a publish waits for those replicas. @default 1000 */
  replicaTimeoutMs?: number | undefined;
}

/** What a DurableBroker has done since it was made. */
export interface DurableBrokerStats {
  /** Publishes Redis accepted (and replicated, with `waitForReplicas`). */
  published: number;
  /** Messages handed to callbacks, redeliveries included. */
  delivered: number;
  /** Deliveries of a message that had been delivered before. */
  redelivered: number;
  /** Messages acknowledged (XACK) after their callbacks succeeded. */
  acknowledged: number;
  /** Deliveries whose callback threw or rejected. */
  failed: number;
  /** Messages this broker moved to a dead-letter stream. */
  deadLettered: number;
  /** Messages in callbacks now. */
  inFlight: number;
}

/** The Redis names of a channel: its stream, its dead-letter stream and its wake-up pub/sub channel, all in one slot. */
export function durableKeys(channel: string): { stream: string; deadLetter: string; wake: string } {
  const stream = `stream:{${channel}}`;
  return { stream, deadLetter: `${stream}:dead`, wake: `${stream}:wake` };
}

const scripts = {
  deadLetter: registerScript(lua.DURABLE_DEAD_LETTER),
  forgetConsumer: registerScript(lua.DURABLE_FORGET_CONSUMER),
};

const DEAD_LETTER_MAX_LEN = '100000';
/** Last callback errors kept per channel, for the dead-letter reason. */
const MAX_REMEMBERED_ERRORS = 1000;

const STREAM_ID = /^(\d+)-(\d+)$/;
const MAX_SEQ = 18446744073709551615n;

/** The id just before `id`, so that a group set there delivers `id` itself next. */
function before(id: string): string {
  const match = STREAM_ID.exec(id);
  if (!match) return id;
  const ms = BigInt(match[1] as string);
  const seq = BigInt(match[2] as string);
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  return ms > 0n ? `${ms - 1n}-${MAX_SEQ}` : '0';
}

/** The XGROUP CREATE / SETID id for a start; bad ones are a TypeError naming `name`. */
function startId(from: unknown, name: string): string {
  if (from === 'latest') return '$';
  if (from === 'earliest') return '0';
  if (from instanceof Date) {
    const ms = from.getTime();
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`${name} must be a valid Date, got ${String(from)}`);
    return before(`${Math.floor(ms)}-0`);
  }
  if (typeof from === 'string' && STREAM_ID.test(from)) return before(from);
  if (typeof from === 'string' && /^\d+$/.test(from)) return before(`${from}-0`);
  throw new TypeError(`${name} must be 'latest', 'earliest', a stream id (<ms>-<seq>) or a Date, got ${String(from)}`);
}

function integerOption(value: unknown, name: string, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new TypeError(`options.${name} must be an integer, got ${describeType(value)} ${String(value)}`);
  }
  if (value < min) throw new RangeError(`options.${name} must be at least ${min}, got ${value}`);
  return value;
}

function nameOption(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`options.${name} must be a non-empty string, got ${describeType(value)}`);
  }
  return value;
}

/** A stream entry as XREADGROUP / XCLAIM answer it. */
type Entry = [id: string, fields: unknown];

/** The entries of an XREADGROUP reply for one stream (null: none), or of an XCLAIM reply (`claimed`). */
function entriesOf(reply: unknown, what: 'XREADGROUP' | 'XCLAIM'): Entry[] {
  if (reply === null) return [];
  if (!Array.isArray(reply)) throw unexpectedReply(what, reply);
  let entries: unknown = reply;
  if (what === 'XREADGROUP') {
    // [[key, entries]] as RESP2 has it, or [key, entries] as the binding flattens one stream.
    const one = typeof reply[0] === 'string' ? reply : reply[0];
    entries = Array.isArray(one) && one.length === 2 ? one[1] : undefined;
  }
  if (!Array.isArray(entries)) throw unexpectedReply(what, reply);
  // An entry trimmed while pending comes as null (Redis < 7) or not at all.
  return entries.filter((entry): entry is Entry => Array.isArray(entry) && typeof entry[0] === 'string');
}

/** The `m` field of an entry: the message text. */
function textOf(fields: unknown): string | undefined {
  if (!Array.isArray(fields)) return undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'm') return String(fields[i + 1]);
  return undefined;
}

/** The message text as a DurableMessage, or undefined when it is not a JSON object. */
function parseMessage(text: string | undefined, streamId: string, deliveryCount: number): DurableMessage | undefined {
  if (text === undefined) return undefined;
  let fields: Record<string, unknown>;
  try {
    fields = parseEnvelope(text);
  } catch {
    return undefined;
  }
  fields.deliveryCount = deliveryCount;
  fields.streamId = streamId;
  return fields as unknown as DurableMessage;
}

const isRedisCode = (error: unknown, code: string): boolean => error instanceof Error && error.message.includes(code);

interface Outgoing {
  stream: string;
  wake: string;
  text: string;
  resolve(id: string): void;
  reject(error: Error): void;
}

/** One channel this broker reads: its handlers and the state of its read loop. */
interface Channel {
  name: string;
  stream: string;
  deadLetter: string;
  wake: string;
  handlers: Set<DurableHandler>;
  ready: Promise<void>;
  /** Entry ids handed to callbacks and not yet settled. */
  inFlight: Set<string>;
  reading: boolean;
  /** A read is queued for the end of this turn. */
  readQueued: boolean;
  claiming: boolean;
  /** A read may find more: a wake-up came, or the last read filled the room it had. */
  more: boolean;
  stopped: boolean;
  acks: string[];
  errors: Map<string, string>;
  listener: SubscriptionListener;
  /** Called when inFlight becomes empty. */
  drained: Array<() => void>;
  /** Consecutive failed reads, to log a streak once. */
  failures: number;
}

/**
 * At-least-once messaging on Redis Streams with the MessageBroker's shape: `publish` appends to
 * the channel's stream (`durableKeys`), and `subscribe` reads it in a consumer group, acknowledging
 * each message once its callbacks succeed. See DurableBrokerOptions for fan-out and work queues.
 * Reads never block the connection's command socket: publishes wake the readers over pub/sub,
 * and a poll covers wake-ups lost across reconnects.
 */
export class DurableBroker {
  private readonly connection: RedisConnection;
  /** The consumer group, and whether it is this broker's own (removed on close). */
  readonly group: string;
  readonly consumer: string;
  private readonly ownGroup: boolean;
  private readonly start: string;
  private readonly maxLen: number;
  private readonly maxAgeMs: number | undefined;
  private readonly maxInFlight: number;
  private readonly visibilityTimeoutMs: number;
  private readonly maxDeliveries: number;
  private readonly claimIntervalMs: number;
  private readonly pollIntervalMs: number;
  private readonly waitForReplicas: number;
  private readonly replicaTimeoutMs: number;
  private readonly channels = new Map<string, Channel>();
  private readonly counts = { published: 0, delivered: 0, redelivered: 0, acknowledged: 0, failed: 0, deadLettered: 0 };
  private readonly acking = new Set<Promise<void>>();
  private readonly outbox: Outbox<Outgoing>;
  private pollTimer: NodeJS.Timeout | undefined;
  private claimTimer: NodeJS.Timeout | undefined;
  private unhook: (() => void) | undefined;
  private closed = false;

  constructor(connection?: RedisConnection, options?: DurableBrokerOptions) {
    this.connection = connection ?? redisConnection;
    this.outbox = new Outbox(
      this.connection,
      (batch) => this.publishing(batch),
      (item) => slotOf(item.stream),
    );
    if (options !== undefined && options !== null && typeof options !== 'object') {
      throw new TypeError(`options must be an object, got ${describeType(options)}`);
    }
    const given: DurableBrokerOptions = options ?? {};
    const group = nameOption(given.group, 'group');
    this.consumer =
      nameOption(given.consumer, 'consumer') ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.ownGroup = group === undefined;
    this.group = group ?? `own:${this.consumer}`;
    this.start = startId(given.from ?? 'latest', 'options.from');
    if (given.maxLen !== undefined && given.maxAgeMs !== undefined) {
      throw new TypeError('options.maxLen and options.maxAgeMs cannot both be set: pick one retention');
    }
    this.maxLen = integerOption(given.maxLen, 'maxLen', 1, 100_000);
    this.maxAgeMs = given.maxAgeMs === undefined ? undefined : integerOption(given.maxAgeMs, 'maxAgeMs', 1, 0);
    this.maxInFlight = integerOption(given.maxInFlight, 'maxInFlight', 1, 100);
    this.visibilityTimeoutMs = integerOption(given.visibilityTimeoutMs, 'visibilityTimeoutMs', 1, 30_000);
    this.maxDeliveries = integerOption(given.maxDeliveries, 'maxDeliveries', 1, 5);
    this.claimIntervalMs = integerOption(
      given.claimIntervalMs,
      'claimIntervalMs',
      1,
      Math.min(5000, Math.max(10, Math.floor(this.visibilityTimeoutMs / 4))),
    );
    this.pollIntervalMs = integerOption(given.pollIntervalMs, 'pollIntervalMs', 1, 1000);
    this.waitForReplicas = integerOption(given.waitForReplicas, 'waitForReplicas', 0, 0);
    this.replicaTimeoutMs = integerOption(given.replicaTimeoutMs, 'replicaTimeoutMs', 1, 1000);
  }

  /** Reads `channel`'s stream in this broker's group from now on; resolves once the group and the wake-up subscription exist. */
  subscribe<T = any>(channel: string, callback: DurableHandler<T>): Promise<void> {
    try {
      checkChannel(channel);
      if (typeof callback !== 'function')
        throw new TypeError(`callback must be a function, got ${describeType(callback)}`);
      if (this.closed) throw new Error('DurableBroker is closed');
      this.connection.dispatcher(); // throws ERR_NOT_CONNECTED before connect()
    } catch (error) {
      return Promise.reject(fromNative(error));
    }
    let state = this.channels.get(channel);
    if (state === undefined) {
      state = this.track(channel);
      const created = state;
      created.ready = this.open(created).catch((error: unknown) => {
        if (this.channels.get(channel) === created) this.channels.delete(channel);
        created.stopped = true;
        this.stopTimersIfIdle();
        throw error;
      });
    }
    state.handlers.add(callback as DurableHandler);
    return state.ready;
  }

  /** Stops calling `callback` (every callback of the channel when none is given); the last one gone stops reading, after in-flight messages settle. */
  async unsubscribe<T = any>(channel: string, callback?: DurableHandler<T>): Promise<void> {
    checkChannel(channel);
    if (callback !== undefined && typeof callback !== 'function')
      throw new TypeError(`callback must be a function, got ${describeType(callback)}`);
    const state = this.channels.get(channel);
    if (state === undefined) return;
    if (callback === undefined) state.handlers.clear();
    else if (!state.handlers.delete(callback as DurableHandler)) return;
    if (state.handlers.size > 0) return;
    await this.stop(state);
  }

  /** Not available: a stream is read by its name. Rejects with a TypeError. */
  psubscribe(_pattern: string, _callback: DurableHandler): Promise<never> {
    return Promise.reject(
      new TypeError('pattern subscriptions are not available on a DurableBroker: a stream is read by its exact name'),
    );
  }

  /**
   * Appends `{ ...message, timestamp, messageId }` as JSON to the channel's stream and wakes its
   * readers; resolves to the stream entry id once Redis has it (and `waitForReplicas` replicas do).
   */
  publish<T = any>(channel: string, message: Omit<Message<T>, 'timestamp' | 'messageId'>): Promise<string> {
    let item: Outgoing | undefined;
    const queued = new Promise<string>((resolve, reject) => {
      try {
        if (message === null || typeof message !== 'object') {
          throw new TypeError(`message must be an object, got ${describeType(message)}`);
        }
        if (typeof message.type !== 'string')
          throw new TypeError(`message.type must be a string, got ${describeType(message.type)}`);
        const { stream, wake } = keysOf(channel);
        const text = messageText(message, nextMessageId());
        this.connection.dispatcher('publisher'); // throws ERR_NOT_CONNECTED before connect()
        item = { stream, wake, text, resolve, reject };
      } catch (error) {
        reject(fromNative(error));
        return;
      }
      this.outbox.push(item);
    });
    if (item === undefined || !tracingOperations()) return queued;
    return traceOperation({ service: 'broker', operation: 'durable-publish', batchSize: 1 }, () => queued);
  }

  /**
   * Moves this broker's group on `channel` so that the next message read is the first at or
   * after `from` (`XGROUP SETID`): a replay, or a skip ahead. Pending messages stay pending.
   */
  async seek(channel: string, from: DurableStart): Promise<void> {
    checkChannel(channel);
    const id = startId(from, 'from');
    const { stream } = durableKeys(channel);
    await this.connection.dispatcher().command(['XGROUP', 'SETID', stream, this.group, id]);
    const state = this.channels.get(channel);
    if (state !== undefined) this.wake(state);
  }

  /** Counts since this broker was made. */
  stats(): DurableBrokerStats {
    let inFlight = 0;
    for (const state of this.channels.values()) inFlight += state.inFlight.size;
    return { ...this.counts, inFlight };
  }

  /**
   * Stops reading every channel, waits for the callbacks in flight and sends their
   * acknowledgements; removes the broker's own group (no `group` option), or its consumer
   * name when it holds no pending message. Later subscribes reject. Never rejects.
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.channels.values()].map((state) => this.stop(state)));
    await Promise.all([...this.acking]);
    this.unhook?.();
    this.unhook = undefined;
  }

  private track(channel: string): Channel {
    const { stream, deadLetter, wake } = durableKeys(channel);
    const state: Channel = {
      name: channel,
      stream,
      deadLetter,
      wake,
      handlers: new Set(),
      ready: Promise.resolve(),
      inFlight: new Set(),
      reading: false,
      readQueued: false,
      claiming: false,
      more: true,
      stopped: false,
      acks: [],
      errors: new Map(),
      listener: () => this.wake(state),
      drained: [],
      failures: 0,
    };
    this.channels.set(channel, state);
    return state;
  }

  private async open(state: Channel): Promise<void> {
    await this.createGroup(state, this.start);
    await this.connection.getSubscriber().subscribe(state.wake, state.listener);
    if (state.stopped) return;
    this.unhook ??= this.connection.onClose(() => this.dropAll());
    this.startTimers();
    log('info', 'Subscribed to durable channel', { channel: state.name, group: this.group, consumer: this.consumer });
    this.wake(state);
  }

  private async createGroup(state: Channel, id: string): Promise<void> {
    try {
      await this.connection.dispatcher().command(['XGROUP', 'CREATE', state.stream, this.group, id, 'MKSTREAM']);
    } catch (error) {
      if (!isRedisCode(error, 'BUSYGROUP')) throw error;
    }
  }

  private wake(state: Channel): void {
    state.more = true;
    if (!state.reading && !state.stopped) void this.read(state);
  }

  /** Reads new entries while there is room for them in flight and the stream may hold more. */
  private async read(state: Channel): Promise<void> {
    state.reading = true;
    try {
      while (!state.stopped && state.more) {
        const room = this.maxInFlight - state.inFlight.size;
        if (room <= 0) return; // a settling callback reads again
        state.more = false;
        const reply = await this.connection
          .dispatcher()
          .command([
            'XREADGROUP',
            'GROUP',
            this.group,
            this.consumer,
            'COUNT',
            String(room),
            'STREAMS',
            state.stream,
            '>',
          ]);
        const entries = entriesOf(reply, 'XREADGROUP');
        if (entries.length >= room) state.more = true;
        for (const [id, fields] of entries) this.deliver(state, id, fields, 1);
      }
      if (state.failures > 0) log('info', 'Durable channel readable again', { channel: state.name });
      state.failures = 0;
    } catch (error) {
      state.more = true; // the poll timer tries again
      if (state.stopped) return;
      if (isRedisCode(error, 'NOGROUP')) {
        // The stream or group is gone (deleted, or a restart without persistence): recreate it, replaying what the stream holds.
        log('warn', 'Durable consumer group missing: recreated from the start of the stream', {
          channel: state.name,
          group: this.group,
        });
        await this.createGroup(state, '0').catch((createError: unknown) =>
          log('error', 'Durable consumer group creation failed', {
            channel: state.name,
            ...describeError(createError),
          }),
        );
      } else if (state.failures++ === 0) {
        log('error', 'Durable read failed: retrying', { channel: state.name, ...describeError(error) });
      }
    } finally {
      state.reading = false;
    }
  }

  /** Hands one entry to every callback of the channel; acknowledges it once all succeeded. */
  private deliver(state: Channel, id: string, fields: unknown, deliveryCount: number): void {
    const message = parseMessage(textOf(fields), id, deliveryCount);
    if (message === undefined) {
      log('error', 'Durable message unreadable: moved to the dead-letter stream', {
        channel: state.name,
        streamId: id,
      });
      void this.deadLetter(state, id, 0, 0, 'unreadable');
      return;
    }
    state.inFlight.add(id);
    this.counts.delivered += 1;
    if (deliveryCount > 1) this.counts.redelivered += 1;
    const waits: PromiseLike<unknown>[] = [];
    let failure: { error: unknown } | undefined;
    for (const handler of state.handlers.size === 1 ? state.handlers : [...state.handlers]) {
      try {
        const result = handler(message, state.name);
        if (
          result !== null &&
          typeof result === 'object' &&
          typeof (result as PromiseLike<unknown>).then === 'function'
        )
          waits.push(result as PromiseLike<unknown>);
      } catch (error) {
        failure ??= { error };
      }
    }
    const done = (error?: { error: unknown }) => this.settled(state, id, deliveryCount, error);
    if (waits.length === 0) done(failure);
    else
      Promise.all(waits).then(
        () => done(failure),
        (error: unknown) => done(failure ?? { error }),
      );
  }

  private settled(state: Channel, id: string, deliveryCount: number, failure: { error: unknown } | undefined): void {
    state.inFlight.delete(id);
    if (failure === undefined) {
      state.errors.delete(id);
      this.ack(state, id);
    } else {
      this.counts.failed += 1;
      const detail = describeError(failure.error);
      if (state.errors.size >= MAX_REMEMBERED_ERRORS) state.errors.clear();
      state.errors.set(id, String(detail.message));
      log('error', 'Durable message handler error: left pending for redelivery', {
        channel: state.name,
        streamId: id,
        deliveryCount,
        ...detail,
      });
    }
    if (state.inFlight.size === 0) for (const resolve of state.drained.splice(0)) resolve();
    // After the acknowledgements of this turn (queued first), one read for every callback that settled in it.
    if (state.more && !state.readQueued) {
      state.readQueued = true;
      queueMicrotask(() => this.readMore(state));
    }
  }

  private readMore(state: Channel): void {
    state.readQueued = false;
    if (!state.stopped && !state.reading && state.more) void this.read(state);
  }

  /** Queues an acknowledgement; those of one microtask turn go as one XACK. */
  private ack(state: Channel, id: string): void {
    state.acks.push(id);
    if (state.acks.length === 1) queueMicrotask(() => this.flushAcks(state));
  }

  private flushAcks(state: Channel): void {
    const ids = state.acks;
    if (ids.length === 0) return;
    state.acks = [];
    let sent: Promise<void>;
    try {
      sent = this.connection
        .dispatcher()
        .command<number>(['XACK', state.stream, this.group, ...ids])
        .then((acknowledged) => {
          this.counts.acknowledged += typeof acknowledged === 'number' ? acknowledged : 0;
        });
    } catch (error) {
      sent = Promise.reject(fromNative(error));
    }
    const tracked = sent.catch((error: unknown) =>
      log('warn', 'Durable acknowledgement failed: the messages will be delivered again', {
        channel: state.name,
        messages: ids.length,
        ...describeError(error),
      }),
    );
    this.acking.add(tracked);
    void tracked.then(() => this.acking.delete(tracked));
  }

  /**
   * Delivers again what waited past the visibility timeout in the group (a dead consumer's
   * messages, failed callbacks), or moves it to the dead-letter stream after maxDeliveries.
   */
  private async claim(state: Channel): Promise<void> {
    const room = this.maxInFlight - state.inFlight.size;
    if (state.claiming || state.stopped || room <= 0) return;
    state.claiming = true;
    try {
      const dispatcher = this.connection.dispatcher();
      const idle = String(this.visibilityTimeoutMs);
      const reply = await dispatcher.command([
        'XPENDING',
        state.stream,
        this.group,
        'IDLE',
        idle,
        '-',
        '+',
        String(room + state.inFlight.size),
      ]);
      if (!Array.isArray(reply)) throw unexpectedReply('XPENDING', reply);
      const counts = new Map<string, number>();
      for (const row of reply as unknown[]) {
        if (!Array.isArray(row)) continue;
        const [id, owner, , deliveries] = row as [string, string, number, number];
        if (owner === this.consumer && state.inFlight.has(id)) continue;
        if (deliveries >= this.maxDeliveries) {
          await this.deadLetter(state, id, this.visibilityTimeoutMs, this.maxDeliveries, 'max-deliveries');
        } else if (counts.size < room) {
          counts.set(id, deliveries);
        }
      }
      if (counts.size === 0 || state.stopped) return;
      const claimed = await dispatcher.command([
        'XCLAIM',
        state.stream,
        this.group,
        this.consumer,
        idle,
        ...counts.keys(),
      ]);
      if (state.stopped) return;
      for (const [id, fields] of entriesOf(claimed, 'XCLAIM'))
        this.deliver(state, id, fields, (counts.get(id) ?? 0) + 1);
    } catch (error) {
      if (!state.stopped && !isRedisCode(error, 'NOGROUP'))
        log('warn', 'Durable claim failed: retrying', { channel: state.name, ...describeError(error) });
    } finally {
      state.claiming = false;
    }
  }

  /** Moves entry `id` to the dead-letter stream and acknowledges it (one script), logged and counted. */
  private async deadLetter(
    state: Channel,
    id: string,
    minIdleMs: number,
    deliveries: number,
    reason: string,
  ): Promise<void> {
    const lastError = state.errors.get(id);
    const why = lastError === undefined ? reason : `${reason}: ${lastError}`;
    try {
      const moved = await this.connection
        .dispatcher()
        .script(
          scripts.deadLetter,
          [state.stream, state.deadLetter],
          [this.group, id, String(minIdleMs), String(deliveries), DEAD_LETTER_MAX_LEN, why],
        );
      if (moved === 0) return;
      state.errors.delete(id);
      this.counts.deadLettered += 1;
      log('error', 'Durable message dead-lettered', {
        channel: state.name,
        streamId: id,
        deadLetter: state.deadLetter,
        group: this.group,
        reason: why,
        ...(moved === 2 ? { trimmed: true } : {}),
      });
    } catch (error) {
      log('warn', 'Durable dead-lettering failed: retrying', {
        channel: state.name,
        streamId: id,
        ...describeError(error),
      });
    }
  }

  /** Stops reading `state`, waits for its callbacks and acknowledgements, then tidies the group. */
  private async stop(state: Channel): Promise<void> {
    if (this.channels.get(state.name) === state) this.channels.delete(state.name);
    this.stopTimersIfIdle();
    if (state.stopped) return;
    state.stopped = true;
    try {
      await state.ready;
    } catch {
      return; // never opened
    }
    try {
      await this.connection.getSubscriber().unsubscribe(state.wake, state.listener);
    } catch (error) {
      log('warn', 'Durable wake-up unsubscribe failed', { channel: state.name, ...describeError(error) });
    }
    if (state.inFlight.size > 0) await new Promise<void>((resolve) => state.drained.push(resolve));
    this.flushAcks(state);
    await Promise.all([...this.acking]);
    try {
      const dispatcher = this.connection.dispatcher();
      if (this.ownGroup) await dispatcher.command(['XGROUP', 'DESTROY', state.stream, this.group]);
      else await dispatcher.script(scripts.forgetConsumer, [state.stream], [this.group, this.consumer]);
    } catch (error) {
      if (!(error instanceof RedisLayerError && error.code === 'ERR_NOT_CONNECTED'))
        log('warn', 'Durable group clean-up failed', { channel: state.name, ...describeError(error) });
    }
    log('info', 'Unsubscribed from durable channel', { channel: state.name, group: this.group });
  }

  /** The connection is closing: stop at once, sending the acknowledgements already due. */
  private dropAll(): void {
    for (const state of this.channels.values()) {
      state.stopped = true;
      this.flushAcks(state);
      for (const resolve of state.drained.splice(0)) resolve();
    }
    this.channels.clear();
    this.stopTimersIfIdle();
    this.unhook?.();
    this.unhook = undefined;
  }

  private startTimers(): void {
    if (this.pollTimer === undefined) {
      this.pollTimer = setInterval(() => {
        for (const state of this.channels.values()) this.wake(state);
      }, this.pollIntervalMs);
      this.pollTimer.unref();
    }
    if (this.claimTimer === undefined) {
      this.claimTimer = setInterval(() => {
        for (const state of this.channels.values()) void this.claim(state);
      }, this.claimIntervalMs);
      this.claimTimer.unref();
    }
  }

  private stopTimersIfIdle(): void {
    if (this.channels.size > 0) return;
    clearInterval(this.pollTimer);
    clearInterval(this.claimTimer);
    this.pollTimer = undefined;
    this.claimTimer = undefined;
  }

  /**
   * One batch of the outbox: the XADDs, one wake-up PUBLISH per stream, and WAIT when asked; each
   * message settled by its XADD's reply (and the WAIT's).
   */
  private publishing(batch: Outgoing[]): PublishBatch {
    const trim =
      this.maxAgeMs === undefined
        ? ['MAXLEN', '~', String(this.maxLen)]
        : ['MINID', '~', `${Math.max(0, Date.now() - this.maxAgeMs)}-0`];
    const commands: string[][] = batch.map((item) => ['XADD', item.stream, ...trim, '*', 'm', item.text]);
    const woken = new Set<string>();
    for (const item of batch) {
      if (woken.has(item.stream)) continue;
      woken.add(item.stream);
      commands.push(['PUBLISH', item.wake, item.stream]);
    }
    const waits = this.waitForReplicas > 0;
    if (waits) commands.push(['WAIT', String(this.waitForReplicas), String(this.replicaTimeoutMs)]);
    return {
      commands,
      settle: (replies) => {
        let replicated: Error | undefined;
        if (waits) {
          const reached = replies[replies.length - 1];
          if (reached instanceof Error) replicated = reached;
          else if (typeof reached !== 'number') replicated = unexpectedReply('WAIT', reached);
          else if (reached < this.waitForReplicas)
            replicated = new RedisLayerError(
              'ERR_NOT_REPLICATED',
              `durable publish reached ${reached} of ${this.waitForReplicas} replicas within ${this.replicaTimeoutMs} ms`,
            );
        }
        batch.forEach((item, i) => {
          const reply = replies[i];
          if (reply instanceof Error) item.reject(reply);
          else if (typeof reply !== 'string') item.reject(unexpectedReply('XADD', reply));
          else if (replicated !== undefined) item.reject(replicated);
          else {
            this.counts.published += 1;
            item.resolve(reply);
          }
        });
      },
    };
  }
}

/** A channel name whose keys share a hash slot: a non-empty string not starting with `}`. */
function checkChannel(channel: unknown): void {
  keysOf(channel);
}

const known = new Map<string, ReturnType<typeof durableKeys>>();
/** The keys of a checked channel name, remembered for the channels a process publishes to most. */
function keysOf(channel: unknown): ReturnType<typeof durableKeys> {
  const cached = known.get(channel as string);
  if (cached !== undefined) return cached;
  requireString(channel, 'channel');
  const keys = durableKeys(channel as string);
  if (hashTag(keys.stream) === undefined) {
    throw new TypeError(`channel must be a non-empty string not starting with '}', got ${JSON.stringify(channel)}`);
  }
  if (known.size >= 10_000) known.clear();
  known.set(channel as string, keys);
  return keys;
}
