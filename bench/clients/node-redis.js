'use strict';
// node-redis v5 running the seed's own code: three clients, as the seed's RedisConnection; and the
// stores redis-layer's framework adapters replace (connect-redis, @keyv/redis, rate-limit-redis).
const { createClient } = require('redis');
const { RedisStore: SessionStore } = require('connect-redis');
const { default: KeyvRedis } = require('@keyv/redis');
const { Keyv } = require('keyv');
const { RedisStore: RateLimitStore } = require('rate-limit-redis');
const { seedServices } = require('../seed');

async function create({ url, clientSideCache }) {
  const make = (extra) => createClient({ url, socket: { reconnectStrategy: (retries) => Math.min(retries * 50, 1000) }, ...extra });
  // The 'node-redis (client-side cache)' row: server-assisted caching (CLIENT TRACKING over RESP3) on the command client.
  const client = make(clientSideCache ? { RESP: 3, clientSideCache } : {});
  const subscriber = make();
  const publisher = make();
  for (const c of [client, subscriber, publisher]) c.on('error', () => {});
  await Promise.all([client.connect(), subscriber.connect(), publisher.connect()]);
  const connection = { getClient: () => client, getSubscriber: () => subscriber, getPublisher: () => publisher };
  return {
    ...seedServices(connection, () => Promise.all([client.quit(), subscriber.quit(), publisher.quit()])),
    tierStats: clientSideCache
      ? () => {
          const stats = client.clientSideCache.stats();
          return { hits: stats.hitCount, misses: stats.missCount, evictions: stats.evictionCount };
        }
      : undefined,
    // The stores redis-layer's adapters replace, wired as their READMEs show, on the same client.
    sessionStore: new SessionStore({ client }),
    keyv: new Keyv({ store: new KeyvRedis(client) }),
    // Its own prefix: redis-layer's store keeps a sorted set per client where this one keeps a counter.
    rateLimitStore: new RateLimitStore({ prefix: 'rlr:', sendCommand: (...args) => client.sendCommand(args) }),
  };
}

module.exports = { create };
