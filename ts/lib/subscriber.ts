import type { NativeSubscriber, SubscriberLimits } from '../../binding';
import { describeType, requireString } from './errors';
import { describeError, log } from './logger';
import { binding, type NativeOptions } from './native';
import { Calls } from './pending';
import { connectionChannel, type DeliveryEvent, deliveryChannel } from './telemetry';

/**
 * What key tracking reports (src/subscriber.rs): a key changed, every key may have changed,
 * tracking was lost (nothing local is trustworthy), tracking is on.
 */
export type TrackingNotice = 'key' | 'flush' | 'lost' | 'on';
export type TrackingListener = (notice: TrackingNotice, key: string | null) => void;

/** Gets each message of a channel (or of every channel a pattern matches) as the text published, and its channel. */
export type SubscriptionListener = (message: string, channel: string) => unknown;

const DEFAULT_MAX_MESSAGES = 100_000;
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

type Op = 'subscribe' | 'psubscribe' | 'ssubscribe' | 'unsubscribe' | 'punsubscribe' | 'sunsubscribe';

interface Entry<L, R> {
  listeners: Set<L>;
  ready: Promise<void>;
  relay: R;
}

/**
 * @internal Listeners per channel (or pattern) name, and the one subscription a name has
 * while it has listeners: the first listener opens it, the last one gone closes it. `R` is
 * what the opener keeps for the closer (the broker's relay on the subscriber socket).
 */
export class Fanout<L, R = undefined> {
  private readonly entries = new Map<string, Entry<L, R>>();

  /** How many names have listeners. */
  get size(): number {
    return this.entries.size;
  }

  /** The listeners of `name`, while it has any. */
  listeners(name: string): Set<L> | undefined {
    return this.entries.get(name)?.listeners;
  }

  /** Adds `listener`; resolves once the name's subscription is in place (a failed one is forgotten). */
  add(name: string, listener: L, open: (listeners: Set<L>) => { relay: R; ready: Promise<void> }): Promise<void> {
    let entry = this.entries.get(name);
    if (!entry) {
      const listeners = new Set<L>();
      const { relay, ready } = open(listeners);
      const created: Entry<L, R> = { listeners, relay, ready };
      created.ready = ready.catch((error: unknown) => {
        if (this.entries.get(name) === created) this.entries.delete(name);
        throw error;
      });
      this.entries.set(name, created);
      entry = created;
    }
    entry.listeners.add(listener);
    return entry.ready;
  }

  /** Removes `listener` (every listener of the name when undefined); the last one gone closes the subscription. */
  remove(name: string, listener: L | undefined, close: (relay: R) => Promise<void>): Promise<void> {
    const entry = this.entries.get(name);
    if (!entry) return Promise.resolve();
    if (listener === undefined) entry.listeners.clear();
    else if (!entry.listeners.delete(listener)) return Promise.resolve();
    if (entry.listeners.size > 0) return Promise.resolve();
    this.entries.delete(name);
    return close(entry.relay);
  }

  clear(): void {
    this.entries.clear();
  }
}

/** Calls `listener`; a throw or a rejected promise it returns is logged, never passed on to the native callback. */
export function callListener<M>(listener: (message: M, channel: string) => unknown, message: M, channel: string): void {
  const onError = (error: unknown) => log('error', 'Message handler error', { channel, ...describeError(error) });
  try {
    const result = listener(message, channel);
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      (result as PromiseLike<unknown>).then(undefined, onError);
    }
  } catch (error) {
    onError(error);
  }
}

/** Calls every listener of a subscription with one message. */
export function callEach<M>(
  listeners: Set<(message: M, channel: string) => unknown>,
  message: M,
  channel: string,
): void {
  if (listeners.size === 1) {
    callListener(listeners.values().next().value as (message: M, channel: string) => unknown, message, channel);
    return;
  }
  // A snapshot: listeners added while this message is delivered get the next one.
  for (const listener of [...listeners]) callListener(listener, message, channel);
}

