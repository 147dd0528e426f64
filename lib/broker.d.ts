import { type RedisConnection } from './connection';
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
    maxQueuedMessages?: number;
    /** The same bound in bytes of channel names and payloads. @default 67108864 (64 MiB) */
    maxQueuedBytes?: number;
}
/**
 * The seed's MessageBroker: JSON messages over Redis pub/sub, one Redis subscription per
 * channel however many callbacks. It subscribes on the connection's subscriber socket (or
 * on one of its own, see MessageBrokerOptions), which restores subscriptions after
 * reconnects; closing the connection ends them. It publishes on the publishing socket.
 */
export declare class MessageBroker {
    private readonly connection;
    private readonly limits;
    private readonly channels;
    private readonly patterns;
    /** The subscriber of this broker's subscriptions, from first use until the connection closes. */
    private attached;
    private current;
    private readonly outbox;
    private sending;
    constructor(connection?: RedisConnection, options?: MessageBrokerOptions);
    subscribe<T = any>(channel: string, callback: MessageHandler<T>): Promise<void>;
    unsubscribe<T = any>(channel: string, callback: MessageHandler<T>): Promise<void>;
    /** Like `subscribe` for every channel matching a glob (`post:*`); the callback gets the channel too. */
    psubscribe<T = any>(pattern: string, callback: MessageHandler<T>): Promise<void>;
    punsubscribe<T = any>(pattern: string, callback: MessageHandler<T>): Promise<void>;
    /** Publishes `{ ...message, timestamp, messageId }` as JSON; resolves to the number of receivers Redis reports. (`R` is for code typed against the seed's `Promise<void>`; leave it out.) */
    publish<T = any, R extends number | void = number>(channel: string, message: Omit<Message<T>, 'timestamp' | 'messageId'>): Promise<R>;
    /** @internal Messages received but not yet handed to callbacks (for backpressure tests). */
    get backlog(): number;
    private add;
    private remove;
    private fanout;
    /**
     * Sends everything published so far as one pipeline, and the next batch only
     * after it: PUBLISH reaches Redis in call order even when callers do not await,
     * which concurrent single commands on the client do not promise.
     */
    private flush;
    /**
     * The subscriber of this broker's subscriptions, from first use: the connection's, or
     * with inbox bounds one of its own, opened here. Both end with the connection.
     */
    private subscriber;
    private reset;
}
export declare const messageBroker: MessageBroker;
