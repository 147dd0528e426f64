'use strict';
// redis-layer, the package built at the repository root, with its own services. A service whose
// export has not landed yet is null, and its workloads report "n/a: not available".
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');

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
  }[service];
  return typeof lib[exportName] === 'function';
}

async function create({ url }) {
  const lib = load();
  const noop = () => {};
  lib.setLogger({ debug: noop, info: noop, warn: noop, error: noop });
  const connection = new lib.RedisConnection({ url });
  await connection.connect();
  const make = (name) => (typeof lib[name] === 'function' ? new lib[name](connection) : null);
  return {
    cache: make('CacheService'),
    rateLimiter: make('RateLimiter'),
    session: make('SessionService'),
    broker: make('MessageBroker'),
    warming:
      typeof lib.CacheWarmingService === 'function'
        ? (repositories) => new lib.CacheWarmingService(repositories, connection)
        : null,
    close: () => connection.close(),
  };
}

module.exports = { create, available };
