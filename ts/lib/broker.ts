import type { SubscriberLimits } from '../../binding';
import { redisConnection, type RedisConnection } from './connection';
import { describeType, fromNative, requireString } from './errors';
import { messageText, nextMessageId, parseEnvelope } from './envelope';
import { describeError, log } from './logger';
import { Outbox, type PublishBatch } from './outbox';
import { slotOf } from './slot';
import { callEach, Fanout, requireSubscription, Subscriber } from './subscriber';
import { traceOperation, tracingOperations } from './telemetry';

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

/**
 * Bounds of the inbox that holds messages for a JavaScript thread that falls behind.
 * A broker given either gets an inbox, and so a subscriber socket, of its own; without
 * them it subscribes on the connection's subscriber socket (`getSubscriber()`).
 */
export interface MessageBrokerOptions {
  /** Past this many messages the oldest are dropped and the number dropped is logged. @default 100000 */
  maxQueuedMessages?: number | undefined;
  /** The same bound in bytes of channel names and payloads. @default 67108864 (64 MiB) */
  maxQueuedBytes?: number | undefined;
  /**
   * On a Redis Cluster, sharded pub/sub (SSUBSCRIBE/SPUBLISH, Redis 7): a message goes to the node
   * serving its channel's slot instead of to every node, and subscriptions follow slot migrations and
   * failovers. Sharded channels are their own namespace (only SPUBLISH reaches SSUBSCRIBE), so every
   * publisher and subscriber of a channel must agree. No pattern subscriptions. On a single server
   * (standalone, Sentinel) there is nothing to shard and the broker uses plain pub/sub. @default false
   */
  sharded?: boolean | undefined;
}

/** The inbox bounds the options ask for, or undefined for none (the shared socket's). */
function limitsFrom(options: MessageBrokerOptions | undefined): SubscriberLimits | undefined {
  if (options === undefined) return undefined;
  const { maxQueuedMessages, maxQueuedBytes } = options;
  const check = (value: unknown, name: string): number | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 0xffffffff) {
      throw new TypeError(`options.${name} must be a positive integer, got ${String(value)}`);
    }
    return value;
  };
  const maxMessages = check(maxQueuedMessages, 'maxQueuedMessages');
  const maxBytes = check(maxQueuedBytes, 'maxQueuedBytes');
  return maxMessages === undefined && maxBytes === undefined ? undefined : { maxMessages, maxBytes };
}

/** Each broker subscription's relay on the subscriber: parses a message once for all its handlers. */
type Relay = (payload: string, channel: string) => void;

type Kind = 'channel' | 'pattern';

interface Outgoing {
  channel: string;
  text: string;
  messageId: string;
  resolve(receivers: number): void;
  reject(error: Error): void;
}

/** MessageBroker's methods with their plain result types, for a test double or a wrapper (see SessionServiceApi). */
export interface MessageBrokerApi {
  subscribe(channel: string, callback: MessageHandler): Promise<void>;
  unsubscribe(channel: string, callback: MessageHandler): Promise<void>;
  psubscribe(pattern: string, callback: MessageHandler): Promise<void>;
  punsubscribe(pattern: string, callback: MessageHandler): Promise<void>;
  publish(channel: string, message: Omit<Message, 'timestamp' | 'messageId'>): Promise<number>;
}

/**
 * The seed's MessageBroker: JSON messages over Redis pub/sub, one Redis subscription per
 * channel however many callbacks. It subscribes on the connection's subscriber socket (or
 * on one of its own, see MessageBrokerOptions), which restores subscriptions after
 * reconnects; closing the connection ends them. It publishes on the publishing socket.
 */
export class MessageBroker implements MessageBrokerApi {
  private readonly connection: RedisConnection;
  private readonly limits: SubscriberLimits | undefined;
  private readonly channels = new Fanout<MessageHandler, Relay>();
  private readonly patterns = new Fanout<MessageHandler, Relay>();
  /** The subscriber of this broker's subscriptions, from first use until the connection closes. */
  private attached: Promise<Subscriber> | undefined;
  private current: Subscriber | undefined;
  private readonly sharded: boolean;
  private readonly outbox: Outbox<Outgoing>;