/** A name to subscribe to and a function to call, checked: bad ones are a TypeError naming them. */
export function requireSubscription(
  name: unknown,
  kind: 'channel' | 'pattern',
  listener: unknown,
  listenerName: string,
): void {
  requireString(name, kind);
  if (typeof listener !== 'function')
    throw new TypeError(`${listenerName} must be a function, got ${describeType(listener)}`);
}

/**
 * The connection's pub/sub socket (`redisConnection.getSubscriber()`, the seed's subscriber
 * connection), shared by every MessageBroker of the connection. One Redis subscription per
 * channel or pattern however many listeners; subscriptions are restored after reconnects
 * and end with the connection. Listeners get the raw text; MessageBroker adds the JSON.
 */
export class Subscriber {
  private readonly native: NativeSubscriber;
  private readonly calls = new Calls();
  private readonly channels = new Fanout<SubscriptionListener>();
  private readonly patterns = new Fanout<SubscriptionListener>();
  private readonly shards = new Fanout<SubscriptionListener>();
  private closed = false;
  private tracker: TrackingListener | undefined;

  /** @internal Events log with `role`; past `limits` the oldest undelivered messages are dropped (logged). */
  constructor(
    options: NativeOptions,
    private readonly role: string,
    private readonly limits: SubscriberLimits = {},
  ) {
    this.native = new binding.NativeSubscriber(
      options,
      limits,
      (batch) => this.calls.settle(batch),
      (batch) => this.receive(batch),
      ([level, message, kind]) => {
        log(level as 'info', message, { role });
        if (kind !== undefined && connectionChannel.hasSubscribers) connectionChannel.publish({ kind, role, message });
      },
    );
  }

  /** Calls `listener` with every message published to `channel` from now on. */
  subscribe(channel: string, listener: SubscriptionListener): Promise<void> {
    return this.add(this.channels, 'channel', 'subscribe', channel, listener);
  }

  /** Stops calling `listener` (every listener of the channel when none is given). */
  unsubscribe(channel: string, listener?: SubscriptionListener): Promise<void> {
    return this.remove(this.channels, 'channel', 'unsubscribe', channel, listener);
  }

  /** Like `subscribe` for every channel matching a glob (`post:*`). */
  pSubscribe(pattern: string, listener: SubscriptionListener): Promise<void> {
    return this.add(this.patterns, 'pattern', 'psubscribe', pattern, listener);
  }

  /** Stops calling `listener` for the pattern (every listener of it when none is given). */
  pUnsubscribe(pattern: string, listener?: SubscriptionListener): Promise<void> {
    return this.remove(this.patterns, 'pattern', 'punsubscribe', pattern, listener);
  }

  /**
   * Like `subscribe` for a sharded channel (SSUBSCRIBE, Redis 7 on a cluster): the subscription lives on
   * the node serving the channel's slot and follows it through slot migrations and failovers. Sharded
   * channels are their own namespace: only SPUBLISH reaches them. A single server rejects it.
   */
  sSubscribe(channel: string, listener: SubscriptionListener): Promise<void> {
    return this.add(this.shards, 'channel', 'ssubscribe', channel, listener);
  }

  /** Stops calling `listener` for the sharded channel (every listener of it when none is given). */
  sUnsubscribe(channel: string, listener?: SubscriptionListener): Promise<void> {
    return this.remove(this.shards, 'channel', 'sunsubscribe', channel, listener);
  }

  /**
   * @internal Key tracking for the local cache tier (`CLIENT TRACKING ON BCAST`, for the keys
   * starting with `prefixes`, every key when empty): `listener` gets each notice, in order
   * with the socket's other traffic. Resolves once asked of Redis (or, while it is down, once
   * remembered for the reconnect); `on` comes as a notice.
   */
  track(prefixes: string[], listener: TrackingListener): Promise<void> {
    this.tracker = listener;
    return this.calls.submit((id) => this.native.track(id, prefixes));
  }

  /** True while the socket is up. */
  get isConnected(): boolean {
    return !this.closed && this.native.isConnected;
  }

  /** @internal Messages received but not yet handed to listeners (for backpressure tests). */
  get backlog(): number {
    return this.closed ? 0 : this.native.backlog;
  }

