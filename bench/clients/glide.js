'use strict';
// Valkey GLIDE 2 running the seed's code through a thin shim (see ioredis.js). GLIDE delivers
// pub/sub messages to a callback fixed when the client is created, so the subscriber client is
// created subscribed to the bench channel and the shim routes messages to the seed's listener.
const { GlideClient, GlideClientConfiguration, Batch, TimeUnit, ClientSideCache, EvictionPolicy } = require('@valkey/valkey-glide');
const { seedServices } = require('../seed');

const BENCH_CHANNEL = 'bench:events';

function shimCommands(glide) {
  return {
    get: (key) => glide.get(key),
    set: (key, value) => glide.set(key, value),
    setEx: (key, ttl, value) => glide.set(key, value, { expiry: { type: TimeUnit.Seconds, count: ttl } }),
    del: (key) => glide.del([key]),
    mGet: (keys) => glide.mget(keys),
    multi() {
      const batch = new Batch(true);
      return {
        zRemRangeByScore: (key, min, max) => batch.zremRangeByScore(key, { value: min }, { value: max }),
        zCard: (key) => batch.zcard(key),
        zAdd: (key, { score, value }) => batch.zadd(key, { [value]: score }),
        expire: (key, seconds) => batch.expire(key, seconds),
        exec: () => glide.exec(batch, true),
      };
    },
    publish: (channel, message) => glide.publish(message, channel),
  };
}

async function create({ port, clientSideCache }) {
  const addresses = [{ host: '127.0.0.1', port }];
  const listeners = new Map();
  // The 'valkey-glide (client-side cache)' row: GLIDE's cache in its Rust core, kept by CLIENT TRACKING BCAST (RESP3, the default).
  const cache = clientSideCache
    ? new ClientSideCache({ evictionPolicy: EvictionPolicy.LRU, enableMetrics: true, serverAssisted: true, ...clientSideCache })
    : undefined;
  const [client, subscriber, publisher] = await Promise.all([
    GlideClient.createClient({ addresses, clientSideCache: cache }),
    GlideClient.createClient({
      addresses,
      pubsubSubscriptions: {
        channelsAndPatterns: { [GlideClientConfiguration.PubSubChannelModes.Exact]: new Set([BENCH_CHANNEL]) },
        callback: (msg) => {
          const channel = String(msg.channel);
          const listener = listeners.get(channel);
          if (listener) listener(String(msg.message), channel);
        },
      },
    }),
    GlideClient.createClient({ addresses }),
  ]);
  const connection = {
    getClient: () => shimCommands(client),
    getSubscriber: () => ({
      subscribe(channel, listener) {
        listeners.set(channel, listener);
        return channel === BENCH_CHANNEL ? Promise.resolve() : subscriber.subscribe([channel], 1000);
      },
    }),
    getPublisher: () => shimCommands(publisher),
  };
  const services = seedServices(connection, async () => {
    for (const c of [client, subscriber, publisher]) c.close();
  });
  if (cache) {
    // GLIDE reports rates over all lookups so far; the worker takes differences, so these are counts.
    services.tierStats = async () => {
      const [lookups, hitRate, evictions] = await Promise.all([client.getCacheTotalLookups(), client.getCacheHitRate(), client.getCacheEvictions()]);
      const hits = Math.round(lookups * hitRate);
      return { hits, misses: lookups - hits, evictions };
    };
  }
  return services;
}

module.exports = { create, BENCH_CHANNEL };
