import { randomBytes } from 'node:crypto';
import type { NativeSubscriber, SubscriberLimits } from '../binding';
import type { RedisClient } from './client';
import { redisConnection, RedisConnection } from './connection';
import { RedisLayerError, describeType, fromNative, requireString } from './errors';
import { toJson } from './json';
import { describeError, log } from './logger';
import type { NativeOptions } from './native';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding: typeof import('../binding') = require('../binding.js');

/** A broker message, as the seed defines it. On the wire `timestamp` is an ISO string. */
export interface Message<T = any> {
  type: string;
  data: T;
  timestamp: Date;
  messageId: string;
}

/**
 * Gets every message of its channel (or pattern) in publish order; `channel` names where it came from.
 * Any return value is accepted, as with the seed's `=> void` (`(m) => seen.push(m)` compiles); a
 * returned promise that rejects is logged like a throw.
 */
export type MessageHandler<T = any> = (message: Message<T>, channel: string) => unknown;

export interface MessageBrokerOptions {
  /**
   * Messages held for a JavaScript thread that falls behind; past this the oldest
   * are dropped and the number dropped is logged. @default 100000
   */
  maxQueuedMessages?: number;
  /** The same bound in bytes of channel names and payloads. @default 67108864 (64 MiB) */
  maxQueuedBytes?: number;
}

const DEFAULT_MAX_MESSAGES = 100_000;
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

// 64 random bits per process keep ids from different processes apart; the
// millisecond prefix (never going backwards here) keeps them in time order.
const ID_PREFIX = randomBytes(8).toString('hex');
let lastMillis = 0;
let sequence = 0;

function nextMessageId(): string {
  const now = Date.now();
  if (now > lastMillis) {
    lastMillis = now;
    sequence = 0;
  } else {
    sequence += 1;
  }
  return `${lastMillis}-${ID_PREFIX}-${sequence.toString(36).padStart(4, '0')}`;
}

function limitsFrom(options: unknown): SubscriberLimits {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object') throw new TypeError(`options must be an object, got ${describeType(options)}`);
  const { maxQueuedMessages, maxQueuedBytes } = options as MessageBrokerOptions;
  const check = (value: unknown, name: string): number | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 0xffffffff) {
      throw new TypeError(`options.${name} must be a positive integer, got ${String(value)}`);
    }
    return value;
  };
  return { maxMessages: check(maxQueuedMessages, 'maxQueuedMessages'), maxBytes: check(maxQueuedBytes, 'maxQueuedBytes') };
}

function requireCallback(value: unknown): void {
  if (typeof value !== 'function') throw new TypeError(`callback must be a function, got ${describeType(value)}`);
}

function callHandler(handler: MessageHandler, message: Message, channel: string): void {
  const onError = (error: unknown) => log('error', 'Message handler error', { channel, ...describeError(error) });
  try {
    const result = handler(message, channel);
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      (result as PromiseLike<unknown>).then(undefined, onError);
    }
  } catch (error) {
    onError(error);
  }
}

/**
 * JSON.stringify({ ...message, timestamp: new Date(), messageId }) without the copy:
 * for a plain object the two members are appended to its own text (ISO dates and
 * message ids need no escaping). Anything else takes the spread.
 */
function messageText(message: object, messageId: string): string {
  const plain =
    !Array.isArray(message) &&
    typeof (message as { toJSON?: unknown }).toJSON !== 'function' &&
    !Object.prototype.hasOwnProperty.call(message, 'timestamp') &&
    !Object.prototype.hasOwnProperty.call(message, 'messageId');
  if (plain) {
    const body = JSON.stringify(message);
    const stamp = `"timestamp":"${new Date().toISOString()}","messageId":"${messageId}"}`;
    if (body === '{}') return `{${stamp}`;
    if (body.length > 2 && body.endsWith('}')) return `${body.slice(0, -1)},${stamp}`;
  }
  return toJson({ ...message, timestamp: new Date(), messageId }, 'message');
}

function toDate(value: unknown): Date {
  return typeof value === 'string' || typeof value === 'number' ? new Date(value) : new Date(NaN);
}

/** One pub/sub socket: subscribe-like calls settle by id, in batches, like `Dispatcher`. */
class SubscriberSocket {
  readonly native: NativeSubscriber;
  /** After close() the native socket refuses calls (it has released its callbacks). */
  closed = false;
  private readonly pending = new Map<number, { resolve(): void; reject(error: Error): void }>();
  private nextId = 1;

  constructor(options: NativeOptions, limits: SubscriberLimits, onMessages: (batch: unknown[]) => void) {
    this.native = new binding.NativeSubscriber(
      options,
      limits,
      (batch) => this.settle(batch),
      onMessages,
      ([level, message]) => log(level as 'info', message, { role: 'broker' }),
    );
  }