  /** @internal Opens the socket; rejects (naming the cause) within the connect timeout. */
  connect(): Promise<void> {
    return this.send('connect', '');
  }

  /** @internal Ends the socket and every subscription; later calls reject with ERR_CLOSED. */
  close(): void {
    if (!this.closed && this.channels.size + this.patterns.size + this.shards.size > 0) {
      const ended: Record<string, unknown> = {
        role: this.role,
        channels: this.channels.size,
        patterns: this.patterns.size,
      };
      if (this.shards.size > 0) ended.shardChannels = this.shards.size;
      log('info', 'Subscriptions ended by close()', ended);
    }
    this.closed = true;
    this.tracker?.('lost', null);
    this.tracker = undefined;
    this.channels.clear();
    this.patterns.clear();
    this.shards.clear();
    this.native.close();
  }

  private add(
    fanout: Fanout<SubscriptionListener>,
    kind: 'channel' | 'pattern',
    op: Op,
    name: string,
    listener: SubscriptionListener,
  ): Promise<void> {
    try {
      requireSubscription(name, kind, listener, 'listener');
    } catch (error) {
      return Promise.reject(error);
    }
    return fanout.add(name, listener, () => ({ relay: undefined, ready: this.send(op, name) }));
  }

  private remove(
    fanout: Fanout<SubscriptionListener>,
    kind: 'channel' | 'pattern',
    op: Op,
    name: string,
    listener?: SubscriptionListener,
  ): Promise<void> {
    try {
      requireString(name, kind);
      if (listener !== undefined && typeof listener !== 'function') {
        throw new TypeError(`listener must be a function, got ${describeType(listener)}`);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    // A closed socket has no subscriptions left to end.
    return fanout.remove(name, listener, () => (this.closed ? Promise.resolve() : this.send(op, name)));
  }

  /** One native call by id, settled by `Calls.settle` like the command socket's. */
  private send(op: Op | 'connect', name: string): Promise<void> {
    return this.calls.submit((id) => (op === 'connect' ? this.native.connect(id) : this.native[op](id, name)));
  }

  /**
   * One batch of messages: `[dropped, source, channel, payload, ...]`, `source` null for a channel, the
   * pattern, true for a sharded channel, or false for a tracking notice (src/subscriber.rs).
   */
  private receive(batch: unknown[]): void {
    // A throw escaping here would be an uncaught exception on the native callback.
    try {
      const dropped = batch[0] as number;
      if (dropped > 0) {
        log('warn', 'Pub/sub messages dropped: callbacks fell behind and the queue was full', {
          dropped,
          maxQueuedMessages: this.limits.maxMessages ?? DEFAULT_MAX_MESSAGES,
          maxQueuedBytes: this.limits.maxBytes ?? DEFAULT_MAX_BYTES,
        });
        // Dropped invalidations leave no way to tell which local copies are stale.
        this.tracker?.('flush', null);
      }
      if (deliveryChannel.hasSubscribers) {
        const event: DeliveryEvent = {
          role: this.role,
          messages: (batch.length - 1) / 3,
          dropped,
          backlog: this.backlog,
        };
        deliveryChannel.publish(event);
      }
      for (let i = 1; i < batch.length; i += 3) {
        const source = batch[i] as string | boolean | null;
        const channel = batch[i + 1] as string;
        const payload = batch[i + 2];
        if (source === false) {
          this.tracker?.(payload as TrackingNotice, payload === 'key' ? channel : null);
          continue;
        }
        // What no JavaScript string can hold comes as its size in bytes.
        if (typeof payload !== 'string') {
          log('error', 'Pub/sub message dropped: too large for a JavaScript string', { channel, bytes: payload });
          continue;
        }
        const listeners =
          source === null
            ? this.channels.listeners(channel)
            : source === true
              ? this.shards.listeners(channel)
              : this.patterns.listeners(source);
        if (listeners !== undefined) callEach(listeners, payload, channel);
      }
    } catch (error) {
      log('error', 'Message delivery error', describeError(error));
    }
  }
}
