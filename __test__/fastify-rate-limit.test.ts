/**
 * `redis-layer/fastify-rate-limit` under real fastify + @fastify/rate-limit over HTTP.
 */
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance } from 'fastify';
import { RedisConnection } from '..';
import { fastifyRateLimitStore } from '../dist/adapters/fastify-rate-limit';
import { sleep, startRedis, type TestServer, uniquePrefix } from './helpers/redis';
import { type Cluster, startCluster } from './helpers/topology';

let server: TestServer;
let connection: RedisConnection;
const apps: FastifyInstance[] = [];

beforeAll(async () => {
  server = await startRedis();
  connection = new RedisConnection({ url: server.url, commandTimeoutMs: 1000 });
  await connection.connect();
});

afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await connection.close();
  await server.stop();
});

/**
 * A listening fastify app limited to `max` per minute per client (the `x-client` header, else the IP),
 * with one route of its own limit and one that only reads the client's count (`{ increment: false }`).
 */
async function app(options: Record<string, unknown>): Promise<string> {
  const api = Fastify();
  apps.push(api);
  await api.register(rateLimit, {
    max: 3,
    timeWindow: 60_000,
    keyGenerator: (request) => String(request.headers['x-client'] ?? request.ip),
    ...options,
  });
  api.get('/ok', async () => 'ok');
  api.get('/strict', { config: { rateLimit: { max: 1, timeWindow: 60_000 } } }, async () => 'strict');
  const peek = api.createRateLimit();
  api.get('/peek', { config: { rateLimit: false } }, async (request) => {
    const limit = await peek(request, { increment: false });
    if (limit.isAllowed) throw new Error('no client is allow-listed in this app');
    return { remaining: limit.remaining, ttlInSeconds: limit.ttlInSeconds };
  });
  return api.listen({ port: 0, host: '127.0.0.1' });
}

const get = (base: string, path = '/ok', client?: string) =>
  fetch(`${base}${path}`, { headers: client === undefined ? {} : { 'x-client': client } });

async function untilConnected(connection: RedisConnection): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!connection.isConnected && Date.now() < deadline) await sleep(20);
  expect(connection.isConnected).toBe(true);
}

it('allows the limit, then answers 429 with the x-ratelimit headers and Retry-After', async () => {
  const prefix = uniquePrefix('frl');
  const base = await app({ store: fastifyRateLimitStore({ connection, prefix }) });
  for (let i = 0; i < 3; i++) {
    const res = await get(base);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-limit')).toBe('3');
    expect(res.headers.get('x-ratelimit-remaining')).toBe(String(2 - i));
    expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThan(50);
  }
  const denied = await get(base);
  expect(denied.status).toBe(429);
  expect(Number(denied.headers.get('retry-after'))).toBeGreaterThan(50);
  expect(Number(denied.headers.get('retry-after'))).toBeLessThanOrEqual(60);
  // One counter per client, in Redis, holding every hit (the denied one too).
  const keys = server.cli('--scan', '--pattern', `${prefix}*`).split('\n').filter(Boolean);
  expect(keys).toHaveLength(1);
  expect(server.cli('GET', keys[0] as string)).toBe('4');
});

it('with enableDraftSpec, sends the standard RateLimit-* headers and Retry-After', async () => {
  const base = await app({
    store: fastifyRateLimitStore({ connection, prefix: uniquePrefix('frl') }),
    enableDraftSpec: true,
  });
  for (let i = 0; i < 3; i++) {
    const res = await get(base);
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit-limit')).toBe('3');
    expect(res.headers.get('ratelimit-remaining')).toBe(String(2 - i));
    expect(Number(res.headers.get('ratelimit-reset'))).toBeGreaterThan(50);
    expect(res.headers.get('x-ratelimit-limit')).toBeNull();
  }
  const denied = await get(base);
  expect(denied.status).toBe(429);
  expect(denied.headers.get('ratelimit-remaining')).toBe('0');
  expect(Number(denied.headers.get('ratelimit-reset'))).toBeGreaterThan(50);
  expect(Number(denied.headers.get('retry-after'))).toBeGreaterThan(50);
  expect(Number(denied.headers.get('retry-after'))).toBeLessThanOrEqual(60);
});

