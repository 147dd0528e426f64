// A short mini-Facebook scenario on redis-layer. Finds a server the way a newcomer expects
// (redis-layer/testing's findRedis): REDIS_URL if set, else a throwaway redis-server it starts and
// stops itself, else a Redis already on 127.0.0.1:6379, used without flushing anything.
const layer = require('redis-layer');
const { findRedis } = require('redis-layer/testing');

const { RedisConnection, CacheService, CacheKeys } = layer;

const WHERE = {
  REDIS_URL: 'REDIS_URL',
  spawned: 'a throwaway redis-server',
  local: 'the Redis already running at',
};

const step = (title) => console.log(`\n== ${title}`);
const timed = async (label, fn) => {
  const started = process.hrtime.bigint();
  const result = await fn();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(`  ${label} (${ms.toFixed(2)} ms)`);
  return result;
};

// Stand-ins for the backend's database.
const db = {
  users: new Map([
    ['u1', { id: 'u1', name: 'Ada', joined: new Date('2024-01-02T03:04:05Z') }],
    ['u2', { id: 'u2', name: 'Grace', joined: new Date('2024-02-03T04:05:06Z') }],
  ]),
  queries: 0,
};
const loadUser = async (id) => {
  db.queries++;
  await new Promise((r) => setTimeout(r, 20));
  return db.users.get(id) ?? null;
};

async function main() {
  const server = await findRedis();
  console.log(`redis-layer demo against ${WHERE[server.source]} ${server.host}:${server.port}`);
  const connection = new RedisConnection({ url: server.url });
  const run = `demo:${Date.now()}:`;
  try {
    await timed('connected', () => connection.connect());
    const cache = new CacheService(connection);

    step('Profile page: cache-aside with single flight');
    const key = run + CacheKeys.user('u1');
    const first = await timed('10 concurrent visitors, cold cache', () =>
      Promise.all(Array.from({ length: 10 }, () => cache.getOrSet(key, () => loadUser('u1'), 3600))),
    );
    console.log(`  → ${first[0].name}; database queries: ${db.queries} (single flight)`);
    const hit = await timed('next visitor, warm cache', () => cache.get(key));
    console.log(`  → hit: ${hit.name}, joined ${hit.joined} (stored as JSON text, Dates as ISO strings)`);
    console.log(`  → TTL ${await cache.ttl(key)} s`);
    console.log(`  → miss for an unknown user: ${await cache.get(run + CacheKeys.user('nobody'))}`);

    step('Batch reads and atomic batch writes');
    await timed('mset 2 users with a 60 s TTL (one MULTI/EXEC)', () =>
      cache.mset({ [run + CacheKeys.user('u1')]: db.users.get('u1'), [run + CacheKeys.user('u2')]: db.users.get('u2') }, 60),
    );
    const both = await timed('mget 3 keys', () => cache.mget([run + CacheKeys.user('u1'), run + CacheKeys.user('u2'), run + 'missing']));
    console.log(`  → ${both.map((u) => (u ? u.name : 'miss')).join(', ')}`);

    step('Throughput');
    const n = 20000;
    const started = Date.now();
    await Promise.all(Array.from({ length: n }, (_, i) => (i % 2 ? cache.get(key) : cache.set(`${run}bulk:${i % 100}`, hit, 60))));
    const seconds = (Date.now() - started) / 1000;
    console.log(`  ${n} mixed get/set in ${(seconds * 1000).toFixed(0)} ms → ${Math.round(n / seconds)} ops/s`);

    for (const section of sections) await section({ connection, run, step, timed });

    step('Clean-up');
    console.log(`  removed ${await cache.flushPattern(`${run}*`)} demo keys with SCAN + UNLINK`);
  } finally {
    await connection.close();
    await server.stop();
  }
  console.log('\ndone: connections closed, process exits on its own');
}

// Feed and warming, sessions/rate limit/lock, and pub/sub, one file each.
const sections = [require('./feed'), require('./sessions'), require('./broker')];

main().catch((error) => {
  // A missing Redis is one sentence, not a stack trace.
  if (error.code === 'ERR_NO_REDIS') console.error(error.message);
  else console.error('demo failed:', error);
  process.exitCode = 1;
});
