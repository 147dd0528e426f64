/**
 * Every service on every topology: Redis Cluster (3 masters / 3 replicas), Sentinel,
 * TLS (with and without client certificates) and an ACL user.
 */
import fs from 'node:fs';
import {
  CacheService,
  CacheWarmingService,
  LockService,
  MessageBroker,
  PostCacheService,
  RateLimiter,
  RedisConnection,
  SessionService,
  UserCacheService,
  lockFenceKey,
  userSessionsKey,
} from '..';
import type { Message } from '..';
import { RedisRateLimitStore } from '../dist/adapters/express-rate-limit';
import { RedisSessionStore } from '../dist/adapters/express-session';
import { KeyvRedisLayer } from '../dist/adapters/keyv';
import { sessionFor, sleep, uniquePrefix } from './helpers/redis';
import {
  type Cluster,
  type SentinelSet,
  startAclServer,
  startCluster,
  startSentinelSet,
  startTlsServer,
  tlsSupported,
} from './helpers/topology';

async function exerciseEveryService(connection: RedisConnection, p: string): Promise<void> {
  const cache = new CacheService(connection);
  const keys = Array.from({ length: 40 }, (_, i) => `${p}k${i}`);
  const pairs = Object.fromEntries(keys.map((k, i) => [k, { i }]));
  expect(await cache.mset(pairs, 300)).toBe(true);
  expect(await cache.mget(keys)).toEqual(keys.map((_, i) => ({ i })));
  expect(await cache.ttl(keys[7])).toBeGreaterThan(200);
  expect(await cache.set(`${p}one`, { one: 1 }, 60)).toBe(true);
  expect(await cache.get(`${p}one`)).toEqual({ one: 1 });
  expect(await cache.flushPattern(`${p}k*`)).toBe(40);
  expect(await cache.mget(keys.slice(0, 3))).toEqual([null, null, null]);

  const users = new UserCacheService(connection);
  await users.setUser({ id: `${p}u1`, name: 'Ada' });
  await users.setUserFriends(`${p}u1`, ['a', 'b']);
  expect(await users.getUser(`${p}u1`)).toEqual({ id: `${p}u1`, name: 'Ada' });
  await users.invalidateUser(`${p}u1`);
  expect(await users.getUser(`${p}u1`)).toBeNull();
  expect(await users.getUserFriends(`${p}u1`)).toBeNull();

  const posts = new PostCacheService(connection);
  await posts.setUserFeed(`${p}u1`, 1, [{ id: 'p1' }]);
  expect(await posts.getUserFeed(`${p}u1`, 1)).toEqual([{ id: 'p1' }]);
  await posts.invalidatePost('p1');
  expect(await posts.getUserFeed(`${p}u1`, 1)).toBeNull();

  const warmed = Array.from({ length: 50 }, (_, i) => ({ id: `${p}w${i}`, n: i }));
  const warming = new CacheWarmingService(
    {
      userRepository: { findByIds: async () => warmed, getActiveUsers: async () => warmed },
      postRepository: { findByIds: async () => [], getTrendingPosts: async () => [] },
    },
    connection,
  );
  await warming.warmUserCache(warmed.map((u) => u.id));
  expect(await users.getUser(`${p}w49`)).toEqual({ id: `${p}w49`, n: 49 });

  const sessions = new SessionService(connection);
  const base = sessionFor(`${p}u2`);
  await sessions.createSession(`${p}s1`, base);
  await sessions.createSession(`${p}s2`, base);
  await sessions.updateSession(`${p}s1`, { role: 'admin' });
  expect((await sessions.getSession(`${p}s1`))?.role).toBe('admin');
  expect((await sessions.getActiveSessions(`${p}u2`)).length).toBe(2);
  const rotated = await sessions.rotateSession(`${p}s1`);
  expect(rotated).toEqual(expect.any(String));
  expect(await sessions.deleteUserSessions(`${p}u2`)).toBe(2);

  const limiter = new RateLimiter(connection);
  const results = await Promise.all(
    Array.from({ length: 30 }, () => limiter.checkLimit(`${p}ip`, 'api', { windowMs: 60_000, maxRequests: 10 })),
  );
  expect(results.filter((r) => r.allowed)).toHaveLength(10);
  expect(results.every((r) => !r.degraded)).toBe(true);

  // A grant waits for the master's online replicas; a loaded machine may take past the default 200 ms.
  const locks = new LockService(connection, { replicaTimeoutMs: 5000 });
  const lock = await locks.acquire(`${p}res`, 5000);
  expect(lock).not.toBeNull();
  expect(await locks.acquire(`${p}res`, 5000)).toBeNull();
  expect(await lock!.release()).toBe(true);

  const broker = new MessageBroker(connection);
  const received: Message[] = [];
  const handler = (m: Message) => received.push(m);
  await broker.subscribe(`${p}chan`, handler);
  const deadline = Date.now() + 10_000;
  let receivers = 0;
  while (receivers === 0 && Date.now() < deadline) {
    receivers = await broker.publish(`${p}chan`, { type: 't', data: { n: 1 } });
    await sleep(50);
  }
  while (received.length === 0 && Date.now() < deadline) await sleep(20);
  expect(received[0]?.data).toEqual({ n: 1 });
  expect(received[0]?.timestamp).toBeInstanceOf(Date);
  await broker.unsubscribe(`${p}chan`, handler);
}

