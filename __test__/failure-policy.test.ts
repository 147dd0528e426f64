/**
 * One failure policy per service method, the seed's: fail-soft methods log Redis trouble
 * under their context and answer their fallback; strict ones reject with the error's code.
 * Not being connected (before connect(), after close()) is trouble like any other: the
 * same ERR_NOT_CONNECTED reaches every method, whichever way it meets Redis.
 */
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
  setLogger,
  defaultLogger,
} from '..';
import { recordingLogger, testRedis, type TestServer } from './helpers/redis';

const log = recordingLogger();
const notConnected = { code: 'ERR_NOT_CONNECTED', message: 'Redis not connected' };
const user = { id: 'u1', name: 'n' };
let server: TestServer;

beforeAll(async () => {
  server = await testRedis();
  setLogger(log.logger);
});

afterAll(async () => {
  setLogger(defaultLogger);
  await server.stop();
});

type Services = ReturnType<typeof services>;

function services(connection: RedisConnection) {
  return {
    cache: new CacheService(connection),
    users: new UserCacheService(connection),
    posts: new PostCacheService(connection),
    sessions: new SessionService(connection),
    limiter: new RateLimiter(connection),
    locks: new LockService(connection),
    broker: new MessageBroker(connection),
  };
}

const softly: Array<[string, (s: Services) => Promise<unknown>, unknown, string]> = [
  ['cache.get', (s) => s.cache.get('k'), null, 'Cache get error'],
  ['cache.set', (s) => s.cache.set('k', 1), false, 'Cache set error'],
  ['cache.del', (s) => s.cache.del('k'), false, 'Cache delete error'],
  ['cache.exists', (s) => s.cache.exists('k'), false, 'Cache exists error'],
  ['cache.mget', (s) => s.cache.mget(['a', 'b']), [null, null], 'Cache mget error'],
  ['cache.mset', (s) => s.cache.mset({ a: 1 }), false, 'Cache mset error'],
  ['cache.expire', (s) => s.cache.expire('k', 5), false, 'Cache expire error'],
  ['cache.ttl', (s) => s.cache.ttl('k'), -1, 'Cache ttl error'],
  ['cache.flushPattern', (s) => s.cache.flushPattern('k*'), 0, 'Cache flush pattern error'],
  ['cache.getOrSet (the loaded value)', (s) => s.cache.getOrSet('k', () => 7), 7, 'Cache get error'],
  ['users.getUser', (s) => s.users.getUser('u1'), null, 'Cache get error'],
  ['users.setUser', (s) => s.users.setUser(user), undefined, 'Cache set error'],
  ['users.invalidateUser', (s) => s.users.invalidateUser('u1'), undefined, 'User cache invalidation error'],
  ['posts.getUserFeed', (s) => s.posts.getUserFeed('u1', 1), null, 'Feed get error'],
  ['posts.beginFeedWrite', (s) => s.posts.beginFeedWrite('u1', 1), null, 'Feed set error'],
  ['posts.setUserFeed', (s) => s.posts.setUserFeed('u1', 1, [user]), undefined, 'Feed set error'],
  [
    'posts.getUserFeedOrLoad (the loaded page)',
    (s) => s.posts.getUserFeedOrLoad('u1', 2, () => [user]),
    [user],
    'Feed get error',
  ],
  ['posts.invalidatePost', (s) => s.posts.invalidatePost('p1'), undefined, 'Post cache invalidation error'],
  ['posts.invalidateAllFeeds', (s) => s.posts.invalidateAllFeeds(), undefined, 'Feed invalidation error'],
  ['sessions.getSession', (s) => s.sessions.getSession('x'), null, 'Session get error'],
  ['sessions.getActiveSessions', (s) => s.sessions.getActiveSessions('u1'), [], 'Session list error'],
  ['limiter.resetLimit', (s) => s.limiter.resetLimit('ip', 'api'), false, 'Rate limiter reset error'],
  [
    'limiter.checkLimit (degraded, fail open)',
    (s) => s.limiter.checkLimit('ip', 'api', { windowMs: 1000, maxRequests: 2 }),
    { allowed: true, remaining: 2, resetTime: expect.any(Number), retryAfterMs: 0, degraded: true },
    'Rate limiter error',
  ],
];

const strictly: Array<[string, (s: Services) => Promise<unknown>]> = [
  ['sessions.createSession', (s) => s.sessions.createSession('x', { userId: 'u1' })],
  ['sessions.updateSession', (s) => s.sessions.updateSession('x', { role: 'r' })],
  ['sessions.deleteSession', (s) => s.sessions.deleteSession('x')],
  ['sessions.deleteUserSessions', (s) => s.sessions.deleteUserSessions('u1')],
  ['sessions.extendSession', (s) => s.sessions.extendSession('x')],
  ['sessions.rotateSession', (s) => s.sessions.rotateSession('x')],
  ['locks.acquire', (s) => s.locks.acquire('r', 1000)],
  ['locks.withLock', (s) => s.locks.withLock('r', 1000, () => 1)],
  ['broker.subscribe', (s) => s.broker.subscribe('c', () => undefined)],
  ['broker.psubscribe', (s) => s.broker.psubscribe('c*', () => undefined)],
  ['broker.publish', (s) => s.broker.publish('c', { type: 't', data: null })],
];

describe.each([
  ['before connect()', async () => new RedisConnection({ url: server.url })],
  [
    'after close()',
    async () => {
      const connection = new RedisConnection({ url: server.url });
      await connection.connect();
      await connection.close();
      return connection;
    },
  ],
])('%s', (_, open) => {
  let connection: RedisConnection;
  let all: Services;

  beforeAll(async () => {
    connection = await open();
    all = services(connection);
  });

  it.each(softly)(
    '%s fails soft: logged under its context with ERR_NOT_CONNECTED, answered with its fallback',
    async (_, call, fallback, context) => {
      const from = log.lines.length;
      expect(await call(all)).toEqual(fallback);
      const errors = log.lines.slice(from).filter((line) => line.level === 'error');
      expect(errors.length).toBeGreaterThanOrEqual(1);
      expect(errors[0]).toMatchObject({ message: context, meta: notConnected });
      for (const line of errors) expect(line.meta).toMatchObject(notConnected);
    },
  );

  it.each(strictly)('%s rejects with ERR_NOT_CONNECTED', async (_, call) => {
    await expect(call(all)).rejects.toMatchObject(notConnected);
  });

  it('warming rejects with ERR_NOT_CONNECTED without calling a repository', async () => {
    const calls: string[] = [];
    const repository = (name: string) => ({
      findByIds: async (ids: string[]) => {
        calls.push(`${name}.findByIds`);
        return ids.map((id) => ({ id }));
      },
      getActiveUsers: async () => {
        calls.push(`${name}.getActiveUsers`);
        return [];
      },
      getTrendingPosts: async () => {
        calls.push(`${name}.getTrendingPosts`);
        return [];
      },
    });
    const warming = new CacheWarmingService(
      { userRepository: repository('users'), postRepository: repository('posts') },
      connection,
    );
    await expect(warming.warmUserCache(['u1'])).rejects.toMatchObject(notConnected);
    await expect(warming.warmPostCache(['p1'])).rejects.toMatchObject(notConnected);
    await expect(warming.warmPopularContent()).rejects.toMatchObject(notConnected);
    expect(calls).toEqual([]);
  });

  it('every getter throws ERR_NOT_CONNECTED', () => {
    for (const getter of ['getClient', 'getPublisher', 'getSubscriber'] as const) {
      expect(() => connection[getter]()).toThrow(expect.objectContaining(notConnected));
    }
  });
});
