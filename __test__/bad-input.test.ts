/**
 * Bad input through the public API: every row must end in a clear error (whose
 * message names the argument) or in its documented result — never a crash, a hang
 * or an unhandled rejection.
 */
import {
  CacheService,
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
import { testRedis, type TestServer, uniquePrefix } from './helpers/redis';

let server: TestServer;
let connection: RedisConnection;
const p = uniquePrefix('bad');
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  server = await testRedis();
  connection = new RedisConnection({ url: server.url });
  await connection.connect();
  process.on('unhandledRejection', onUnhandled);
  setLogger({ debug() {}, info() {}, warn() {}, error() {} });
});

afterAll(async () => {
  setLogger(defaultLogger);
  process.off('unhandledRejection', onUnhandled);
  await connection.close();
  await server.stop();
});

afterEach(() => expect(unhandled).toEqual([]));

type Expectation =
  | { throws: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor; names: RegExp }
  | { resolves: (value: unknown) => void };

const any = (value: unknown): never => value as never;
const bigKey = `${p}${'k'.repeat(1024 * 1024 + 10)}`;
const huge = 'v'.repeat(64 * 1024 * 1024);

const cases: Array<[string, () => Promise<unknown>, Expectation]> = [
  // CacheService
  ['cache.get(number key)', () => cache().get(any(42)), { throws: TypeError, names: /key/ }],
  ['cache.get(undefined key)', () => cache().get(any(undefined)), { throws: TypeError, names: /key/ }],
  ['cache.set(object key)', () => cache().set(any({}), 1), { throws: TypeError, names: /key/ }],
  ['cache.set(NaN ttl)', () => cache().set(`${p}a`, 1, NaN), { throws: RangeError, names: /ttlSeconds/ }],
  ['cache.set(negative ttl)', () => cache().set(`${p}a`, 1, -1), { throws: RangeError, names: /ttlSeconds/ }],
  ['cache.set(Infinity ttl)', () => cache().set(`${p}a`, 1, Infinity), { throws: RangeError, names: /ttlSeconds/ }],
  ['cache.set(string ttl)', () => cache().set(`${p}a`, 1, any('10')), { throws: TypeError, names: /ttlSeconds/ }],
  [
    'cache.set(undefined value) → false, as the seed',
    () => cache().set(`${p}a`, undefined),
    { resolves: (v) => expect(v).toBe(false) },
  ],
  [
    'cache.set(BigInt value) → false',
    () => cache().set(`${p}a`, BigInt(5)),
    { resolves: (v) => expect(v).toBe(false) },
  ],
  ['cache.set("" key) works', () => cache().set('', { empty: true }, 5), { resolves: (v) => expect(v).toBe(true) }],
  ['cache.set(1 MB+ key) works', () => cache().set(bigKey, 1, 5), { resolves: (v) => expect(v).toBe(true) }],
  ['cache.get(1 MB+ key) reads it back', () => cache().get(bigKey), { resolves: (v) => expect(v).toBe(1) }],
  ['cache.set(64 MB value) works', () => cache().set(`${p}huge`, huge, 5), { resolves: (v) => expect(v).toBe(true) }],
  [
    'cache.get(64 MB value) reads it back',
    () => cache().get<string>(`${p}huge`),
    { resolves: (v) => expect((v as string).length).toBe(huge.length) },
  ],
  ['cache.mget(not an array)', () => cache().mget(any('k')), { throws: TypeError, names: /keys/ }],
  ['cache.mget([1, 2])', () => cache().mget(any([1, 2])), { throws: TypeError, names: /keys\[0\]/ }],
  ['cache.mset(null)', () => cache().mset(any(null)), { throws: TypeError, names: /keyValuePairs/ }],
  ['cache.mset(array)', () => cache().mset(any([1])), { throws: TypeError, names: /keyValuePairs/ }],
  ['cache.mset(NaN ttl)', () => cache().mset({ [`${p}m`]: 1 }, NaN), { throws: RangeError, names: /ttlSeconds/ }],
  ['cache.expire(negative)', () => cache().expire(`${p}a`, -3), { throws: RangeError, names: /ttlSeconds/ }],
  ['cache.ttl(number key)', () => cache().ttl(any(1)), { throws: TypeError, names: /key/ }],
  ['cache.flushPattern(regexp)', () => cache().flushPattern(any(/x/)), { throws: TypeError, names: /pattern/ }],
  [
    'cache.getOrSet(loader not a function)',
    () => cache().getOrSet(`${p}g`, any(5)),
    { throws: TypeError, names: /loader/ },
  ],
  // RedisClient
  [
    'client.sendCommand(string)',
    () => connection.getClient().sendCommand(any('PING')),
    { throws: TypeError, names: /args/ },
  ],
  [
    'client.sendCommand([{}])',
    () => connection.getClient().sendCommand(any([{}])),
    { throws: TypeError, names: /args\[0\]/ },
  ],
  ['client.sendCommand([]) ', () => connection.getClient().sendCommand([]), { throws: Error, names: /command name/ }],
  [
    'client.setEx(NaN seconds)',
    () => connection.getClient().setEx(`${p}x`, NaN, 'v'),
    { throws: RangeError, names: /seconds/ },
  ],
  // User / post caches
  [
    'userCache.getUser(number)',
    () => new UserCacheService(connection).getUser(any(1)),
    { throws: TypeError, names: /userId/ },
  ],
  [
    'userCache.setUser(no id)',
    () => new UserCacheService(connection).setUser(any({ name: 'x' })),
    { throws: TypeError, names: /id/ },
  ],
  [
    'postCache.getUserFeed(NaN page)',
    () => new PostCacheService(connection).getUserFeed('u', NaN),
    { throws: RangeError, names: /page/ },
  ],
  // Sessions
  [
    'sessions.getSession(number)',
    () => new SessionService(connection).getSession(any(7)),
    { throws: TypeError, names: /sessionId/ },
  ],
  [
    'sessions.createSession(no userId)',
    () => new SessionService(connection).createSession(`${p}s`, any({})),
    { throws: TypeError, names: /userId/ },
  ],
  // Rate limiter
  [
    'checkLimit(windowMs 0)',
    () => limiter().checkLimit('id', 't', { windowMs: 0, maxRequests: 5 }),
    { throws: RangeError, names: /windowMs/ },
  ],
  [
    'checkLimit(windowMs NaN)',
    () => limiter().checkLimit('id', 't', { windowMs: NaN, maxRequests: 5 }),
    { throws: RangeError, names: /windowMs/ },
  ],
  [
    'checkLimit(maxRequests 0)',
    () => limiter().checkLimit('id', 't', { windowMs: 1000, maxRequests: 0 }),
    { throws: RangeError, names: /maxRequests/ },
  ],
  [
    'checkLimit(maxRequests -1)',
    () => limiter().checkLimit('id', 't', { windowMs: 1000, maxRequests: -1 }),
    { throws: RangeError, names: /maxRequests/ },
  ],
  [
    'checkLimit(huge maxRequests 1e9) allows',
    () => limiter().checkLimit(`${p}id`, 't', { windowMs: 1000, maxRequests: 1e9 }),
    { resolves: (v) => expect(v).toMatchObject({ allowed: true }) },
  ],
  [
    'checkLimit(maxRequests Infinity)',
    () => limiter().checkLimit('id', 't', { windowMs: 1000, maxRequests: Infinity }),
    { throws: RangeError, names: /maxRequests/ },
  ],
  [
    'checkLimit(no config)',
    () => limiter().checkLimit('id', 't', any(undefined)),
    { throws: TypeError, names: /config/ },
  ],
  [
    'checkLimit(number identifier)',
    () => limiter().checkLimit(any(1), 't', { windowMs: 1000, maxRequests: 1 }),
    { throws: TypeError, names: /identifier/ },
  ],
  // Locks
  [
    'lock.acquire(NaN ttl)',
    () => new LockService(connection).acquire('r', NaN),
    { throws: RangeError, names: /ttlMs/ },
  ],
  ['lock.acquire(0 ttl)', () => new LockService(connection).acquire('r', 0), { throws: RangeError, names: /ttlMs/ }],
  [
    'lock.acquire(number resource)',
    () => new LockService(connection).acquire(any(1), 100),
    { throws: TypeError, names: /resource/ },
  ],
  [
    'lock.withLock(fn not a function)',
    () => new LockService(connection).withLock('r', 100, any(null)),
    { throws: TypeError, names: /fn/ },
  ],
  // Broker
  [
    'broker.subscribe(callback not a function)',
    () => new MessageBroker(connection).subscribe(`${p}c`, any('x')),
    { throws: TypeError, names: /callback/ },
  ],
  [
    'broker.publish(number channel)',
    () => new MessageBroker(connection).publish(any(1), { type: 't', data: 1 }),
    { throws: TypeError, names: /channel/ },
  ],
  [
    'broker.publish(no type)',
    () => new MessageBroker(connection).publish(`${p}c`, any({ data: 1 })),
    { throws: TypeError, names: /type/ },
  ],
];

function cache() {
  return new CacheService(connection);
}

function limiter() {
  return new RateLimiter(connection);
}

describe.each(cases)('%s', (_name, call, expectation) => {
  it('ends in a clear error or its documented result', async () => {
    let promise: Promise<unknown>;
    try {
      promise = call();
    } catch (error) {
      throw new Error(`threw synchronously instead of rejecting: ${(error as Error).message}`);
    }
    if ('throws' in expectation) {
      const error = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(expectation.throws);
      expect((error as Error).message).toMatch(expectation.names);
    } else {
      expectation.resolves(await promise);
    }
  });
});