describe('Redis Cluster', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster();
  }, 120_000);
  afterAll(() => cluster?.stop());

  it('runs every service across slots, from cluster.nodes', async () => {
    const connection = new RedisConnection({ cluster: { nodes: cluster.urls.slice(0, 2) } });
    await connection.connect();
    await exerciseEveryService(connection, uniquePrefix('cluster'));
    await connection.close();
  }, 120_000);

  it("runs the framework adapters' stores across slots: counters, sessions, Keyv, and their cluster-wide scans", async () => {
    const connection = new RedisConnection({ cluster: { nodes: cluster.urls } });
    await connection.connect();
    const p = uniquePrefix('adapters');
    const ids = Array.from({ length: 24 }, (_, i) => `client-${i}`);
    const limits = new RedisRateLimitStore({ connection, prefix: `${p}rl:` });
    limits.init({ windowMs: 60_000 } as Parameters<RedisRateLimitStore['init']>[0]);
    for (const id of ids) await limits.increment(id);
    await limits.increment('client-0');
    await limits.decrement('client-1');
    expect((await limits.get('client-0'))?.totalHits).toBe(2);
    expect(await limits.get('client-1')).toBeUndefined();
    const masters = await cluster.masters();
    const holding = async (pattern: string) => {
      let n = 0;
      for (const master of masters)
        n += Number(await master.cmd('EVAL', `return #redis.call('KEYS', ARGV[1])`, '0', pattern));
      return n;
    };
    expect(await holding(`${p}rl:*`)).toBe(ids.length);
    await limits.resetAll();
    expect(await holding(`${p}rl:*`)).toBe(0);

    const sessions = new RedisSessionStore({ connection, prefix: `${p}sess:` });
    const call = <T>(method: (cb: (error?: unknown, value?: T) => void) => void) =>
      new Promise<T | undefined>((resolve, reject) =>
        method((error, value) => (error ? reject(error) : resolve(value))),
      );
    const cookie = { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000) };
    for (const id of ids) await call((cb) => sessions.set(id, { cookie, userId: id } as never, cb));
    expect((await call<string[]>((cb) => sessions.ids(cb)))?.sort()).toEqual([...ids].sort());
    expect(await call<number>((cb) => sessions.length(cb))).toBe(ids.length);
    await call((cb) => sessions.clear(cb));
    expect(await call<number>((cb) => sessions.length(cb))).toBe(0);
    sessions.close();

    const keyv = new KeyvRedisLayer({ connection });
    keyv.namespace = `${p}kv`;
    await keyv.setMany(ids.map((id) => ({ key: `${p}kv:${id}`, value: id })));
    expect(await keyv.getMany(ids.slice(0, 3).map((id) => `${p}kv:${id}`))).toEqual(ids.slice(0, 3));
    const seen: string[] = [];
    for await (const [key] of keyv.iterator(`${p}kv`)) seen.push(key);
    expect(seen).toHaveLength(ids.length);
    await keyv.clear();
    expect(await holding(`${p}kv:*`)).toBe(0);
    await connection.close();
  }, 120_000);

  it('keeps every script in one slot, even for ids holding braces', async () => {
    const connection = new RedisConnection({ cluster: { nodes: cluster.urls } });
    await connection.connect();
    const p = uniquePrefix('slots');
    const awkward = ['plain', 'order:{42}', '{u}', 'a}b', '{}x}', 'x{y', '{', '}', 'ü{ß}'].map((id) => `${p}${id}`);
    const slot = async (key: string) => cluster.nodes[0].cmd('CLUSTER', 'KEYSLOT', key);
    const posts = new PostCacheService(connection);
    const sessions = new SessionService(connection);
    // Slots are what this checks; a loaded machine may take past the default 200 ms to replicate a grant.
    const locks = new LockService(connection, { replicaTimeoutMs: 5000 });
    for (const id of awkward) {
      expect(await slot(lockFenceKey(id))).toBe(await slot(`lock:${id}`));
      expect(await slot(userSessionsKey(id))).toBe(await slot(`user:${id}:session`));

      await posts.setUserFeed(id, 2, [{ id }]);
      expect(await posts.getUserFeed(id, 2)).toEqual([{ id }]);
      await posts.invalidateUserFeeds(id);
      expect(await posts.getUserFeed(id, 2)).toBeNull();

      const lock = await locks.acquire(id, 5000);
      expect(lock?.fencingToken).toEqual(expect.any(Number));
      expect(await lock!.extend(5000)).toBe(true);
      expect(await lock!.release()).toBe(true);

      const base = sessionFor(id);
      await sessions.createSession(`${id}:s1`, base);
      await sessions.createSession(`${id}:s2`, base);
      const moved = await sessions.rotateSession(`${id}:s1`);
      expect(await sessions.getSession(`${id}:s1`)).toBeNull();
      expect((await sessions.getSession(moved!))?.userId).toBe(id);
      expect(await sessions.deleteSession(`${id}:s2`)).toBe(true);
      expect((await sessions.getActiveSessions(id)).length).toBe(1);
      expect(await sessions.deleteUserSessions(id)).toBe(1);
      expect(await sessions.getSession(moved!)).toBeNull();
    }
    await connection.close();
  }, 60_000);

  it('decides concurrent rate-limit checks exactly, batched per slot, across every master', async () => {
    const connection = new RedisConnection({ cluster: { nodes: cluster.urls } });
    await connection.connect();
    const limiter = new RateLimiter(connection);
    const p = uniquePrefix('cluster-limit');
    const ids = Array.from({ length: 40 }, (_, i) => `${p}${i}`);
    const config = { windowMs: 60_000, maxRequests: 3 };
    const gcra = { windowMs: 60_000, maxRequests: 3, algorithm: 'gcra' as const, burst: 1 };
    const results = await Promise.all(
      ids.flatMap((id) => [
        ...Array.from({ length: 5 }, () => limiter.checkLimit(id, 'api', config)),
        ...Array.from({ length: 2 }, () => limiter.checkLimit(id, 'burst', gcra)),
      ]),
    );
    // Exact per key; which of one key's un-awaited calls goes first is not kept on a cluster (operations.md).
    const allowed = (list: typeof results) => list.filter((r) => r.allowed).length;
    for (let i = 0; i < ids.length; i++) {
      const mine = results.slice(i * 7, i * 7 + 7);
      expect([allowed(mine.slice(0, 5)), allowed(mine.slice(5))]).toEqual([3, 1]);
      expect(mine.every((r) => !r.degraded)).toBe(true);
    }
    const masters = new Set(
      await Promise.all(ids.map(async (id) => (await cluster.nodeForKey(`rate_limit:api:${id}`)).port)),
    );
    expect(masters.size).toBe(3);
    await connection.close();
  }, 60_000);

  it('zero timeouts mean none on a cluster too', async () => {
    const connection = new RedisConnection({
      cluster: { nodes: cluster.urls },
      connectTimeoutMs: 0,
      commandTimeoutMs: 0,
    });
    await connection.connect();
    const cache = new CacheService(connection);
    const key = `${uniquePrefix('zero')}k`;
    expect(await cache.set(key, { slow: 'ok' })).toBe(true);
    const node = await cluster.nodeForKey(key);
    const sleeping = node.cmd('DEBUG', 'SLEEP', '0.3');
    await sleep(50);
    expect(await cache.get(key)).toEqual({ slow: 'ok' });
    await sleeping;
    await connection.close();
  });

  it('reads REDIS_CLUSTER_NODES at connect() time', async () => {
    const saved = process.env.REDIS_CLUSTER_NODES;
    process.env.REDIS_CLUSTER_NODES = cluster.urls.join(',');
    try {
      const connection = new RedisConnection();
      await connection.connect();
      const cache = new CacheService(connection);
      const key = `${uniquePrefix('env-cluster')}k`;
      expect(await cache.set(key, 1)).toBe(true);
      expect((await cluster.nodeForKey(key)).cli('GET', key)).toBe('1');
      await connection.close();
    } finally {
      if (saved === undefined) delete process.env.REDIS_CLUSTER_NODES;
      else process.env.REDIS_CLUSTER_NODES = saved;
    }
  });
});

