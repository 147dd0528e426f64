import type { SubscriberLimits } from '../binding';
import { type NativeOptions } from './native';
/** Gets each message of a channel (or of every channel a pattern matches) as the text published, and its channel. */
export type SubscriptionListener = (message: string, channel: string) => unknown;
/**
 * @internal Listeners per channel (or pattern) name, and the one subscription a name has
 * while it has listeners: the first listener opens it, the last one gone closes it. `R` is
 * what the opener keeps for the closer (the broker's relay on the subscriber socket).
 */
export declare class Fanout<L, R = undefined> {
    private readonly entries;
    /** The listeners of `name`, while it has any. */
    listeners(name: string): Set<L> | undefined;
    /** Adds `listener`; resolves once the name's subscription is in place (a failed one is forgotten). */
    add(name: string, listener: L, open: (listeners: Set<L>) => {
        relay: R;
        ready: Promise<void>;
    }): Promise<void>;
    /** Removes `listener` (every listener of the name when undefined); the last one gone closes the subscription. */
    remove(name: string, listener: L | undefined, close: (relay: R) => Promise<void>): Promise<void>;
    clear(): void;
}
/** Calls `listener`; a throw or a rejected promise it returns is logged, never passed on to the native callback. */
export declare function callListener<M>(listener: (message: M, channel: string) => unknown, message: M, channel: string): void;
/** Calls every listener of a subscription with one message. */
export declare function callEach<M>(listeners: Set<(message: M, channel: string) => unknown>, message: M, channel: string): void;
/** A name to subscribe to and a function to call, checked: bad ones are a TypeError naming them. */
export declare function requireSubscription(name: unknown, kind: 'channel' | 'pattern', listener: unknown, listenerName: string): void;
/**
 * The connection's pub/sub socket (`redisConnection.getSubscriber()`, the seed's subscriber
 * connection), shared by every MessageBroker of the connection. One Redis subscription per
 * channel or pattern however many listeners; subscriptions are restored after reconnects
 * and end with the connection. Listeners get the raw text; MessageBroker adds the JSON.
 */
export declare class Subscriber {
    private readonly limits;
    private readonly native;
    private readonly calls;
    private readonly channels;
    private readonly patterns;
    private closed;
    /** @internal Events log with `role`; past `limits` the oldest undelivered messages are dropped (logged). */
    constructor(options: NativeOptions, role: string, limits?: SubscriberLimits);
    /** Calls `listener` with every message published to `channel` from now on. */
    subscribe(channel: string, listener: SubscriptionListener): Promise<void>;
    /** Stops calling `listener` (every listener of the channel when none is given). */
    unsubscribe(channel: string, listener?: SubscriptionListener): Promise<void>;
    /** Like `subscribe` for every channel matching a glob (`post:*`). */
    pSubscribe(pattern: string, listener: SubscriptionListener): Promise<void>;
    /** Stops calling `listener` for the pattern (every listener of it when none is given). */
    pUnsubscribe(pattern: string, listener?: SubscriptionListener): Promise<void>;
    /** True while the socket is up. */
    get isConnected(): boolean;
    /** @internal Messages received but not yet handed to listeners (for backpressure tests). */
    get backlog(): number;
    /** @internal Opens the socket; rejects (naming the cause) within the connect timeout. */
    connect(): Promise<void>;
    /** @internal Ends the socket and every subscription; later calls reject with ERR_CLOSED. */
    close(): void;
    private add;
    private remove;
    /** One native call by id, settled by `Calls.settle` like the command socket's. */
    private send;
    /** One batch of messages: `[dropped, pattern | null, channel, payload, ...]` (src/subscriber.rs). */
    private receive;
}
