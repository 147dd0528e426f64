/**
 * `redis-layer/express-session` under real express + express-session + supertest, and against
 * data written by connect-redis itself (on node-redis), which shares its key layout.
 */
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import express from 'express';
import session, { type SessionData } from 'express-session';
import { createClient } from 'redis';
import request from 'supertest';
import { RedisConnection } from '..';
import { RedisSessionStore } from '../dist/adapters/express-session';
import { startRedis, type TestServer, uniquePrefix } from './helpers/redis';

declare module 'express-session' {
  interface SessionData {
    userId?: string;
    views?: number;
  }
}

let server: TestServer;
let connection: RedisConnection;
const stores: RedisSessionStore[] = [];

beforeAll(async () => {
  server = await startRedis();
  connection = new RedisConnection({ url: server.url });
  await connection.connect();
});

afterAll(async () => {
  for (const store of stores) store.close();
  await connection.close();
  await server.stop();
});

function makeStore(options: ConstructorParameters<typeof RedisSessionStore>[0] = {}): RedisSessionStore {
  const store = new RedisSessionStore({ connection, ...options });
  stores.push(store);
  return store;
}

/** An app with login, a counter, regenerate and logout, as a backend wires express-session. */
function app(store: session.Store, cookie: session.CookieOptions = { maxAge: 60_000 }) {
  const api = express();
  api.use(session({ store, secret: 'test secret', resave: false, saveUninitialized: false, cookie }));
  api.post('/login/:user', (req, res) => {
    req.session.userId = req.params.user;
    res.json({ sid: req.sessionID });
  });
  api.get('/me', (req, res) => {
    if (!req.session) return void res.status(503).json({ error: 'sessions unavailable' });
    req.session.views = (req.session.views ?? 0) + 1;
    res.json({ userId: req.session.userId ?? null, views: req.session.views, sid: req.sessionID });
  });
  api.post('/regenerate', (req, res, next) => {
    const userId = req.session.userId;
    req.session.regenerate((error) => {
      if (error) return next(error);
      req.session.userId = userId;
      res.json({ sid: req.sessionID });
    });
  });
  api.post('/logout', (req, res, next) => {
    req.session.destroy((error) => (error ? next(error) : res.json({ ok: true })));
  });
  return api;
}

const cookie = (maxAge: number) => ({ originalMaxAge: maxAge, expires: new Date(Date.now() + maxAge) });
const pttl = (key: string) => Number(server.cli('PTTL', key));
const promised = <T>(fn: (cb: (error?: unknown, value?: T) => void) => void) =>
  new Promise<T | undefined>((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value))));

