'use strict';
// redis-layer, the package built at the repository root, with its own services. A service whose
// export has not landed yet is null, and its workloads report "n/a: not available".
// The 'redis-layer (baseline)' row loads the build at BENCH_BASELINE instead (see bench/clients/index.js).
const path = require('node:path');

let ROOT = path.join(__dirname, '..', '..');

function load() {
  return require(ROOT);
}

function available(service) {
  const lib = load();
  const exportName = {
    cache: 'CacheService',
    rateLimiter: 'RateLimiter',
    session: 'SessionService',
    broker: 'MessageBroker',
    warming: 'CacheWarmingService',
    durable: 'DurableBroker',
  }[service];
  if (exportName === undefined) return ['sessionStore', 'keyv', 'rateLimitStore'].includes(service);
  return typeof lib[exportName] === 'function';
}

/**
 * The durable workloads' service: a DurableBroker publishing, and one reading each channel in a
 * group with its default bounds (maxInFlight 100); cleanup() closes the readers and deletes the streams.
 */
function durable(lib, connection) {
  const publisher = new lib.DurableBroker(connection);
  const readers = [];
  const channels = [];
  return {
    publish: (channel, message) => publisher.publish(channel, message),
    async subscribe(channel, handler) {
      const reader = new lib.DurableBroker(connection, { group: 'bench', consumer: 'bench-1' });
      readers.push(reader);
      channels.push(channel);
      await reader.subscribe(channel, handler);
    },
    async cleanup() {
      await Promise.all(readers.splice(0).map((reader) => reader.close()));
      const keys = channels.splice(0).map((channel) => lib.durableKeys(channel).stream);
      if (keys.length > 0) await connection.getClient().del(keys);
    },
  };
}

/** The framework adapters (redis-layer/express-session, /keyv, /express-rate-limit) on `connection`. */
function adapters(connection) {
  const dist = path.join(ROOT, 'dist', 'adapters');
  const { RedisSessionStore } = require(path.join(dist, 'express-session'));
  const { KeyvRedisLayer } = require(path.join(dist, 'keyv'));
  const { RedisRateLimitStore } = require(path.join(dist, 'express-rate-limit'));
  const { Keyv } = require('keyv');
  return {
    sessionStore: new RedisSessionStore({ connection }),
    keyv: new Keyv({ store: new KeyvRedisLayer({ connection }) }),
    rateLimitStore: new RedisRateLimitStore({ connection }),
  };
}

async function create({ url, telemetry, baseline, local }) {
  if (baseline) ROOT = path.resolve(process.env.BENCH_BASELINE);
  const lib = load();
  if (telemetry === 'otel') {
    const { startOpenTelemetry } = require('./otel');
    require(path.join(ROOT, 'dist', 'telemetry', 'otel')).instrumentOpenTelemetry(startOpenTelemetry());
  } else if (telemetry === 'channels') {
    const channels = require('node:diagnostics_channel');
    const none = () => {};
    const handlers = { start: none, end: none, asyncStart: none, asyncEnd: none, error: none };
    channels.tracingChannel('redis-layer:command').subscribe(handlers);
    channels.tracingChannel('redis-layer:operation').subscribe(handlers);
  }
  const noop = () => {};
  lib.setLogger({ debug: noop, info: noop, warn: noop, error: noop });
  const connection = new lib.RedisConnection({ url });
  await connection.connect();
  const make = (name) => (typeof lib[name] === 'function' ? new lib[name](connection) : null);
  // The 'redis-layer (local tier)' row: a build without the tier must fail the row, not pass for it.
  const cache = local ? new lib.CacheService(connection, { local }) : make('CacheService');
  if (local && (typeof cache.localStats !== 'function' || cache.localStats() === null)) {
    await connection.close();
    throw new Error('this build of redis-layer has no local tier (CacheService option local)');
  }
  return {
    cache,
    tierStats: local ? () => cache.localStats() : undefined,
    rateLimiter: make('RateLimiter'),
    session: make('SessionService'),
    broker: make('MessageBroker'),
    warming:
      typeof lib.CacheWarmingService === 'function'
        ? (repositories) => new lib.CacheWarmingService(repositories, connection)
        : null,
    durable: typeof lib.DurableBroker === 'function' ? durable(lib, connection) : null,
    ...adapters(connection),
    close: () => connection.close(),
  };
}

module.exports = { create, available };