describe('Redis Sentinel', () => {
  let sentinels: SentinelSet;
  beforeAll(async () => {
    sentinels = await startSentinelSet();
  }, 120_000);
  afterAll(() => sentinels?.stop());

  it('runs every service on the master the sentinels name', async () => {
    const connection = new RedisConnection({
      sentinel: { masterName: sentinels.masterName, nodes: sentinels.sentinelUrls },
    });
    await connection.connect();
    await exerciseEveryService(connection, uniquePrefix('sentinel'));
    await connection.close();
  }, 120_000);

  it('zero timeouts mean none through the sentinels too', async () => {
    const connection = new RedisConnection({
      sentinel: { masterName: sentinels.masterName, nodes: sentinels.sentinelUrls },
      connectTimeoutMs: 0,
      commandTimeoutMs: 0,
    });
    await connection.connect();
    expect(await connection.getClient().sendCommand(['DEBUG', 'SLEEP', '0.3'])).toBe('OK');
    expect(await new CacheService(connection).set(`${uniquePrefix('zero')}k`, 1)).toBe(true);
    await connection.close();
  });

  it('sends writes to the new master after a failover, by itself', async () => {
    const connection = new RedisConnection({
      sentinel: { masterName: sentinels.masterName, nodes: sentinels.sentinelUrls },
      commandTimeoutMs: 1000,
    });
    await connection.connect();
    const cache = new CacheService(connection);
    expect(await cache.set('before-failover', 1)).toBe(true);
    const moved = await sentinels.failover();
    await sentinels.waitHealthy();
    const deadline = Date.now() + 30_000;
    let written = false;
    while (!written && Date.now() < deadline) {
      written =
        (await cache.set('after-failover', 2)) &&
        (await connection.getClient().sendCommand<string>(['ROLE'])).length > 0;
      const info = String(
        await connection
          .getClient()
          .sendCommand(['INFO', 'server'])
          .catch(() => ''),
      );
      written = written && info.includes(`tcp_port:${moved.port}`);
      if (!written) await sleep(200);
    }
    expect(written).toBe(true);
    await connection.close();
  }, 90_000);
});

