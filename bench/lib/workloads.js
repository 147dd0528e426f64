'use strict';
// The workloads. Each runs `concurrency` callers that loop `op` until the time box ends;
// `service` names the service the op needs (redis-layer reports n/a while it has not landed).
const { USERS, SESSIONS, WARM_IDS, makeUser, makeSession, userKey, sessionId } = require('./data');
const { zipfOps, WRITE } = require('./zipf');

const CHANNEL = 'bench:events';
const FIREHOSE = 'bench:firehose';
const RATE = { windowMs: 1000, maxRequests: 100 };
const spread = (c, i, n) => (c * 7919 + i * 31) % n;
/** hot-keys: 2^20 precomputed operations, replayed in order by every client. */
const HOT_OPS = 1 << 20;
const HOT_SEED = 20_240_601;

function users(ctx) {
  if (!ctx.users) ctx.users = Array.from({ length: 1000 }, (_, i) => makeUser(i));
  return ctx.users;
}

const WORKLOADS = [
  {
    id: 'get',
    title: 'Sequential awaited get',
    detail: '1 caller awaiting `cache.get` of a 1 KB JSON user, 10 000 keys',
    service: 'cache',
    concurrency: 1,
    latency: true,
    op: (s, ctx, c, i) => s.cache.get(userKey(i % USERS)),
    check: (r) => r !== null && typeof r === 'object' && typeof r.id === 'string',
  },
  {
    id: 'setget',
    title: 'set with TTL / get, 256 callers',
    detail: '256 concurrent callers, alternating `cache.set(key, user, 3600)` and `cache.get(key)`',
    service: 'cache',
    concurrency: 256,
    prepare: (s, ctx) => users(ctx),
    op(s, ctx, c, i) {
      if (i & 1) {
        const k = spread(c, i, 1000);
        return s.cache.set(userKey(k), ctx.users[k], 3600);
      }
      return s.cache.get(userKey(spread(c, i, USERS)));
    },
    check: (r) => r === true || (r !== null && typeof r === 'object'),
  },
  {
    id: 'mget',
    title: 'mget of 100 keys, 16 callers',
    detail: '16 concurrent callers, `cache.mget` of 100 keys (100 KB of JSON per call)',
    service: 'cache',
    concurrency: 16,
    prepare(s, ctx) {
      ctx.keySets = Array.from({ length: 97 }, (_, k) => Array.from({ length: 100 }, (_, j) => userKey((k * 100 + j) % USERS)));
    },
    op: (s, ctx, c, i) => s.cache.mget(ctx.keySets[spread(c, i, 97)]),
    check: (r) => Array.isArray(r) && r.length === 100 && r[99] !== null && typeof r[99].id === 'string',
  },
  {
    id: 'hot-keys',
    title: 'hot-key reads: Zipf keys, 95% reads, 64 callers',
    detail:
      "64 concurrent callers over the 10 000 preloaded users, keys Zipf-distributed (s = 1.0, the same precomputed sequence for every client): 95% `cache.get(key)` returning the parsed object, 5% `cache.set(key, user, 3600)` of a freshly built 1 KB user. The rows with a local tier (redis-layer's, node-redis' server-assisted client-side cache, GLIDE's, bentocache's memory L1) may pass the null client, which parses every read; 'local hits' is the tier's own hit ratio over the timed run",
    service: 'cache',
    concurrency: 64,
    prepare(s, ctx) {
      ctx.keys = Array.from({ length: USERS }, (_, k) => userKey(k));
      ctx.ops = zipfOps({ keys: USERS, s: 1.0, writes: 0.05, count: HOT_OPS, seed: HOT_SEED });
    },
    op(s, ctx, c, i) {
      const op = ctx.ops[i & (HOT_OPS - 1)];
      if (op & WRITE) {
        const k = op ^ WRITE;
        return s.cache.set(ctx.keys[k], makeUser(k), 3600);
      }
      return s.cache.get(ctx.keys[op]);
    },
    check: (r) => r === true || (r !== null && typeof r === 'object' && typeof r.id === 'string'),
  },
  {
    id: 'checkLimit',
    title: 'checkLimit, 64 callers',
    detail: '64 concurrent callers, `rateLimiter.checkLimit(id, "api", { windowMs: 1000, maxRequests: 100 })` over 1000 identifiers',
    service: 'rateLimiter',
    concurrency: 64,
    op: (s, ctx, c, i) => s.rateLimiter.checkLimit(`client-${spread(c, i, 1000)}`, 'api', RATE),
    check: (r) => r !== null && typeof r === 'object' && typeof r.allowed === 'boolean',
  },
  {
    id: 'pubsub',
    title: 'pub/sub publish-to-delivery, one subscriber',
    detail: '64 concurrent callers, each `broker.publish`es and waits for its message to reach the one subscriber callback; rate = messages delivered/s, latency = publish to delivery',
    service: 'broker',
    concurrency: 64,
    async prepare(s, ctx) {
      ctx.waiters = new Array(65);
      await s.broker.subscribe(CHANNEL, (message) => {
        const c = message && message.data ? message.data.c : undefined;
        const waiter = ctx.waiters[c];
        if (waiter) {
          ctx.waiters[c] = undefined;
          waiter(message);
        }
      });
      await untilDelivered(s.broker, CHANNEL, { type: 'probe', data: { c: 64 } }, (resolve) => (ctx.waiters[64] = resolve));
    },
    op: (s, ctx, c) =>
      new Promise((resolve, reject) => {
        ctx.waiters[c] = resolve;
        s.broker.publish(CHANNEL, { type: 'bench', data: { c } }).catch(reject);
      }),
    check: (r) => r !== null && typeof r === 'object' && r.type === 'bench' && typeof r.messageId === 'string',
  },
  {
    id: 'firehose',
    title: 'pub/sub fire-hose publish, one subscriber',
    detail: "64 concurrent callers each awaiting `broker.publish` (the seed's `{ ...message, timestamp, messageId }` envelope on every client) without waiting for delivery; ops/s = publishes acknowledged/s, and in brackets the messages the one subscriber received per second",
    service: 'broker',
    concurrency: 64,
    prepare: (s, ctx) => subscribeCounting(s.broker, FIREHOSE, ctx),
    op: (s, ctx, c, i) => s.broker.publish(FIREHOSE, { type: 'bench', data: { c, i } }),
    check: (r) => r === undefined || typeof r === 'number',
    delivered: (ctx) => ctx.delivered,
  },
  {
    id: 'durable',
    title: 'durable fire-hose publish, one consumer acknowledging',
    detail:
      "64 concurrent callers each awaiting a durable publish (redis-layer `DurableBroker.publish`: XADD + wake-up; BullMQ `queue.add`) of the seed's envelope without waiting for delivery; one consumer (a `DurableBroker` in a group, maxInFlight 100; a BullMQ `Worker`, concurrency 100) whose callback resolves at once, so each message is acknowledged (XACK; job completed); ops/s = publishes acknowledged/s, and in brackets the messages the consumer handled per second",
    service: 'durable',
    clients: ['redis-layer', 'bullmq'],
    concurrency: 64,
    prepare(s, ctx) {
      ctx.channel = `bench-durable-${process.pid}`;
      return subscribeCounting(s.durable, ctx.channel, ctx);
    },
    op: (s, ctx, c, i) => s.durable.publish(ctx.channel, { type: 'bench', data: { c, i } }),
    check: (r) => r !== undefined && r !== null,
    delivered: (ctx) => ctx.delivered,
    cleanup: (s) => s.durable.cleanup(),
  },
  {
    id: 'durable-e2e',
    title: 'durable publish-to-handler, one consumer acknowledging',
    detail:
      '64 concurrent callers, each publishes durably and waits for its message to reach the one consumer callback (redis-layer `DurableBroker` in a group; BullMQ `Queue` + `Worker`, concurrency 100), which resolves at once and so acknowledges it; rate = messages handled/s, latency = publish to handler',
    service: 'durable',
    clients: ['redis-layer', 'bullmq'],
    concurrency: 64,
    async prepare(s, ctx) {
      ctx.channel = `bench-durable-e2e-${process.pid}`;
      ctx.waiters = new Array(65);
      await s.durable.subscribe(ctx.channel, (message) => {
        const c = message && message.data ? message.data.c : undefined;
        const waiter = ctx.waiters[c];
        if (waiter) {
          ctx.waiters[c] = undefined;
          waiter(message);
        }
      });
      await untilDelivered(s.durable, ctx.channel, { type: 'probe', data: { c: 64 } }, (resolve) => (ctx.waiters[64] = resolve));
    },
    op: (s, ctx, c) =>
      new Promise((resolve, reject) => {
        ctx.waiters[c] = resolve;
        s.durable.publish(ctx.channel, { type: 'bench', data: { c } }).catch(reject);
      }),
    check: (r) => r !== null && typeof r === 'object' && r.type === 'bench' && typeof r.messageId === 'string',
    cleanup: (s) => s.durable.cleanup(),
  },
  {
    id: 'session',
    title: 'getSession, 64 callers',
    detail: '64 concurrent callers, `sessionService.getSession(id)` over 1000 live sessions (the seed reads, then rewrites with the new lastActivity)',
    service: 'session',
    concurrency: 64,
    async prepare(s) {
      for (let i = 0; i < SESSIONS; i += 100) {
        await Promise.all(Array.from({ length: 100 }, (_, k) => s.session.createSession(sessionId(i + k), makeSession(i + k))));
      }
    },
    op: (s, ctx, c, i) => s.session.getSession(sessionId(spread(c, i, SESSIONS))),
    check: (r) => r !== null && typeof r === 'object' && typeof r.userId === 'string',
  },
  {
    id: 'warm',
    title: 'warmUserCache of 1000 users',
    detail: '1 caller, `warmUserCache(1000 ids)` (user + profile key each, TTL); repositories are JS stubs returning ready objects. ops/s = calls/s; ×1000 for users/s',
    service: 'warming',
    concurrency: 1,
    latency: true,
    prepare(s, ctx) {
      const all = users(ctx);
      const repositories = {
        userRepository: {
          findByIds: async (ids) => ids.map((id) => all[Number(id)]),
          getActiveUsers: async (limit) => all.slice(0, limit),
        },
        postRepository: { findByIds: async () => [], getTrendingPosts: async () => [] },
      };
      ctx.warming = s.warming(repositories);
    },
    op: (s, ctx) => ctx.warming.warmUserCache(WARM_IDS),
    check: (r) => r === undefined || r === null || typeof r === 'object' || typeof r === 'number',
  },
  {
    id: 'session-store',
    title: 'express-session store, 64 callers',
    detail: '64 concurrent callers on the store express-session is given (redis-layer/express-session against connect-redis on node-redis): `get(sid)`, and `set(sid, session)` for one call in four, over 1000 sessions',
    service: 'sessionStore',
    concurrency: 64,
    async prepare(s, ctx) {
      ctx.sessions = Array.from({ length: SESSIONS }, (_, i) => ({
        cookie: { originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000).toISOString(), httpOnly: true, path: '/' },
        ...makeSession(i),
      }));
      for (let i = 0; i < SESSIONS; i++) await storeCall(s.sessionStore, 'set', `bench-${i}`, ctx.sessions[i]);
    },
    op(s, ctx, c, i) {
      const k = spread(c, i, SESSIONS);
      return i % 4 === 0 ? storeCall(s.sessionStore, 'set', `bench-${k}`, ctx.sessions[k]) : storeCall(s.sessionStore, 'get', `bench-${k}`);
    },
    check: (r) => r === undefined || r === null || (typeof r === 'object' && typeof r.userId === 'string'),
  },
  {
    id: 'keyv',
    title: 'Keyv get / set with TTL, 64 callers',
    detail: '64 concurrent callers on a `Keyv` (redis-layer/keyv against @keyv/redis on node-redis), alternating `set(key, user, 3_600_000)` and `get(key)` over 1000 keys',
    service: 'keyv',
    concurrency: 64,
    prepare: (s, ctx) => users(ctx),
    op(s, ctx, c, i) {
      const k = spread(c, i, 1000);
      return i & 1 ? s.keyv.set(`bench:keyv:${k}`, ctx.users[k], 3_600_000) : s.keyv.get(`bench:keyv:${k}`);
    },
    check: (r) => r === true || r === undefined || (r !== null && typeof r === 'object' && typeof r.id === 'string'),
  },
  {
    id: 'rate-limit-store',
    title: 'express-rate-limit store increment, 64 callers',
    detail: '64 concurrent callers on the store express-rate-limit is given (redis-layer/express-rate-limit against rate-limit-redis on node-redis): `increment(key)` over 1000 clients, 60 s window',
    service: 'rateLimitStore',
    concurrency: 64,
    async prepare(s) {
      await s.rateLimitStore.init({ windowMs: 60_000 });
    },
    op: (s, ctx, c, i) => s.rateLimitStore.increment(`bench-${spread(c, i, 1000)}`),
    check: (r) => r !== null && typeof r === 'object' && typeof r.totalHits === 'number',
  },
];

/**
 * A subscription may become live a moment after subscribe() resolves: publishes `probe` until the
 * subscriber sees it (`arm` hands the subscriber the resolve to call), for at most 5 s.
 */
/** Subscribes a callback that counts what it receives in `ctx.delivered`, once a probe message gets through. */
async function subscribeCounting(broker, channel, ctx) {
  ctx.delivered = 0;
  let probe;
  await broker.subscribe(channel, (message) => {
    ctx.delivered++;
    if (message && message.type === 'probe' && probe) probe();
  });
  await untilDelivered(broker, channel, { type: 'probe', data: {} }, (resolve) => (probe = resolve));
}

async function untilDelivered(broker, channel, probe, arm) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const delivered = new Promise(arm);
    await broker.publish(channel, probe);
    const ok = await Promise.race([delivered.then(() => true), new Promise((r) => setTimeout(r, 100, false))]);
    if (ok) return;
    if (Date.now() > deadline) throw new Error('subscriber never received a message');
  }
}

/** A callback-style store method (express-session's Store) as a promise. */
function storeCall(store, method, ...args) {
  return new Promise((resolve, reject) => store[method](...args, (error, value) => (error ? reject(error) : resolve(value))));
}

module.exports = { WORKLOADS, CHANNEL };
