/**
 * `redis-layer/express-session`'s store under real fastify + @fastify/cookie + @fastify/session over HTTP
 * (under vitest: @fastify/cookie loads its cookie parser with a dynamic import, which Jest's VM refuses).
 */
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisConnection } from '../..';
import { RedisSessionStore } from '../../dist/adapters/express-session';
import { startRedis, type TestServer, uniquePrefix } from '../helpers/redis';

declare module 'fastify' {
  interface Session {
    userId?: string;
    views?: number;
  }
}

let server: TestServer;
let connection: RedisConnection;
const apps: FastifyInstance[] = [];
const stores: RedisSessionStore[] = [];

beforeAll(async () => {
  server = await startRedis();
  connection = new RedisConnection({ url: server.url });
  await connection.connect();
});

afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  for (const store of stores) store.close();
  await connection.close();
  await server.stop();
});

/** A listening app: /login, /me (counts views), /peek (reads only), /rotate (regenerate), /logout (destroy). */
async function app(prefix: string, maxAge = 60_000, rolling = true): Promise<string> {
  const store = new RedisSessionStore({ connection, prefix });
  stores.push(store);
  const api = Fastify();
  apps.push(api);
  await api.register(fastifyCookie);
  await api.register(fastifySession, {
    secret: 'a secret of at least thirty-two characters',
    cookie: { secure: false, maxAge },
    saveUninitialized: false,
    rolling,
    store,
  });
  api.post('/login', async (request) => {
    request.session.userId = 'u1';
    return 'in';
  });
  api.get('/me', async (request) => {
    request.session.views = (request.session.views ?? 0) + 1;
    return { userId: request.session.userId ?? null, views: request.session.views };
  });
  api.get('/peek', async (request) => ({ userId: request.session.userId ?? null }));
  api.post('/rotate', async (request) => {
    const userId = request.session.userId;
    await request.session.regenerate();
    request.session.userId = userId;
    return 'rotated';
  });
  api.post('/logout', async (request) => {
    await request.session.destroy();
    return 'out';
  });
  return api.listen({ port: 0, host: '127.0.0.1' });
}

/** The session cookie a response set, as `name=value`. */
function cookieOf(res: Response): string {
  const header = res.headers.get('set-cookie');
  if (!header) throw new Error('no session cookie was set');
  return header.split(';')[0] as string;
}

const call = (base: string, method: string, path: string, cookie?: string) =>
  fetch(`${base}${path}`, { method, headers: cookie ? { cookie } : {} });

const sessionKeys = (prefix: string) =>
  server
    .cli('--scan', '--pattern', `${prefix}*`)
    .split('\n')
    .filter((key) => key !== '' && !key.endsWith(':destroyed'));

it('logs in, keeps the session across requests, and stores it as JSON with a TTL from the cookie', async () => {
  const prefix = uniquePrefix('fsess');
  const base = await app(prefix);
  const cookie = cookieOf(await call(base, 'POST', '/login'));
  expect(await (await call(base, 'GET', '/me', cookie)).json()).toEqual({ userId: 'u1', views: 1 });
  expect(await (await call(base, 'GET', '/me', cookie)).json()).toEqual({ userId: 'u1', views: 2 });
  const keys = sessionKeys(prefix);
  expect(keys).toHaveLength(1);
  expect(JSON.parse(server.cli('GET', keys[0] as string))).toMatchObject({ userId: 'u1', views: 2 });
  const ttl = Number(server.cli('PTTL', keys[0] as string));
  expect(ttl).toBeGreaterThan(50_000);
  expect(ttl).toBeLessThanOrEqual(60_000);
});

it('regenerate moves the session to a new id and the old cookie no longer works', async () => {
  const prefix = uniquePrefix('fsess');
  const base = await app(prefix);
  const before = cookieOf(await call(base, 'POST', '/login'));
  const after = cookieOf(await call(base, 'POST', '/rotate', before));
  expect(after).not.toBe(before);
  expect(await (await call(base, 'GET', '/me', after)).json()).toEqual({ userId: 'u1', views: 1 });
  expect(await (await call(base, 'GET', '/me', before)).json()).toEqual({ userId: null, views: 1 });
  expect(sessionKeys(prefix)).toHaveLength(2); // the rotated session, and the anonymous one the old cookie started
});

it('logout destroys the session in Redis', async () => {
  const prefix = uniquePrefix('fsess');
  const base = await app(prefix);
  const cookie = cookieOf(await call(base, 'POST', '/login'));
  expect(sessionKeys(prefix)).toHaveLength(1);
  await call(base, 'POST', '/logout', cookie);
  expect(sessionKeys(prefix)).toHaveLength(0);
  expect(await (await call(base, 'GET', '/me', cookie)).json()).toEqual({ userId: null, views: 1 });
});

it('a session expires with its cookie', async () => {
  const prefix = uniquePrefix('fsess');
  const base = await app(prefix, 300);
  const cookie = cookieOf(await call(base, 'POST', '/login'));
  expect(sessionKeys(prefix)).toHaveLength(1);
  await new Promise((resolve) => setTimeout(resolve, 400));
  expect(sessionKeys(prefix)).toHaveLength(0);
  expect(await (await call(base, 'GET', '/me', cookie)).json()).toEqual({ userId: null, views: 1 });
});

it('each request touches the session: its TTL in Redis and its cookie slide (rolling), without it they do not', async () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const prefix = uniquePrefix('fsess');
  const rolling = await app(prefix, 2000);
  const still = await app(uniquePrefix('fsess'), 2000, false);
  const rollingCookie = cookieOf(await call(rolling, 'POST', '/login'));
  const stillCookie = cookieOf(await call(still, 'POST', '/login'));
  await sleep(1200);
  const touched = await call(rolling, 'GET', '/peek', rollingCookie);
  expect(await touched.json()).toEqual({ userId: 'u1' });
  const expires = Date.parse(/Expires=([^;]+)/.exec(touched.headers.get('set-cookie') ?? '')?.[1] ?? '');
  expect(expires).toBeGreaterThan(Date.now() + 1000);
  const ttl = Number(server.cli('PTTL', sessionKeys(prefix)[0] as string));
  expect(ttl).toBeGreaterThan(1500);
  expect(ttl).toBeLessThanOrEqual(2000);
  expect(await (await call(still, 'GET', '/peek', stillCookie)).json()).toEqual({ userId: 'u1' });
  // 2.4 s after login: the touched session lives on, the untouched one expired with its cookie.
  await sleep(1200);
  expect(await (await call(rolling, 'GET', '/peek', rollingCookie)).json()).toEqual({ userId: 'u1' });
  expect(await (await call(still, 'GET', '/peek', stillCookie)).json()).toEqual({ userId: null });
});
