'use strict';
// bentocache as a two-tier cache, as its docs set one up: an in-memory LRU L1 (entries kept as JSON
// text, which maxSize needs, so every L1 hit parses), Redis as L2 through ioredis, and its Redis bus so
// that other instances drop their L1 copy when one writes through bentocache (a write made outside
// bentocache reaches no L1). Values are objects; only the cache workloads' get and set are wired.
const { USERS, makeUser, userKey } = require('../lib/data');

const TTL_MS = 3_600_000;

/** Counts L1 lookups that found an entry, by wrapping the memory driver's get (bentocache's hit event does not tell L1 from L2). */
function countingL1(driver, counts) {
  const { factory } = driver;
  return {
    ...driver,
    factory(config) {
      const l1 = factory(config);
      const get = l1.get.bind(l1);
      l1.get = (key) => {
        const value = get(key);
        if (value === undefined) counts.misses++;
        else counts.hits++;
        return value;
      };
      return l1;
    },
  };
}

async function create({ port, l1 }) {
  // bentocache is ESM only.
  const { BentoCache, bentostore } = await import('bentocache');
  const { memoryDriver } = await import('bentocache/drivers/memory');
  const { redisDriver, redisBusDriver } = await import('bentocache/drivers/redis');
  const connection = { host: '127.0.0.1', port };
  const counts = { hits: 0, misses: 0 };
  const bento = new BentoCache({
    default: 'hot',
    stores: {
      hot: bentostore()
        .useL1Layer(countingL1(memoryDriver(l1), counts))
        .useL2Layer(redisDriver({ connection }))
        .useBus(redisBusDriver({ connection })),
      // Writes L2 only: the users are stored in bentocache's own format, and the measured L1 starts cold.
      fill: bentostore().useL2Layer(redisDriver({ connection })),
    },
  });
  const fill = bento.use('fill');
  for (let i = 0; i < USERS; i += 1000) {
    await Promise.all(Array.from({ length: 1000 }, (_, k) => fill.set({ key: userKey(i + k), value: makeUser(i + k), ttl: TTL_MS })));
  }
  await fill.disconnect();
  const hot = bento.use('hot');
  return {
    cache: {
      get: (key) => hot.get({ key }),
      set: (key, value, ttlSeconds) => hot.set({ key, value, ttl: ttlSeconds * 1000 }),
    },
    tierStats: () => ({ ...counts }),
    close: () => hot.disconnect(),
  };
}

module.exports = { create };
