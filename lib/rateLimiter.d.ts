import { type RedisConnection } from './connection';
export type RateLimitAlgorithm = 'sliding-log' | 'gcra';
export interface RateLimitConfig {
    /** Length of the window in milliseconds (fractions round up). */
    windowMs: number;
    /**
     * Requests allowed per window (an integer >= 1). Sliding log: in any window of
     * `windowMs`. GCRA: the sustained rate, one request every `windowMs / maxRequests` ms.
     */
    maxRequests: number;
    /** For the caller's HTTP layer (as the seed); the limiter does not use it. */
    message?: string;
    /**
     * What to answer when Redis cannot be asked: allow (true) or deny (false); either
     * way the result says `degraded: true`. @default true (the seed fails open)
     */
    failOpen?: boolean;
    /**
     * `'sliding-log'`: at most `maxRequests` in any window of `windowMs`, one sorted-set
     * entry per allowed request (the seed's model).
     * `'gcra'`: up to `burst` at once, refilling by one every `windowMs / maxRequests` ms;
     * O(1) memory per key. It allows up to `burst + maxRequests - 1` in one window of `windowMs`.
     * @default 'sliding-log'
     */
    algorithm?: RateLimitAlgorithm;
    /**
     * GCRA only (an integer >= 1): how many requests may pass at once. `1` spaces requests
     * evenly, so no window of `windowMs` holds more than `maxRequests`. @default maxRequests
     */
    burst?: number;
}
export interface RateLimitResult {
    allowed: boolean;
    /** Requests still allowed right now. */
    remaining: number;
    /** Epoch ms (Redis server clock) when the next slot frees up. */
    resetTime: number;
    /** How long a denied caller should wait; 0 when allowed. */
    retryAfterMs: number;
    /** True when Redis could not be asked and the answer comes from `failOpen`. */
    degraded: boolean;
}
/**
 * The seed's RateLimiter with the check-and-record done in one Lua step, so exactly
 * `maxRequests` calls pass per window however many run at once.
 */
export declare class RateLimiter {
    private readonly connection;
    constructor(connection?: RedisConnection);
    checkLimit(identifier: string, type: string, config: RateLimitConfig): Promise<RateLimitResult>;
    /** Forgets the identifier's history; resolves true when there was one (Redis trouble: logged, false). (`R` is for code typed against the seed's `Promise<void>`; leave it out.) */
    resetLimit<R extends boolean | void = boolean>(identifier: string, type: string): Promise<R>;
}
export declare const rateLimiter: RateLimiter;
