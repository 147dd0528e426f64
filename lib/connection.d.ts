import { RedisClient } from './client';
import { NativeOptions } from './native';
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
    cluster?: {
        nodes: string[];
    };
    /** Redis Sentinel: the master's name and sentinel URLs; writes follow failovers. */
    sentinel?: {
        masterName: string;
        nodes: string[];
    };
    /** TLS for `rediss://` URLs: PEM CA to trust (default: the system store) and a client certificate. */
    tls?: {
        ca?: string | Uint8Array;
        cert?: string | Uint8Array;
        key?: string | Uint8Array;
    };
}
/**
 * The seed's three connections (commands, subscriber, publisher), each one socket
 * that reconnects by itself. Commands issued while a socket is down fail at once
 * instead of queueing.
 */
export declare class RedisConnection {
    private readonly native;
    private clients;
    private connecting;
    private readonly closeHooks;
    constructor(options?: RedisConnectionOptions);
    /** True between a successful connect() and close() while the command socket is up. */
    get isConnected(): boolean;
    /** Opens all three connections; rejects (naming the cause) within connectTimeoutMs. */
    connect(): Promise<void>;
    getClient(): RedisClient;
    getSubscriber(): RedisClient;
    getPublisher(): RedisClient;
    /** Ends every socket, reconnect loop and registered service timer. */
    close(): Promise<void>;
    /** @internal Services that own timers or subscriptions stop them here. */
    onClose(hook: () => void): () => void;
    /** @internal Settings for sockets a service opens itself (the message broker's subscriber). */
    nativeOptions(): NativeOptions;
    private role;
    private open;
}
export declare const redisConnection: RedisConnection;
export declare const connectRedis: () => Promise<void>;
