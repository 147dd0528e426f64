'use strict';
// Redis CPU per call of every scripted operation redis-layer runs, beside the seed's plain commands for
// the same job (on node-redis), so a team sees which atomic steps cost the server more. Each row runs
// CALLS operations from 64 concurrent callers against a private redis-server and divides the server's
// CPU time (/proc/<pid>/stat, 10 ms ticks: ±0.5 µs at 20 000 calls) by the calls. `npm run bench:cost`.
const { createClient } = require('redis');
const {
  CacheService,
  CacheWarmingService,
  LockService,
  PostCacheService,
  RateLimiter,
  RedisConnection,
  SessionService,
  setLogger,
} = require('..');
const { startTestRedis } = require('redis-layer/testing');
const { cpuMicros } = require('./lib/server-cpu');

const CALLS = Number(process.env.COST_CALLS || 20000);
const CONCURRENCY = 64;
const quiet = () => undefined;

const session = (userId) => ({
  userId,
  email: `${userId}@example.com`,
  username: userId,
  role: 'user',
  permissions: ['read'],
  lastActivity: new Date(),
  ipAddress: '10.0.0.1',
  userAgent: 'bench',
});
const post = (i) => ({ id: `p${i}`, authorId: `u${i % 100}`, content: 'x'.repeat(200), likes: i });

async function measure(pid, op) {
  let next = 0;
  const before = cpuMicros(pid);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < CALLS) await op(next++);
    }),
  );
  const after = cpuMicros(pid);
  return before === null || after === null ? null : (after - before) / CALLS;
}

async function main() {
  setLogger({ debug: quiet, info: quiet, warn: quiet, error: quiet });
  const server = await startTestRedis();
  const connection = new RedisConnection({ url: server.url });
  await connection.connect();
  const seed = createClient({ url: server.url });
  await seed.connect();
  const cache = new CacheService(connection);
  const posts = new PostCacheService(connection);
  const sessions = new SessionService(connection);
  const locks = new LockService(connection);
  const users = Array.from({ length: 1000 }, (_, i) => ({ id: `w${i}`, name: `user ${i}` }));
  const warming = new CacheWarmingService(
    {
      userRepository: { findByIds: async (ids) => users.filter((u) => ids.includes(u.id)), getActiveUsers: async () => users },
      postRepository: { findByIds: async () => [], getTrendingPosts: async () => [] },
    },
    connection,
  );
  for (let i = 0; i < 1000; i++) await sessions.createSession(`sid${i}`, session(`u${i}`));

  const limiter = new RateLimiter(connection);
  const seedLimit = async (i) => {
    const key = `rate_limit:seed:client-${i % 1000}`;
    const now = Date.now();
    await seed.multi().zRemRangeByScore(key, 0, now - 1000).zCard(key).zAdd(key, { score: now, value: String(now) }).expire(key, 1).exec();
  };
  const rows = [
    ['checkLimit, sliding log', (i) => limiter.checkLimit(`client-${i % 1000}`, 'api', { windowMs: 1000, maxRequests: 100 }),
      'MULTI ZREMRANGEBYSCORE ZCARD ZADD EXPIRE', seedLimit],
    ['checkLimit, GCRA', (i) => limiter.checkLimit(`client-${i % 1000}`, 'gcra', { windowMs: 1000, maxRequests: 100, algorithm: 'gcra' }),
      'MULTI ZREMRANGEBYSCORE ZCARD ZADD EXPIRE', seedLimit],
    ['lock acquire + release', (i) => locks.acquire(`res${i % 1000}-${i}`, 5000).then((lock) => lock && lock.release()),
      'SET NX PX + DEL', (i) => seed.set(`lock:seed${i}`, '1', { NX: true, PX: 5000 }).then(() => seed.del(`lock:seed${i}`))],
    ['createSession', (i) => sessions.createSession(`new${i}`, session(`nu${i % 1000}`)),
      'SETEX session + SETEX pointer', (i) => Promise.all([seed.setEx(`session:seed${i}`, 86400, JSON.stringify(session(`su${i}`))), seed.setEx(`user:su${i % 1000}:session`, 86400, JSON.stringify(`seed${i}`))])],
    ['updateSession', (i) => sessions.updateSession(`sid${i % 1000}`, { role: 'admin' }),
      'GET + SETEX', async (i) => { const s = await seed.get(`session:sid${i % 1000}`); if (s) await seed.setEx(`session:sid${i % 1000}`, 86400, s); }],
    ['setUserFeed', (i) => posts.setUserFeed(`reader${i % 1000}`, 1, [post(i)]),
      'SETEX', (i) => seed.setEx(`feed:reader${i % 1000}:page:1`, 900, JSON.stringify([post(i)]))],
    ['getOrSet (miss: lease + fill)', (i) => cache.getOrSet(`fill:${i}`, () => post(i), 60),
      'GET + SETEX', async (i) => { if ((await seed.get(`fillseed:${i}`)) === null) await seed.setEx(`fillseed:${i}`, 60, JSON.stringify(post(i))); }],
    ['invalidatePost', (i) => posts.invalidatePost(`p${i % 1000}`),
      'DEL ×3', (i) => seed.del([`post:p${i}`, `post:p${i}:comments`, `post:p${i}:reactions`])],
    ['warmUserCache (per user)', (i) => (i % 100 === 0 ? warming.warmUserCache(users.slice(0, 100).map((u) => u.id)) : undefined),
      'SETEX ×2 per user', (i) => Promise.all([seed.setEx(`user:w${i % 1000}`, 3600, '{}'), seed.setEx(`user:w${i % 1000}:profile`, 7200, '{}')])],
  ];
  console.log(`| operation | Redis CPU µs/call | seed's commands | Redis CPU µs/call | ratio |`);
  console.log('| --- | ---: | --- | ---: | ---: |');
  for (const [name, op, seedName, seedOp] of rows) {
    // Warming runs once per 100 calls for 100 users, so its cost per call is its cost per user.
    const layer = await measure(server.pid, op);
    const plain = await measure(server.pid, seedOp);
    const ratio = layer !== null && plain ? (layer / plain).toFixed(1) : '—';
    console.log(`| ${name} | ${layer?.toFixed(2) ?? '—'} | ${seedName} | ${plain?.toFixed(2) ?? '—'} | ${ratio} |`);
  }
  await seed.quit();
  await connection.close();
  await server.stop();
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
