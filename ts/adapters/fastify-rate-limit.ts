/**
 * `redis-layer/fastify-rate-limit`: a @fastify/rate-limit store on a RedisConnection, counting hits
 * in the same fixed-window counter as `redis-layer/express-rate-limit` (one script per hit), with
 * the plugin's `continueExceeding` and `exponentialBackoff` honoured as its own Redis store does.
 *
 *   fastify.register(rateLimit, { max: 100, timeWindow: 60_000, store: fastifyRateLimitStore({ connection }) })
 */
import type { FastifyRateLimitOptions, FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import { redisConnection, type RedisConnection } from '../lib/connection';
import { describeType, requireString } from '../lib/errors';
import { HitCounter, type Hits, type PastMax } from './hit-counter';

export interface FastifyRateLimitStoreOptions {
  /** The connection (default: the shared `redisConnection`). */
  connection?: RedisConnection | undefined;
  /** Prefix of the keys, one per client (and route, for route limits). @default 'fastify-rate-limit-' (the plugin's) */
  prefix?: string | undefined;
}

type Callback = (error: Error | null, result?: { current: number; ttl: number }) => void;

/** What the plugin passes: its options, and for a route limit the route (`routeInfo`). */
interface StoreParams {
  continueExceeding?: boolean | undefined;
  exponentialBackoff?: boolean | undefined;
  routeInfo?: { method?: string; url?: string } | undefined;
}

/** The plugin's time window (a number, or what its `timeWindow` function returned), in whole ms. */
function windowOf(timeWindow: unknown): number {
  if (typeof timeWindow !== 'number' || !Number.isFinite(timeWindow) || timeWindow < 0) {
    throw new RangeError(`timeWindow must be a non-negative number of milliseconds, got ${String(timeWindow)}`);
  }
  return Math.ceil(timeWindow);
}

/** The plugin's `max` (a number, or what its `max` function returned); Infinity counts without a limit. */
function maxOf(max: unknown): number {
  if (typeof max !== 'number' || Number.isNaN(max)) {
    throw new RangeError(`max must be a number of requests, got ${String(max)}`);
  }
  return Math.min(max, Number.MAX_SAFE_INTEGER);
}

function pastMax(params: StoreParams): PastMax {
  if (params.continueExceeding === true) return 'continue';
  return params.exponentialBackoff === true ? 'backoff' : '';
}

/** The store class to give @fastify/rate-limit as `store`; the plugin creates it, and one child per route limit. */
export function fastifyRateLimitStore(options: FastifyRateLimitStoreOptions = {}): FastifyRateLimitStoreCtor {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options must be an object, got ${describeType(options)}`);
  }
  const connection = options.connection ?? redisConnection;
  const rootPrefix =
    options.prefix === undefined ? 'fastify-rate-limit-' : requireString(options.prefix, 'options.prefix');

  class RedisLayerRateLimitStore implements FastifyRateLimitStore {
    private readonly counter: HitCounter;
    private readonly pastMax: PastMax;

    constructor(params: FastifyRateLimitOptions, prefix = rootPrefix) {
      this.counter = new HitCounter(connection, prefix);
      this.pastMax = pastMax(params as StoreParams);
    }

    incr(key: string, callback: Callback, timeWindow: number, max: number): void {
      this.count(key, timeWindow, max).then(
        ({ hits, msLeft }) => callback(null, { current: hits, ttl: msLeft ?? timeWindow }),
        (error: Error) => callback(error),
      );
    }

    /** Counts one hit; bad arguments reject like Redis errors, so they reach the plugin's callback too. */
    private async count(key: string, timeWindow: number, max: number): Promise<Hits> {
      return this.counter.record(key, windowOf(timeWindow), maxOf(max), this.pastMax);
    }

    /** The hits of `key` without counting one (the plugin's `{ increment: false }`). */
    read(key: string, callback: Callback): void {
      this.counter.read(key).then(
        ({ hits, msLeft }) => callback(null, { current: hits, ttl: msLeft ?? 0 }),
        (error: Error) => callback(error),
      );
    }

    /** A route's own limit: its counters under `<prefix><METHOD><url>-`, as the plugin's Redis store keys them. */
    child(routeOptions: Parameters<FastifyRateLimitStore['child']>[0]): FastifyRateLimitStore {
      const params = routeOptions as unknown as StoreParams & FastifyRateLimitOptions;
      const route = params.routeInfo ?? {};
      return new RedisLayerRateLimitStore(params, `${this.counter.prefix}${route.method ?? ''}${route.url ?? ''}-`);
    }
  }
  return RedisLayerRateLimitStore;
}
