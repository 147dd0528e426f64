import { RedisClient } from './client';
import { Dispatcher } from './dispatcher';
import { type NativeOptions } from './native';
import { Subscriber } from './subscriber';
export interface RedisConnectionOptions {
    /** `redis://[user:password@]host:port[/db]`. Default: `REDIS_URL` at connect() time, else `redis://127.0.0.1:6379`. */
    url?: string;
    /** Default: `REDIS_PASSWORD` at connect() time. */
    password?: string;
    /** ACL user name. */
    username?: string;
    /** Database number (SELECT). */
    database?: number;
    /** How long connect() may take before it rejects; 0: no limit (as node-redis). @default 5000 */
    connectTimeoutMs?: number;
    /** How long one command may wait for its reply; 0: no limit (as node-redis). @default 5000 */
    commandTimeoutMs?: number;
    /** Reconnect delay grows by this much per attempt… @default 50 */
    reconnectDelayMs?: number;
    /** …up to this cap: the seed's `Math.min(retries * 50, 1000)`. @default 1000 */
    maxReconnectDelayMs?: number;
    /** Redis Cluster: seed node URLs (default: `REDIS_CLUSTER_NODES`, comma-separated, when no url is given). */
    cluster?: {
        nodes: string[];
    };
    /**
     * Redis Sentinel: the master's name and sentinel URLs; writes follow failovers. The sentinels'
     * credentials come from their URLs; the master's from masterUsername / masterPassword, else from
     * username / password. With `rediss://` sentinels the master is reached over TLS too, with `tls`.
     */
    sentinel?: {
        masterName: string;
        nodes: string[];
        masterUsername?: string;
        masterPassword?: string;
    };
    /** TLS for `rediss://` URLs: PEM CA to trust (default: the system store) and a client certificate. */
    tls?: {
        ca?: string | Uint8Array;
        cert?: string | Uint8Array;
        key?: string | Uint8Array;
    };
}
/**
 * The seed's three connections, each one socket that reconnects by itself: commands
 * (`getClient()`), publishing (`getPublisher()`) and subscriptions (`getSubscriber()`,
 * which every MessageBroker of the connection shares). Commands issued while a socket is
 * down fail at once instead of queueing.
 */
export declare class RedisConnection {
    private native;
    /** The settings of the last connect(), environment applied. */
    private resolved;
    private sockets;
    private connecting;
    /** Sockets of the connect() in progress, so close() can end them before they are installed. */
    private opening;
    /** Counts close() calls: a connect() that sees it change lost to a close. */
    private closes;
    private readonly closeHooks;
    constructor(options?: RedisConnectionOptions);
    /** True between a successful connect() and close() while the command socket is up. */
    get isConnected(): boolean;
    /** Opens all three connections; rejects (naming the cause) within connectTimeoutMs. */
    connect(): Promise<void>;
    /**
     * @internal connectRedis(options): new settings for a connection that is not connected; the same
     * settings again are fine; other settings while connected (or connecting) are an Error.
     */
    reconfigure(options: RedisConnectionOptions): void;
    /** The command client. Throws a RedisLayerError (ERR_NOT_CONNECTED) before connect() and after close(), as every getter. */
    getClient(): RedisClient;
    /** The pub/sub socket: subscribe / pSubscribe with listeners that get each message's text and channel. */
    getSubscriber(): Subscriber;
    /** The client of the publishing socket. */
    getPublisher(): RedisClient;
    /** Ends every socket, reconnect loop and registered service timer. */
    close(): Promise<void>;
    /**
     * @internal How services reach Redis: the dispatcher of the command socket (or of the
     * publishing one). Throws ERR_NOT_CONNECTED before connect() and after close(); see access.ts.
     */
    dispatcher(role?: 'client' | 'publisher'): Dispatcher;
    /** @internal Services that own timers or subscriptions stop them here. */
    onClose(hook: () => void): () => void;
    /** @internal Settings for sockets a service opens itself (a message broker with inbox bounds of its own). */
    nativeOptions(): NativeOptions;
    private connected;
    private open;
}
export declare const redisConnection: RedisConnection;
/**
 * Connects the shared `redisConnection`, first applying `options` (the same as
 * `new RedisConnection(options)`'s). Rejects with an Error when it is already connected with
 * other options.
 */
export declare const connectRedis: (options?: RedisConnectionOptions) => Promise<void>;