describe('Redis Sentinel over TLS, sentinels and master with passwords of their own', () => {
  let set: SentinelSet;
  beforeAll(async () => {
    expect(tlsSupported()).toBe(true);
    set = await startSentinelSet({ tls: true, password: 'master-pw', sentinelPassword: 'sentinel-pw' });
  }, 120_000);
  afterAll(() => set?.stop());
  const tls = () => ({ ca: fs.readFileSync(set.certificates!.caFile) });
  const options = (sentinel: Record<string, string>, rest: Record<string, unknown> = {}) =>
    new RedisConnection({
      sentinel: { masterName: set.masterName, nodes: set.sentinelUrls, ...sentinel },
      tls: tls(),
      ...rest,
    });

  it('runs every service on the TLS-only master through TLS sentinels', async () => {
    const connection = options({ masterPassword: 'master-pw' });
    await connection.connect();
    const cache = new CacheService(connection);
    const key = `${uniquePrefix('tls-sentinel')}k`;
    expect(await cache.set(key, { over: 'tls' })).toBe(true);
    const master = await set.currentMasterNode();
    expect(master.cli('GET', key)).toBe(JSON.stringify({ over: 'tls' }));
    await exerciseEveryService(connection, uniquePrefix('tls-sentinel'));
    await connection.close();
  }, 120_000);

  it("gives the master options.password when masterPassword is not set, never the sentinels' password", async () => {
    const fallback = options({}, { password: 'master-pw' });
    await fallback.connect();
    expect(await fallback.getClient().ping()).toBe('PONG');
    await fallback.close();
    const sentinelsOnly = options({}, { connectTimeoutMs: 5000 });
    await expect(sentinelsOnly.connect()).rejects.toMatchObject({ code: 'ERR_AUTH_FAILED' });
    await sentinelsOnly.close();
  }, 60_000);

  it('watches the sentinels for failovers over TLS and follows one', async () => {
    const connection = options({ masterPassword: 'master-pw' }, { commandTimeoutMs: 1000 });
    await connection.connect();
    // Each of the connection's three sockets keeps a watcher subscribed on one sentinel; nothing
    // else subscribes on a sentinel (their links to one another do not).
    const subscribers = () =>
      set.sentinels.map(
        (s) =>
          s
            .cli('CLIENT', 'LIST')
            .split('\n')
            .filter((l) => / sub=1 /.test(l)).length,
      );
    const deadline = Date.now() + 10_000;
    while (subscribers().every((n) => n === 0) && Date.now() < deadline) await sleep(100);
    expect(subscribers().reduce((a, b) => a + b, 0)).toBe(3);

    const cache = new CacheService(connection);
    const moved = await set.failover();
    const after = `${uniquePrefix('tls-failover')}k`;
    let written = false;
    while (!written && Date.now() < deadline + 30_000) {
      written = await cache.set(after, 2);
      if (!written) await sleep(100);
    }
    expect(written).toBe(true);
    const newMaster = set.nodes.find((n) => n.port === moved.port)!;
    expect(newMaster.cli('GET', after)).toBe('2');
    await set.waitHealthy();
    await connection.close();
  }, 120_000);
});