  constructor(connection?: RedisConnection, options?: MessageBrokerOptions) {
    this.connection = connection ?? redisConnection;
    this.outbox = new Outbox(
      this.connection,
      (batch) => this.publishing(batch),
      (item) => slotOf(item.channel),
    );
    if (options !== undefined && options !== null && typeof options !== 'object') {
      throw new TypeError(`options must be an object, got ${describeType(options)}`);
    }
    const given = options ?? undefined;
    this.limits = limitsFrom(given);
    const sharded = given?.sharded;
    if (sharded !== undefined && typeof sharded !== 'boolean') {
      throw new TypeError(`options.sharded must be a boolean, got ${describeType(sharded)}`);
    }
    this.sharded = sharded === true;
  }

  subscribe<T = any>(channel: string, callback: MessageHandler<T>): Promise<void> {
    return this.add('channel', channel, callback as MessageHandler);
  }

  unsubscribe<T = any>(channel: string, callback: MessageHandler<T>): Promise<void> {
    return this.remove('channel', channel, callback as MessageHandler);
  }

  /** Like `subscribe` for every channel matching a glob (`post:*`); the callback gets the channel too. Not on a sharded broker. */
  psubscribe<T = any>(pattern: string, callback: MessageHandler<T>): Promise<void> {
    if (this.sharded) return Promise.reject(noShardedPatterns());
    return this.add('pattern', pattern, callback as MessageHandler);
  }

  punsubscribe<T = any>(pattern: string, callback: MessageHandler<T>): Promise<void> {
    if (this.sharded) return Promise.reject(noShardedPatterns());
    return this.remove('pattern', pattern, callback as MessageHandler);
  }

  /** Publishes `{ ...message, timestamp, messageId }` as JSON; resolves to the number of receivers Redis reports. (`R` is for code typed against the seed's `Promise<void>`; leave it out.) */
  publish<T = any, R extends number | void = number>(
    channel: string,
    message: Omit<Message<T>, 'timestamp' | 'messageId'>,
  ): Promise<R>;
  publish<T = any>(channel: string, message: Omit<Message<T>, 'timestamp' | 'messageId'>): Promise<number> {
    let text: string;
    let messageId: string;
    try {
      requireString(channel, 'channel');
      if (message === null || typeof message !== 'object') {
        throw new TypeError(`message must be an object, got ${describeType(message)}`);
      }
      if (typeof message.type !== 'string')
        throw new TypeError(`message.type must be a string, got ${describeType(message.type)}`);
      messageId = nextMessageId();
      text = messageText(message, messageId);
      this.connection.dispatcher('publisher'); // throws ERR_NOT_CONNECTED before connect()
    } catch (error) {
      return Promise.reject(error);
    }
    const queued = new Promise<number>((resolve, reject) => {
      this.outbox.push({ channel, text, messageId, resolve, reject });
    });
    if (!tracingOperations()) return queued;
    return traceOperation({ service: 'broker', operation: 'publish' }, (event) =>
      queued.then((receivers) => {
        event.outcome = receivers > 0 ? 'delivered' : 'no-subscriber';
        return receivers;
      }),
    );
  }

  /** @internal Messages received but not yet handed to callbacks (for backpressure tests). */
  get backlog(): number {
    return this.current?.backlog ?? 0;
  }

  private add(kind: Kind, name: string, callback: MessageHandler): Promise<void> {
    try {
      requireSubscription(name, kind, callback, 'callback');
    } catch (error) {
      return Promise.reject(error);
    }
    const open = (handlers: Set<MessageHandler>) => {
      const relay: Relay = (payload, channel) => deliver(handlers, payload, channel);
      const ready = this.subscriber().then((subscriber) =>
        kind === 'pattern'
          ? subscriber.pSubscribe(name, relay)
          : this.shardedHere()
            ? subscriber.sSubscribe(name, relay)
            : subscriber.subscribe(name, relay),
      );
      return { relay, ready };
    };
    return this.fanout(kind)
      .add(name, callback, open)
      .then(() =>
        log('info', kind === 'channel' ? 'Subscribed to channel' : 'Subscribed to pattern', { [kind]: name }),
      );
  }

