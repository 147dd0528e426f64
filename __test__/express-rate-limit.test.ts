/**
 * `redis-layer/express-rate-limit` under real express + express-rate-limit over HTTP.
 */
import express from 'express';
import { rateLimit } from 'express-rate-limit';
import request from 'supertest';
import { RedisConnection } from '..';
import { RedisRateLimitStore } from '../dist/adapters/express-rate-limit';
import { startRedis, type TestServer, uniquePrefix } from './helpers/redis';
import { type Cluster, startCluster } from './helpers/topology';

let server: TestServer;
let connection: RedisConnection;

beforeAll(async () => {
  server = await startRedis();
  connection = new RedisConnection({ url: server.url, commandTimeoutMs: 1000 });
  await connection.connect();
});

afterAll(async () => {
  await connection.close();
  await server.stop();
});

function app(store: RedisRateLimitStore, options: Record<string, unknown> = {}) {
  const api = express();
  api.use(
    rateLimit({ windowMs: 60_000, limit: 3, standardHeaders: 'draft-6', legacyHeaders: false, store, ...options }),
  );
  api.get('/ok', (_req, res) => void res.send('ok'));
  api.get('/fail', (_req, res) => void res.status(500).send('no'));
  return api;
}

it('allows the limit, then answers 429 with the standard headers and Retry-After', async () => {
  const prefix = uniquePrefix('rl');
  const api = app(new RedisRateLimitStore({ connection, prefix }));
  for (let i = 0; i < 3; i++) {
    const res = await request(api).get('/ok').expect(200);
    expect(res.headers['ratelimit-limit']).toBe('3');
    expect(res.headers['ratelimit-remaining']).toBe(String(2 - i));
    expect(Number(res.headers['ratelimit-reset'])).toBeGreaterThan(55);
  }
  const denied = await request(api).get('/ok').expect(429);
  expect(denied.headers['ratelimit-remaining']).toBe('0');
  expect(Number(denied.headers['retry-after'])).toBeGreaterThan(55);
  const keys = server.cli('KEYS', `${prefix}*`).split('\n');
  expect(keys).toHaveLength(1);
  // Every hit is recorded, the denied one included: the middleware decides.
  expect(server.cli('GET', keys[0] as string)).toBe('4');
});

it('decrement removes exactly one hit: skipSuccessfulRequests counts only failures', async () => {
  const api = app(new RedisRateLimitStore({ connection, prefix: uniquePrefix('skip') }), {
    skipSuccessfulRequests: true,
  });
  for (let i = 0; i < 5; i++) await request(api).get('/ok').expect(200);
  for (let i = 0; i < 3; i++) await request(api).get('/fail').expect(500);
  await request(api).get('/fail').expect(429);
});