describe('TLS and ACL', () => {
  it('connects over rediss:// trusting a given CA', async () => {
    expect(tlsSupported()).toBe(true);
    const server = await startTlsServer();
    try {
      const connection = new RedisConnection({ url: server.url, tls: { ca: fs.readFileSync(server.caFile) } });
      await connection.connect();
      await exerciseEveryService(connection, uniquePrefix('tls'));
      await connection.close();
      const untrusted = new RedisConnection({ url: server.url, connectTimeoutMs: 2000 });
      await expect(untrusted.connect()).rejects.toThrow(Error);
    } finally {
      await server.stop();
    }
  }, 60_000);

  it('presents a client certificate when the server requires one', async () => {
    const server = await startTlsServer({ requireClientCert: true });
    try {
      const connection = new RedisConnection({
        url: server.url,
        tls: {
          ca: fs.readFileSync(server.caFile),
          cert: fs.readFileSync(server.clientCertFile),
          key: fs.readFileSync(server.clientKeyFile),
        },
      });
      await connection.connect();
      expect(await connection.getClient().ping()).toBe('PONG');
      await connection.close();
    } finally {
      await server.stop();
    }
  }, 60_000);

  it('authenticates an ACL user with username + password', async () => {
    const server = await startAclServer();
    try {
      const connection = new RedisConnection({ url: server.url, username: server.username, password: server.password });
      await connection.connect();
      expect(await connection.getClient().sendCommand(['ACL', 'WHOAMI'])).toBe(server.username);
      await exerciseEveryService(connection, uniquePrefix('acl'));
      await connection.close();
      const wrong = new RedisConnection({ url: server.url, username: server.username, password: 'nope' });
      await expect(wrong.connect()).rejects.toMatchObject({ code: 'ERR_AUTH_FAILED' });
    } finally {
      await server.stop();
    }
  }, 60_000);
});
