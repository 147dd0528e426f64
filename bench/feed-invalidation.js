'use strict';
// node bench/feed-invalidation.js: the cost of retiring every cached feed page after a new post,
// with FEED_PAGES (default 100 000) pages cached, on a private redis-server.
//   redis-layer: postCacheService.invalidatePost (bumps the feed epoch: one script call)
//   seed:        invalidateAllFeeds = KEYS feed:* then DEL of every match (the seed's flushPattern)
// Also reports how long a PING sent just after the start waits, since KEYS and a huge DEL block the server for everyone.
const { performance } = require('node:perf_hooks');
const { startServer, serverVersion } = require('./lib/server');
const { RedisConnection, PostCacheService } = require('..');

const PAGES = Math.max(1, Number(process.env.FEED_PAGES || 100_000));
const USERS = 1000;
const RUNS = 5;
const CHUNK = 1000;

const pageOf = (i) => [`user${i % USERS}`, Math.floor(i / USERS)];
const posts = (i) => [{ id: `post${i}`, authorId: `user${i % 97}`, text: 'hello world', likes: i % 13 }];
const ms = (start) => performance.now() - start;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Runs `action`; a PING sent just after it started shows how long other clients are held up. */
async function timed(client, action) {
  const start = performance.now();
  const acting = action();
  await new Promise((resolve) => setImmediate(resolve));
  const sent = performance.now();
  await client.ping();
  const pingMs = ms(sent);
  await acting;
  return { total: ms(start), pingMs };
}

async function main() {
  const server = await startServer();
  const connection = new RedisConnection({ url: server.url, commandTimeoutMs: 120_000 });
  try {
    await connection.connect();
    const client = connection.getClient();
    const feeds = new PostCacheService(connection);
    console.log(`redis-server ${serverVersion()}, ${PAGES} cached feed pages, ${USERS} users, median of ${RUNS} runs\n`);

    const layer = [];
    for (let run = 0; run < RUNS; run++) {
      const start = performance.now();
      for (let i = 0; i < PAGES; i += CHUNK) {
        const writes = [];
        for (let j = i; j < Math.min(PAGES, i + CHUNK); j++) writes.push(feeds.setUserFeed(...pageOf(j), posts(j)));
        await Promise.all(writes);
      }
      const seedMs = ms(start);
      if ((await feeds.getUserFeed(...pageOf(PAGES - 1))) === null) throw new Error('page not cached');
      const result = await timed(client, () => feeds.invalidatePost('post1'));
      if ((await feeds.getUserFeed(...pageOf(PAGES - 1))) !== null) throw new Error('stale page served after invalidatePost');
      layer.push({ ...result, seedMs });
    }

    const seed = [];
    for (let run = 0; run < RUNS; run++) {
      server.cli('FLUSHALL');
      const start = performance.now();
      for (let i = 0; i < PAGES; i += CHUNK) {
        const pipeline = client.pipeline();
        for (let j = i; j < Math.min(PAGES, i + CHUNK); j++) {
          const [user, page] = pageOf(j);
          pipeline.set(`feed:${user}:page:${page}`, JSON.stringify(posts(j)), { EX: 900 });
        }
        await pipeline.exec();
      }
      const seedMs = ms(start);
      const result = await timed(client, async () => {
        const keys = await client.sendCommand(['KEYS', 'feed:*']);
        if (keys.length > 0) await client.del(keys);
      });
      if (Number(server.cli('DBSIZE')) !== 0) throw new Error('seed invalidation left keys behind');
      seed.push({ ...result, seedMs });
    }

    const row = (name, runs) =>
      `${name.padEnd(44)} ${median(runs.map((r) => r.total)).toFixed(2).padStart(10)} ms   ping waited ${median(runs.map((r) => r.pingMs)).toFixed(2).padStart(8)} ms   (seeding took ${median(runs.map((r) => r.seedMs)).toFixed(0)} ms)`;
    console.log(row('redis-layer invalidatePost (epoch bump)', layer));
    console.log(row('seed invalidateAllFeeds (KEYS feed:* + DEL)', seed));
  } finally {
    await connection.close();
    await server.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