it('keeps counting exactly across SCRIPT FLUSH and a server restart', async () => {
  const own = await startRedis();
  const ownConnection = new RedisConnection({ url: own.url });
  await ownConnection.connect();
  try {
    const api = app(new RedisRateLimitStore({ connection: ownConnection }));
    await request(api).get('/ok').expect(200);
    own.cli('SCRIPT', 'FLUSH');
    await request(api).get('/ok').expect(200);
    await request(api).get('/ok').expect(200);
    await request(api).get('/ok').expect(429);
    await own.kill();
    await own.restart();
    const deadline = Date.now() + 10_000;
    while (!ownConnection.isConnected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // A restarted server starts empty, without the script loaded.
    await request(api).get('/ok').expect(200);
  } finally {
    await ownConnection.close();
    await own.stop();
  }
});

it('with Redis down, passOnStoreError lets requests through and the default fails them', async () => {
  const own = await startRedis();
  const ownConnection = new RedisConnection({ url: own.url, commandTimeoutMs: 500 });
  await ownConnection.connect();
  try {
    const store = new RedisRateLimitStore({ connection: ownConnection });
    const passing = app(store, { passOnStoreError: true });
    const strict = app(new RedisRateLimitStore({ connection: ownConnection }));
    await own.kill();
    const started = Date.now();
    await request(passing).get('/ok').expect(200);
    await request(strict).get('/ok').expect(500);
    expect(Date.now() - started).toBeLessThan(5000);
  } finally {
    await ownConnection.close();
    await own.stop();
  }
});

it('get, resetKey and resetAll see and forget the hits of this prefix only', async () => {
  const prefix = `${uniquePrefix('reset')}r*[1]:`;
  const store = new RedisRateLimitStore({ connection, prefix });
  const neighbour = new RedisRateLimitStore({ connection, prefix: prefix.replace('r*[1]:', 'rx1:') });
  store.init({ windowMs: 10_000 } as Parameters<RedisRateLimitStore['init']>[0]);
  neighbour.init({ windowMs: 10_000 } as Parameters<RedisRateLimitStore['init']>[0]);
  expect(await store.get('a')).toBeUndefined();
  const first = await store.increment('a');
  await new Promise((resolve) => setTimeout(resolve, 200));
  await store.increment('a');
  // The same window, not one restarted by the second hit (resetTime is read against this process' clock).
  const seen = await store.get('a');
  expect(seen?.totalHits).toBe(2);
  expect(Math.abs((seen?.resetTime?.getTime() ?? 0) - (first.resetTime?.getTime() ?? 0))).toBeLessThan(100);
  await store.decrement('a');
  expect((await store.get('a'))?.totalHits).toBe(1);
  await store.resetKey('a');
  expect(await store.get('a')).toBeUndefined();
  await store.increment('b');
  await neighbour.increment('c');
  await store.resetAll();
  expect(await store.get('b')).toBeUndefined();
  expect((await neighbour.get('c'))?.totalHits).toBe(1);
});

it('keeps one small counter per client however many hits it sends, and its window ends on time', async () => {
  const prefix = uniquePrefix('rl');
  const store = new RedisRateLimitStore({ connection, prefix });
  store.init({ windowMs: 400 } as Parameters<RedisRateLimitStore['init']>[0]);
  const infos = await Promise.all(Array.from({ length: 2000 }, () => store.increment('flood')));
  expect(Math.max(...infos.map((info) => info.totalHits))).toBe(2000);
  const key = `${prefix}flood`;
  expect(server.cli('TYPE', key)).toBe('string');
  expect(Number(server.cli('MEMORY', 'USAGE', key))).toBeLessThan(128);
  const reset = infos[0]?.resetTime?.getTime() ?? 0;
  expect(reset - Date.now()).toBeGreaterThan(0);
  expect(reset - Date.now()).toBeLessThanOrEqual(400);
  // decrement never goes below zero and never creates a counter for a client without hits.
  await store.decrement('nobody');
  expect(server.cli('EXISTS', `${prefix}nobody`)).toBe('0');
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(await store.get('flood')).toBeUndefined();
  expect((await store.increment('flood')).totalHits).toBe(1);
});

describe('on Redis Cluster', () => {
  let cluster: Cluster;
  let clusterConnection: RedisConnection;

  beforeAll(async () => {
    cluster = await startCluster();
    clusterConnection = new RedisConnection({ cluster: { nodes: cluster.urls }, commandTimeoutMs: 2000 });
    await clusterConnection.connect();
  }, 120_000);

  afterAll(async () => {
    await clusterConnection?.close();
    await cluster?.stop();
  });

  it('limits clients whose counters live on every master, exactly, across SCRIPT FLUSH on every node', async () => {
    const prefix = uniquePrefix('rl');
    const api = app(new RedisRateLimitStore({ connection: clusterConnection, prefix }), {
      keyGenerator: (req: express.Request) => String(req.headers['x-client']),
    });
    const clients = Array.from({ length: 12 }, (_, i) => `client-${i}`);
    const statuses = async () =>
      Promise.all(clients.map(async (c) => (await request(api).get('/ok').set('x-client', c)).status));
    expect(await statuses()).toEqual(clients.map(() => 200));
    for (const node of cluster.nodes) await node.cmd('SCRIPT', 'FLUSH');
    expect(await statuses()).toEqual(clients.map(() => 200));
    expect(await statuses()).toEqual(clients.map(() => 200));
    expect(await statuses()).toEqual(clients.map(() => 429));
    const perMaster = await Promise.all(
      (await cluster.masters()).map(async (master) =>
        Number(await master.cmd('EVAL', "return #redis.call('KEYS', ARGV[1])", '0', `${prefix}*`)),
      ),
    );
    expect(perMaster.reduce((a, b) => a + b, 0)).toBe(clients.length);
    expect(perMaster.filter((n) => n > 0).length).toBeGreaterThan(1);
    expect(await (await cluster.nodeForKey(`${prefix}client-0`)).cmd('GET', `${prefix}client-0`)).toBe('4');
  }, 60_000);
});