  private remove(kind: Kind, name: string, callback: MessageHandler): Promise<void> {
    try {
      requireSubscription(name, kind, callback, 'callback');
    } catch (error) {
      return Promise.reject(error);
    }
    const close = (relay: Relay): Promise<void> => {
      const attached = this.attached;
      if (!attached) return Promise.resolve();
      return attached
        .then((subscriber) =>
          kind === 'pattern'
            ? subscriber.pUnsubscribe(name, relay)
            : this.shardedHere()
              ? subscriber.sUnsubscribe(name, relay)
              : subscriber.unsubscribe(name, relay),
        )
        .then(() =>
          log('info', kind === 'channel' ? 'Unsubscribed from channel' : 'Unsubscribed from pattern', { [kind]: name }),
        );
    };
    return this.fanout(kind).remove(name, callback, close);
  }

  private fanout(kind: Kind): Fanout<MessageHandler, Relay> {
    return kind === 'channel' ? this.channels : this.patterns;
  }

  /** Whether this broker's channels are sharded ones: asked for, and on a cluster. */
  private shardedHere(): boolean {
    return this.sharded && this.connection.isCluster();
  }

  /** One batch of the outbox as PUBLISH (SPUBLISH) commands, each message settled by its reply. */
  private publishing(batch: Outgoing[]): PublishBatch {
    const command = this.shardedHere() ? 'SPUBLISH' : 'PUBLISH';
    return {
      commands: batch.map((item) => [command, item.channel, item.text]),
      settle: (replies) =>
        batch.forEach((item, i) => {
          const reply = replies[i];
          if (reply instanceof Error) {
            item.reject(reply);
            return;
          }
          item.resolve(reply as number);
          log('debug', 'Message published', { channel: item.channel, messageId: item.messageId });
        }),
    };
  }

  /**
   * The subscriber of this broker's subscriptions, from first use: the connection's, or
   * with inbox bounds one of its own, opened here. Both end with the connection.
   */
  private subscriber(): Promise<Subscriber> {
    if (this.attached) return this.attached;
    const own = this.limits !== undefined;
    let subscriber: Subscriber;
    try {
      if (own) {
        this.connection.dispatcher(); // throws ERR_NOT_CONNECTED before connect()
        subscriber = new Subscriber(this.connection.nativeOptions(), 'broker', this.limits);
      } else {
        subscriber = this.connection.getSubscriber();
      }
    } catch (error) {
      return Promise.reject(fromNative(error));
    }
    const unhook = this.connection.onClose(() => this.reset(subscriber, unhook));
    const attached = own
      ? subscriber.connect().then(
          () => subscriber,
          (error: unknown) => {
            this.reset(subscriber, unhook);
            throw error;
          },
        )
      : Promise.resolve(subscriber);
    this.attached = attached;
    this.current = subscriber;
    return attached;
  }

  private reset(subscriber: Subscriber, unhook: () => void): void {
    unhook();
    if (this.limits !== undefined) subscriber.close();
    if (this.current !== subscriber) return;
    this.attached = undefined;
    this.current = undefined;
    this.channels.clear();
    this.patterns.clear();
  }
}

function noShardedPatterns(): TypeError {
  return new TypeError(
    'pattern subscriptions are not available on a sharded MessageBroker (Redis has no sharded PSUBSCRIBE)',
  );
}

/** Parses one message's text and hands it to every handler of its subscription. */
function deliver(handlers: Set<MessageHandler>, payload: string, channel: string): void {
  if (handlers.size === 0) return;
  let message: Message;
  try {
    message = parseEnvelope(payload) as unknown as Message;
  } catch (error) {
    log('error', 'Message parsing error', { channel, ...describeError(error) });
    return;
  }
  callEach(handlers, message, channel);
}

export const messageBroker = new MessageBroker();
