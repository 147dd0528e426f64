/**
 * `redis-layer/fastify-rate-limit` under real fastify + @fastify/rate-limit over HTTP.
 */
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance } from 'fastify';
import { RedisConnection } from '..';
import { fastifyRateLimitStore } from '../dist/adapters/fastify-rate-limit';
import { startRedis, type TestServer, uniquePrefix } from './helpers/redis';

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

/** A listening fastify app limited to `max` per minute per client, with one route of its own limit. */
async function app(options: Record<string, unknown>): Promise<string> {
  const api = Fastify();
  apps.push(api);
  await api.register(rateLimit, { max: 3, timeWindow: 60_000, ...options });
  api.get('/ok', async () => 'ok');
  api.get('/strict', { config: { rateLimit: { max: 1, timeWindow: 60_000 } } }, async () => 'strict');
  return api.listen({ port: 0, host: '127.0.0.1' });
}

const get = (base: string, path = '/ok') => fetch(`${base}${path}`);

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

it('keeps counting exactly across SCRIPT FLUSH', async () => {
  const prefix = uniquePrefix('frl');
  const base = await app({ store: fastifyRateLimitStore({ connection, prefix }) });
  expect((await get(base)).status).toBe(200);
  server.cli('SCRIPT', 'FLUSH');
  expect((await get(base)).status).toBe(200);
  expect((await get(base)).status).toBe(200);
  expect((await get(base)).status).toBe(429);
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

it('rejects bad options with errors naming them', () => {
  expect(() => fastifyRateLimitStore(null as never)).toThrow(new TypeError('options must be an object, got null'));
  expect(() => fastifyRateLimitStore({ prefix: 7 as never })).toThrow(TypeError);
  expect(() => fastifyRateLimitStore({ prefix: 7 as never })).toThrow(/options\.prefix/);
});