describe('under express-session', () => {
  it('logs in, keeps the session across requests, regenerates and logs out', async () => {
    const prefix = uniquePrefix('sess');
    const agent = request.agent(app(makeStore({ prefix })));
    const { sid } = (await agent.post('/login/ada').expect(200)).body;
    expect(JSON.parse(server.cli('GET', `${prefix}${sid}`))).toMatchObject({ userId: 'ada' });
    expect(pttl(`${prefix}${sid}`)).toBeGreaterThan(55_000);
    expect(pttl(`${prefix}${sid}`)).toBeLessThanOrEqual(60_000);
    expect((await agent.get('/me').expect(200)).body).toEqual({ userId: 'ada', views: 1, sid });
    expect((await agent.get('/me').expect(200)).body).toMatchObject({ views: 2 });

    const moved = (await agent.post('/regenerate').expect(200)).body.sid;
    expect(moved).not.toBe(sid);
    expect(server.cli('EXISTS', `${prefix}${sid}`)).toBe('0');
    expect((await agent.get('/me').expect(200)).body).toMatchObject({ userId: 'ada', sid: moved });

    await agent.post('/logout').expect(200);
    expect(server.cli('EXISTS', `${prefix}${moved}`)).toBe('0');
    expect((await agent.get('/me').expect(200)).body).toMatchObject({ userId: null });
  });

  it('lets a sub-second cookie maxAge expire the session in Redis', async () => {
    const prefix = uniquePrefix('short');
    const agent = request.agent(app(makeStore({ prefix }), { maxAge: 300 }));
    const { sid } = (await agent.post('/login/grace').expect(200)).body;
    expect(pttl(`${prefix}${sid}`)).toBeGreaterThan(0);
    expect(pttl(`${prefix}${sid}`)).toBeLessThanOrEqual(300);
    await new Promise((r) => setTimeout(r, 400));
    expect(server.cli('EXISTS', `${prefix}${sid}`)).toBe('0');
  });

  it('stops serving sessions while Redis is down and serves them again when it is back', async () => {
    const own = await startRedis();
    const ownConnection = new RedisConnection({ url: own.url, commandTimeoutMs: 1000 });
    await ownConnection.connect();
    const store = new RedisSessionStore({ connection: ownConnection, healthCheckMs: 20 });
    stores.push(store);
    const events: string[] = [];
    store.on('disconnect', () => events.push('disconnect'));
    store.on('connect', () => events.push('connect'));
    const api = app(store);
    try {
      const agent = request.agent(api);
      await agent.post('/login/lin').expect(200);
      await own.kill();
      const deadline = Date.now() + 5000;
      while (!events.includes('disconnect') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(events).toEqual(['disconnect']);
      await agent.get('/me').expect(503);
      await own.restart();
      while (!events.includes('connect') && Date.now() < deadline + 5000) await new Promise((r) => setTimeout(r, 20));
      expect(events).toEqual(['disconnect', 'connect']);
      // The server restarted empty: the old cookie finds no session, a new login works.
      expect((await agent.get('/me').expect(200)).body).toMatchObject({ userId: null });
      await agent.post('/login/lin').expect(200);
      expect((await agent.get('/me').expect(200)).body).toMatchObject({ userId: 'lin' });
    } finally {
      store.close();
      await ownConnection.close();
      await own.stop();
    }
  });
});

describe('the Store methods', () => {
  const sess = (extra: Partial<SessionData> = {}) => ({ cookie: cookie(60_000), ...extra }) as SessionData;

  it('never brings a destroyed session back: neither a late set nor a touch', async () => {
    const store = makeStore({ prefix: uniquePrefix('tomb') });
    await promised((cb) => store.set('s1', sess({ views: 1 }), cb));
    await promised((cb) => store.destroy('s1', cb));
    await promised((cb) => store.set('s1', sess({ views: 2 }), cb));
    await promised((cb) => store.touch('s1', sess(), cb));
    expect(await promised((cb) => store.get('s1', cb))).toBeNull();
  });

  it('never revives an expired session on touch', async () => {
    const prefix = uniquePrefix('expired');
    const store = makeStore({ prefix });
    await promised((cb) => store.set('s2', { cookie: cookie(50) } as SessionData, cb));
    await new Promise((r) => setTimeout(r, 120));
    await promised((cb) => store.touch('s2', sess(), cb));
    expect(server.cli('EXISTS', `${prefix}s2`)).toBe('0');
  });

  it('touch slides an existing session; a cookie without expiry gets the default lifetime', async () => {
    const prefix = uniquePrefix('touch');
    const store = makeStore({ prefix, ttlSeconds: 120 });
    await promised((cb) => store.set('s3', { cookie: {} } as SessionData, cb));
    expect(pttl(`${prefix}s3`)).toBeGreaterThan(115_000);
    await promised((cb) => store.touch('s3', sess(), cb));
    expect(pttl(`${prefix}s3`)).toBeLessThanOrEqual(60_000);
  });

  it('all, ids, length and clear cover this prefix only, glob characters included', async () => {
    const prefix = `${uniquePrefix('glob')}s*[x]?:`;
    const neighbour = prefix.replace('s*[x]?:', 'sa[x]b:');
    const store = makeStore({ prefix });
    const other = makeStore({ prefix: neighbour });
    await promised((cb) => store.set('a', sess({ views: 1 }), cb));
    await promised((cb) => store.set('b', sess({ views: 2 }), cb));
    await promised((cb) => other.set('c', sess({ views: 3 }), cb));
    expect((await promised<string[]>((cb) => store.ids(cb)))?.sort()).toEqual(['a', 'b']);
    expect(await promised((cb) => store.length(cb))).toBe(2);
    const all = await promised<Record<string, SessionData>>((cb) => store.all(cb));
    expect(Object.keys(all ?? {}).sort()).toEqual(['a', 'b']);
    expect(all?.b?.views).toBe(2);
    await promised((cb) => store.clear(cb));
    expect(await promised((cb) => store.length(cb))).toBe(0);
    expect(await promised((cb) => other.length(cb))).toBe(1);
  });

  it('destroyAllForUser logs a user out everywhere through the owner field', async () => {
    const store = makeStore({ prefix: uniquePrefix('owner'), ownerField: 'userId' });
    for (const sid of ['d1', 'd2', 'd3']) await promised((cb) => store.set(sid, sess({ userId: 'ada' }), cb));
    await promised((cb) => store.set('g1', sess({ userId: 'grace' }), cb));
    expect(await store.destroyAllForUser('ada')).toBe(3);
    for (const sid of ['d1', 'd2', 'd3']) expect(await promised((cb) => store.get(sid, cb))).toBeNull();
    expect(await promised((cb) => store.get('g1', cb))).toMatchObject({ userId: 'grace' });
    await expect(makeStore().destroyAllForUser('ada')).rejects.toThrow(/ownerField/);
  });

  it('rejects options it cannot use, naming them', () => {
    expect(() => new RedisSessionStore({ connection, ttlSeconds: 0 })).toThrow(/options\.ttlSeconds/);
    expect(() => new RedisSessionStore({ connection, prefix: 5 as unknown as string })).toThrow(/options\.prefix/);
  });
});

describe('switching from connect-redis', () => {
  it('reads the sessions connect-redis wrote, and connect-redis reads ours', async () => {
    const client = createClient({ url: server.url });
    await client.connect();
    try {
      const theirs = new ConnectRedisStore({ client });
      const ours = makeStore();
      const sid = uniquePrefix('migrate').replace(/:/g, '');
      await promised((cb) => theirs.set(sid, { cookie: cookie(60_000), userId: 'ada' } as SessionData, cb));
      expect(await promised((cb) => ours.get(sid, cb))).toMatchObject({ userId: 'ada' });

      const agent = request.agent(app(ours));
      const login = (await agent.post('/login/grace').expect(200)).body.sid;
      expect(await promised((cb) => theirs.get(login, cb))).toMatchObject({ userId: 'grace' });
      await promised((cb) => ours.destroy(sid, cb));
      await promised((cb) => ours.destroy(login, cb));
    } finally {
      await client.quit();
    }
  });
});