  run(submit: (id: number) => void): Promise<void> {
    const id = this.nextId;
    this.nextId = id === 0xffffffff ? 1 : id + 1;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      try {
        submit(id);
      } catch (error) {
        this.pending.delete(id);
        reject(fromNative(error));
      }
    });
  }

  close(): void {
    this.closed = true;
    this.native.close();
  }

  private settle(batch: unknown[]): void {
    for (let i = 0; i < batch.length; i += 3) {
      const entry = this.pending.get(batch[i] as number);
      if (entry === undefined) continue;
      this.pending.delete(batch[i] as number);
      if (batch[i + 1] === true) {
        entry.resolve();
      } else {
        const [code, message] = batch[i + 2] as [string, string];
        entry.reject(new RedisLayerError(code, message));
      }
    }
  }
}

interface Subscription {
  handlers: Set<MessageHandler>;
  ready: Promise<void>;
}

type Kind = 'channel' | 'pattern';

interface Outgoing {
  channel: string;
  text: string;
  messageId: string;
  resolve(receivers: number): void;
  reject(error: Error): void;
}

/**
 * The seed's MessageBroker: JSON messages over Redis pub/sub, one Redis
 * subscription per channel however many callbacks. Its own socket subscribes
 * lazily on first use, restores subscriptions after reconnects, and closes with
 * the connection.
 */
export class MessageBroker {
  private readonly connection: RedisConnection;
  private readonly limits: SubscriberLimits;
  private readonly channels = new Map<string, Subscription>();
  private readonly patterns = new Map<string, Subscription>();
  private socket: Promise<SubscriberSocket> | undefined;
  private opened: SubscriberSocket | undefined;
  private readonly outbox: Outgoing[] = [];
  private sending = false;

  constructor(connection?: RedisConnection, options?: MessageBrokerOptions) {
    this.connection = connection ?? redisConnection;
    this.limits = limitsFrom(options);
  }

  subscribe<T = any>(channel: string, callback: MessageHandler<T>): Promise<void> {
    return this.add('channel', channel, callback as MessageHandler);
  }

  unsubscribe<T = any>(channel: string, callback: MessageHandler<T>): Promise<void> {
    return this.remove('channel', channel, callback as MessageHandler);
  }

  /** Like `subscribe` for every channel matching a glob (`post:*`); the callback gets the channel too. */
  psubscribe<T = any>(pattern: string, callback: MessageHandler<T>): Promise<void> {
    return this.add('pattern', pattern, callback as MessageHandler);
  }

  punsubscribe<T = any>(pattern: string, callback: MessageHandler<T>): Promise<void> {
    return this.remove('pattern', pattern, callback as MessageHandler);
  }

