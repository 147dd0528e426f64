'use strict';
// npm run bench:soak: 1 000 000 mixed operations on redis-layer against a private redis-server,
// RSS sampled every 100 000. Fails (exit 1) when memory keeps climbing after warm-up: the last
// sample above 1.3x the one at 200 000 operations. `npm run bench` runs it too (as a child
// process: the result goes to bench/run.js over IPC, for bench/RESULTS.md).
//   SOAK_OPS  total operations (default 1 000 000; samples every tenth of it)
const path = require('node:path');
const { startServer } = require('./lib/server');
const { makeUser, makeSession, userKey, sessionId } = require('./lib/data');

const TOTAL = Math.max(10, Math.floor(Number(process.env.SOAK_OPS || 1_000_000)));
const EVERY = Math.floor(TOTAL / 10);
const CONCURRENCY = 64;
const KEYS = 5_000;
const GROWTH_LIMIT = 1.3;

async function main() {
  const lib = require(path.join(__dirname, '..'));
  const noop = () => {};
  lib.setLogger({ debug: noop, info: noop, warn: noop, error: noop });
  const server = await startServer();
  const connection = new lib.RedisConnection({ url: server.url });
  try {
    await connection.connect();
    const cache = new lib.CacheService(connection);
    const limiter = typeof lib.RateLimiter === 'function' ? new lib.RateLimiter(connection) : null;
    const sessions = typeof lib.SessionService === 'function' ? new lib.SessionService(connection) : null;
    const broker = typeof lib.MessageBroker === 'function' ? new lib.MessageBroker(connection) : null;
    const users = Array.from({ length: 500 }, (_, i) => makeUser(i));
    for (let i = 0; i < KEYS; i += 500) await Promise.all(users.map((u, k) => cache.set(userKey(i + k), u, 3600)));
    if (sessions) await Promise.all(Array.from({ length: 500 }, (_, i) => sessions.createSession(sessionId(i), makeSession(i))));
    let delivered = 0;
    if (broker) await broker.subscribe('soak:events', () => delivered++);
    const mgetKeys = Array.from({ length: 10 }, (_, j) => userKey(j * 37));

    // Weighted mix; services that have not landed yet fall back to cache reads.
    const ops = [
      (i) => cache.get(userKey(i % KEYS)),
      (i) => cache.get(userKey((i * 7) % KEYS)),
      (i) => cache.set(userKey(i % KEYS), users[i % 500], 3600),
      (i) => cache.mget(mgetKeys.map((k, j) => userKey((i + j * 101) % KEYS))),
      (i) => cache.exists(userKey(i % (KEYS * 2))),
      (i) => cache.set(`soak:tmp:${i % 1000}`, { i }, 60).then(() => cache.del(`soak:tmp:${i % 1000}`)),
      (i) => (limiter ? limiter.checkLimit(`soak-${i % 500}`, 'api', { windowMs: 1000, maxRequests: 50 }) : cache.get(userKey(i % KEYS))),
      (i) => (sessions ? sessions.getSession(sessionId(i % 500)) : cache.get(userKey(i % KEYS))),
      (i) => (broker ? broker.publish('soak:events', { type: 'soak', data: { i } }) : cache.get(userKey(i % KEYS))),
      (i) => cache.get(`soak:missing:${i}`),
    ];

    const samples = [];
    const sample = (done) => {
      if (global.gc) global.gc();
      const m = process.memoryUsage();
      samples.push({ ops: done, rssMb: m.rss / 2 ** 20, heapMb: m.heapUsed / 2 ** 20, externalMb: m.external / 2 ** 20, seconds: (Date.now() - started) / 1000 });
      const s = samples[samples.length - 1];
      console.log(`${String(done).padStart(9)} ops  rss ${s.rssMb.toFixed(1).padStart(6)} MB  heap ${s.heapMb.toFixed(1).padStart(6)} MB  external ${s.externalMb.toFixed(1).padStart(5)} MB  ${s.seconds.toFixed(1)} s`);
    };

    const started = Date.now();
    let issued = 0;
    let completed = 0;
    let errors = 0;
    let nextSample = EVERY;
    let pausing = null;
    const worker = async () => {
      while (issued < TOTAL) {
        if (pausing) await pausing;
        const i = issued++;
        try {
          await ops[i % ops.length](i);
        } catch {
          errors++;
        }
        completed++;
        if (completed >= nextSample) {
          nextSample += EVERY;
          // Sample between operations, not in the middle of a burst of allocations.
          let release;
          pausing = new Promise((r) => (release = r));
          await new Promise((r) => setImmediate(r));
          sample(completed);
          pausing = null;
          release();
        }
      }
    };
    sample(0);
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (Date.now() - started) / 1000;
    console.log(`\n${completed} operations in ${seconds.toFixed(1)} s (${Math.round(completed / seconds)} ops/s), ${errors} errors${broker ? `, ${delivered} messages delivered` : ''}`);

    const base = samples.find((s) => s.ops >= 2 * EVERY) || samples[1];
    const last = samples[samples.length - 1];
    const growth = last.rssMb / base.rssMb;
    console.log(`RSS after warm-up (${base.ops} ops): ${base.rssMb.toFixed(1)} MB; at the end: ${last.rssMb.toFixed(1)} MB (x${growth.toFixed(2)}, limit x${GROWTH_LIMIT})`);
    const failure = errors > 0 ? 'operations failed during the soak' : growth > GROWTH_LIMIT ? 'RSS keeps climbing after warm-up' : null;
    if (failure) {
      console.error(`FAIL: ${failure}`);
      process.exitCode = 1;
    } else {
      console.log('OK: RSS levels off');
    }
    const result = { operations: completed, seconds, errors, samples, baseOps: base.ops, growth, growthLimit: GROWTH_LIMIT, failure };
    if (process.send) await new Promise((resolve) => process.send(result, resolve));
  } finally {
    await connection.close();
    await server.stop();
  }
}

main().catch((error) => {
  console.error(error);
  const exit = () => process.exit(1);
  if (process.send) process.send({ failure: `bench/soak.js failed: ${error && error.message}` }, exit);
  else exit();
});