it('{ increment: false } reads the count without adding a hit', async () => {
  const prefix = uniquePrefix('frl');
  const base = await app({ store: fastifyRateLimitStore({ connection, prefix }) });
  expect(await (await get(base, '/peek')).json()).toEqual({ remaining: 3, ttlInSeconds: 0 });
  expect(server.cli('EXISTS', `${prefix}127.0.0.1`)).toBe('0');
  expect((await get(base)).status).toBe(200);
  const read = (await (await get(base, '/peek')).json()) as { remaining: number; ttlInSeconds: number };
  expect(read.remaining).toBe(2);
  expect(read.ttlInSeconds).toBeGreaterThan(50);
  expect(read.ttlInSeconds).toBeLessThanOrEqual(60);
  expect(server.cli('GET', `${prefix}127.0.0.1`)).toBe('1');
});

it("keys a route's own limit by method and URL, apart from the global one", async () => {
  const prefix = uniquePrefix('frl');
  const base = await app({ store: fastifyRateLimitStore({ connection, prefix }) });
  expect((await get(base, '/strict')).status).toBe(200);
  expect((await get(base, '/strict')).status).toBe(429);
  expect((await get(base, '/ok')).status).toBe(200);
  const keys = server.cli('--scan', '--pattern', `${prefix}*`).split('\n').filter(Boolean).sort();
  expect(keys).toEqual([`${prefix}127.0.0.1`, `${prefix}GET/strict-127.0.0.1`].sort());
});

it('continueExceeding restarts the window on each hit past the limit', async () => {
  const prefix = uniquePrefix('frl');
  const base = await app({ store: fastifyRateLimitStore({ connection, prefix }), continueExceeding: true, max: 1 });
  expect((await get(base)).status).toBe(200);
  server.cli('PEXPIRE', `${prefix}127.0.0.1`, '5000');
  expect((await get(base)).status).toBe(429);
  expect(Number(server.cli('PTTL', `${prefix}127.0.0.1`))).toBeGreaterThan(50_000);
});

it('exponentialBackoff doubles the window on each hit past the limit', async () => {
  const prefix = uniquePrefix('frl');
  const base = await app({ store: fastifyRateLimitStore({ connection, prefix }), exponentialBackoff: true, max: 1 });
  expect((await get(base)).status).toBe(200);
  expect((await get(base)).status).toBe(429);
  expect((await get(base)).status).toBe(429);
  expect((await get(base)).status).toBe(429);
  // Past max by 3: 60 s x 2^2.
  expect(Number(server.cli('PTTL', `${prefix}127.0.0.1`))).toBeGreaterThan(200_000);
});

it('keeps counting exactly across SCRIPT FLUSH and a server restart mid-run', async () => {
  const own = await startRedis();
  const ownConnection = new RedisConnection({ url: own.url, commandTimeoutMs: 1000 });
  await ownConnection.connect();
  try {
    const base = await app({ store: fastifyRateLimitStore({ connection: ownConnection }) });
    expect((await get(base)).status).toBe(200);
    own.cli('SCRIPT', 'FLUSH');
    expect((await get(base)).status).toBe(200);
    expect((await get(base)).status).toBe(200);
    expect((await get(base)).status).toBe(429);
    await own.kill();
    await own.restart();
    await untilConnected(ownConnection);
    // The restarted server is empty and has no script loaded: the first hit reloads it and starts a new window.
    expect((await get(base)).status).toBe(200);
    expect(own.cli('GET', 'fastify-rate-limit-127.0.0.1')).toBe('1');
    expect((await get(base)).status).toBe(200);
    expect((await get(base)).status).toBe(200);
    expect((await get(base)).status).toBe(429);
  } finally {
    await ownConnection.close();
    await own.stop();
  }
});

it('with Redis down, skipOnError lets requests through and the default fails them, within the command timeout', async () => {
  const own = await startRedis();
  const ownConnection = new RedisConnection({ url: own.url, commandTimeoutMs: 500 });
  await ownConnection.connect();
  try {
    const passing = await app({ store: fastifyRateLimitStore({ connection: ownConnection }), skipOnError: true });
    const strict = await app({ store: fastifyRateLimitStore({ connection: ownConnection }) });
    await own.kill();
    const started = Date.now();
    expect((await get(passing)).status).toBe(200);
    expect((await get(strict)).status).toBe(500);
    expect(Date.now() - started).toBeLessThan(5000);
  } finally {
    await ownConnection.close();
    await own.stop();
  }
});