  /** Publishes `{ ...message, timestamp, messageId }` as JSON; resolves to the number of receivers Redis reports. (`R` is for code typed against the seed's `Promise<void>`; leave it out.) */
  publish<T = any, R extends number | void = number>(channel: string, message: Omit<Message<T>, 'timestamp' | 'messageId'>): Promise<R>;
  publish<T = any>(channel: string, message: Omit<Message<T>, 'timestamp' | 'messageId'>): Promise<number> {
    let text: string;
    let messageId: string;
    try {
      requireString(channel, 'channel');
      if (message === null || typeof message !== 'object') {
        throw new TypeError(`message must be an object, got ${describeType(message)}`);
      }
      if (typeof message.type !== 'string') throw new TypeError(`message.type must be a string, got ${describeType(message.type)}`);
      messageId = nextMessageId();
      text = messageText(message, messageId);
      this.connection.getPublisher(); // throws "Redis not connected" before connect()
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<number>((resolve, reject) => {
      this.outbox.push({ channel, text, messageId, resolve, reject });
      if (!this.sending) this.flush();
    });
  }

  /** @internal Messages received but not yet handed to callbacks (for backpressure tests). */
  get backlog(): number {
    return this.opened?.native.backlog ?? 0;
  }

  private add(kind: Kind, name: string, callback: MessageHandler): Promise<void> {
    try {
      requireString(name, kind);
      requireCallback(callback);
    } catch (error) {
      return Promise.reject(error);
    }
    const map = kind === 'channel' ? this.channels : this.patterns;
    let subscription = map.get(name);
    if (!subscription) {
      const created: Subscription = { handlers: new Set(), ready: Promise.resolve() };
      created.ready = this.open()
        .then((socket) => socket.run((id) => (kind === 'channel' ? socket.native.subscribe(id, name) : socket.native.psubscribe(id, name))))
        .catch((error: unknown) => {
          if (map.get(name) === created) map.delete(name);
          throw error;
        });
      map.set(name, created);
      subscription = created;
    }
    subscription.handlers.add(callback);
    return subscription.ready.then(() => log('info', kind === 'channel' ? 'Subscribed to channel' : 'Subscribed to pattern', { [kind]: name }));
  }

  private remove(kind: Kind, name: string, callback: MessageHandler): Promise<void> {
    try {
      requireString(name, kind);
      requireCallback(callback);
    } catch (error) {
      return Promise.reject(error);
    }
    const map = kind === 'channel' ? this.channels : this.patterns;
    const subscription = map.get(name);
    if (!subscription || !subscription.handlers.delete(callback) || subscription.handlers.size > 0) return Promise.resolve();
    map.delete(name);
    const socket = this.socket;
    if (!socket) return Promise.resolve();
    return socket
      .then((open) => {
        // A closed socket has no subscriptions left to end.
        if (open.closed) return;
        return open.run((id) => (kind === 'channel' ? open.native.unsubscribe(id, name) : open.native.punsubscribe(id, name)));
      })
      .then(() => log('info', kind === 'channel' ? 'Unsubscribed from channel' : 'Unsubscribed from pattern', { [kind]: name }));
  }

  /**
   * Sends everything published so far as one pipeline, and the next batch only
   * after it: PUBLISH reaches Redis in call order even when callers do not await,
   * which concurrent single commands on the client do not promise.
   */
  private flush(): void {
    const batch = this.outbox.splice(0);
    this.sending = batch.length > 0;
    if (!this.sending) return;
    let publisher: RedisClient;
    try {
      publisher = this.connection.getPublisher();
    } catch (error) {
      for (const item of batch) item.reject(fromNative(error));
      this.flush();
      return;
    }
    const pipeline = publisher.pipeline();
    for (const item of batch) pipeline.publish(item.channel, item.text);
    pipeline
      .exec()
      .then(
        (replies) =>
          batch.forEach((item, i) => {
            const reply = replies[i];
            if (reply instanceof Error) return item.reject(reply);
            item.resolve(reply as number);
            log('debug', 'Message published', { channel: item.channel, messageId: item.messageId });
          }),
        (error: Error) => batch.forEach((item) => item.reject(error)),
      )
      .finally(() => this.flush());
  }

  /** The broker's socket, opened on first use and closed with the connection. */
  private open(): Promise<SubscriberSocket> {
    if (this.socket) return this.socket;
    let socket: SubscriberSocket;
    try {
      this.connection.getPublisher(); // throws "Redis not connected" before connect()
      socket = new SubscriberSocket(this.connection.nativeOptions(), this.limits, (batch) => this.onMessages(batch));
    } catch (error) {
      return Promise.reject(fromNative(error));
    }
    const unhook = this.connection.onClose(() => this.reset(socket, unhook));
    const opening = socket.run((id) => socket.native.connect(id)).then(
      () => socket,
      (error: unknown) => {
        this.reset(socket, unhook);
        throw error;
      },
    );
    this.socket = opening;
    this.opened = socket;
    return opening;
  }

  private reset(socket: SubscriberSocket, unhook: () => void): void {
    unhook();
    socket.close();
    if (this.opened !== socket) return;
    this.socket = undefined;
    this.opened = undefined;
    this.channels.clear();
    this.patterns.clear();
  }

  private onMessages(batch: unknown[]): void {
    // A throw escaping here would be an uncaught exception on the native callback.
    try {
      const dropped = batch[0] as number;
      if (dropped > 0) {
        log('warn', 'Pub/sub messages dropped: callbacks fell behind and the queue was full', {
          dropped,
          maxQueuedMessages: this.limits.maxMessages ?? DEFAULT_MAX_MESSAGES,
          maxQueuedBytes: this.limits.maxBytes ?? DEFAULT_MAX_BYTES,
        });
      }
      for (let i = 1; i < batch.length; i += 3) {
        const payload = batch[i + 2];
        if (typeof payload === 'string') this.deliver(batch[i] as string | null, batch[i + 1] as string, payload);
        // What no JavaScript string can hold comes as its size in bytes (src/subscriber.rs).
        else log('error', 'Pub/sub message dropped: too large for a JavaScript string', { channel: batch[i + 1], bytes: payload });
      }
    } catch (error) {
      log('error', 'Message delivery error', describeError(error));
    }
  }

  private deliver(pattern: string | null, channel: string, payload: string): void {
    const subscription = pattern === null ? this.channels.get(channel) : this.patterns.get(pattern);
    if (!subscription || subscription.handlers.size === 0) return;
    let message: Message;
    try {
      const parsed: unknown = JSON.parse(payload);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new SyntaxError('message is not a JSON object');
      // The parsed object is ours alone: the timestamp is revived in place (same key order as a copy).
      const fields = parsed as Record<string, unknown>;
      fields.timestamp = toDate(fields.timestamp);
      message = fields as unknown as Message;
    } catch (error) {
      log('error', 'Message parsing error', { channel, ...describeError(error) });
      return;
    }
    const { handlers } = subscription;
    if (handlers.size === 1) {
      callHandler(handlers.values().next().value as MessageHandler, message, channel);
      return;
    }
    // A snapshot: handlers added while this message is delivered get the next one.
    for (const handler of [...handlers]) callHandler(handler, message, channel);
  }
}

export const messageBroker = new MessageBroker();