it('with Redis unresponsive (its process stopped), both answers come after the command timeout, no hang', async () => {
  const own = await startRedis();
  const ownConnection = new RedisConnection({ url: own.url, commandTimeoutMs: 500 });
  await ownConnection.connect();
  try {
    const passing = await app({ store: fastifyRateLimitStore({ connection: ownConnection }), skipOnError: true });
    const strict = await app({ store: fastifyRateLimitStore({ connection: ownConnection }) });
    process.kill(own.pid, 'SIGSTOP');
    const started = Date.now();
    const [passed, failed] = await Promise.all([get(passing), get(strict)]);
    expect([passed.status, failed.status]).toEqual([200, 500]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(Date.now() - started).toBeLessThan(2000);
  } finally {
    process.kill(own.pid, 'SIGCONT');
    await ownConnection.close();
    await own.stop();
  }
});

it('rejects bad options with errors naming them', () => {
  expect(() => fastifyRateLimitStore(null as never)).toThrow(new TypeError('options must be an object, got null'));
  expect(() => fastifyRateLimitStore({ prefix: 7 as never })).toThrow(TypeError);
  expect(() => fastifyRateLimitStore({ prefix: 7 as never })).toThrow(/options\.prefix/);
});

it("calls back with a RangeError naming a bad timeWindow or max (from the plugin's functions), touching nothing", async () => {
  const prefix = uniquePrefix('frl');
  const Store = fastifyRateLimitStore({ connection, prefix });
  const store = new Store({});
  const incr = (timeWindow: unknown, max: unknown) =>
    new Promise<unknown>((resolve) => store.incr('k', (error) => resolve(error), timeWindow as number, max as number));
  expect(await incr(Number.NaN, 3)).toEqual(
    new RangeError('timeWindow must be a non-negative number of milliseconds, got NaN'),
  );
  expect(await incr(-1, 3)).toBeInstanceOf(RangeError);
  expect(await incr('60000', 3)).toEqual(
    new RangeError('timeWindow must be a non-negative number of milliseconds, got 60000'),
  );
  expect(await incr(60_000, undefined)).toEqual(new RangeError('max must be a number of requests, got undefined'));
  expect(server.cli('EXISTS', `${prefix}k`)).toBe('0');
  // max: Infinity counts without a limit.
  const counted = await new Promise((resolve, reject) =>
    store.incr('k', (error, result) => (error ? reject(error) : resolve(result)), 60_000, Number.POSITIVE_INFINITY),
  );
  expect(counted).toEqual({ current: 1, ttl: 60_000 });
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
    const prefix = uniquePrefix('frl');
    const base = await app({ store: fastifyRateLimitStore({ connection: clusterConnection, prefix }) });
    const clients = Array.from({ length: 12 }, (_, i) => `client-${i}`);
    const statuses = async (path = '/ok') => Promise.all(clients.map(async (c) => (await get(base, path, c)).status));
    expect(await statuses()).toEqual(clients.map(() => 200));
    for (const node of cluster.nodes) await node.cmd('SCRIPT', 'FLUSH');
    expect(await statuses()).toEqual(clients.map(() => 200));
    expect(await statuses()).toEqual(clients.map(() => 200));
    expect(await statuses()).toEqual(clients.map(() => 429));
    expect(await statuses('/strict')).toEqual(clients.map(() => 200));
    expect(await statuses('/strict')).toEqual(clients.map(() => 429));
    const masters = await cluster.masters();
    const perMaster = await Promise.all(
      masters.map(async (master) =>
        Number(await master.cmd('EVAL', "return #redis.call('KEYS', ARGV[1])", '0', `${prefix}*`)),
      ),
    );
    // One global and one route counter per client, spread over the masters.
    expect(perMaster.reduce((a, b) => a + b, 0)).toBe(clients.length * 2);
    expect(perMaster.filter((n) => n > 0).length).toBeGreaterThan(1);
    const owner = await cluster.nodeForKey(`${prefix}client-0`);
    expect(await owner.cmd('GET', `${prefix}client-0`)).toBe('4');
  }, 60_000);
});
