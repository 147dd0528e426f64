/**
 * Pluggable serializers: the seed's JSON stays the default, `dateSerializer` brings Dates back as
 * Dates through every read path (get, mget, getOrSet, user and post caches, feed pages, warming),
 * and a serializer of the application's own is used as given, its failures failing soft.
 */
import {
  CacheService,
  CacheWarmingService,
  dateSerializer,
  defaultLogger,
  jsonSerializer,
  PostCacheService,
  RedisConnection,
  type Serializer,
  setLogger,
  UserCacheService,
} from '..';
import { recordingLogger, testRedis, type TestServer, uniquePrefix } from './helpers/redis';

let server: TestServer;
let connection: RedisConnection;
const log = recordingLogger();
const p = uniquePrefix('serializers');

const joined = new Date('2024-05-06T07:08:09.010Z');
const user = () => ({ id: `${p}u1`, name: 'Ada', joined, logins: [joined, new Date(0)], misc: { at: joined } });

beforeAll(async () => {
  server = await testRedis();
  connection = new RedisConnection({ url: server.url });
  await connection.connect();
  setLogger(log.logger);
});

afterAll(async () => {
  setLogger(defaultLogger);
  await connection.close();
  await server.stop();
});

describe('the default JSON serializer', () => {
  it("stores exactly the seed's JSON.stringify and reads Dates back as strings", async () => {
    const cache = new CacheService(connection);
    await cache.set(`${p}json`, user());
    expect(server.cli('GET', `${p}json`)).toBe(JSON.stringify(user()));
    expect(await cache.get(`${p}json`)).toEqual(JSON.parse(JSON.stringify(user())));
    expect(new CacheService(connection, { serializer: jsonSerializer })).toBeInstanceOf(CacheService);
  });
});

describe('dateSerializer', () => {
  const cache = () => new CacheService(connection, { serializer: dateSerializer });

  it('brings Dates back as Dates through get, mget, mset and getOrSet', async () => {
    const c = cache();
    expect(await c.set(`${p}d1`, user(), 60)).toBe(true);
    expect(JSON.parse(server.cli('GET', `${p}d1`)).joined).toEqual({ $date: '2024-05-06T07:08:09.010Z' });
    const back = await c.get<ReturnType<typeof user>>(`${p}d1`);
    expect(back).toEqual(user());
    expect(back?.joined).toBeInstanceOf(Date);
    expect(back?.logins[1]).toBeInstanceOf(Date);

    expect(await c.mset({ [`${p}d2`]: { at: joined }, [`${p}d3`]: [joined] }, 60)).toBe(true);
    expect(await c.mget([`${p}d2`, `${p}missing`, `${p}d3`])).toEqual([{ at: joined }, null, [joined]]);

    const loader = async () => ({ at: joined });
    const miss = await c.getOrSetWithInfo(`${p}d4`, loader, 60);
    const hit = await c.getOrSetWithInfo(`${p}d4`, loader, 60);
    expect(miss).toEqual({ value: { at: joined }, hit: false });
    expect(hit).toEqual({ value: { at: joined }, hit: true });
    expect(miss.value?.at).toBeInstanceOf(Date);
  });

  it('serves the user and post caches, feed pages and warming with the same format', async () => {
    const users = new UserCacheService(connection, { serializer: dateSerializer });
    const posts = new PostCacheService(connection, { serializer: dateSerializer });
    await users.setUser(user());
    expect((await users.getUser<ReturnType<typeof user>>(user().id))?.joined).toEqual(joined);

    const post = { id: `${p}post1`, authorId: 'a', createdAt: joined };
    await posts.setPost(post);
    expect(await posts.getPost(post.id)).toEqual(post);
    await posts.setUserFeed(`${p}reader`, 1, [post]);
    expect(await posts.getUserFeed(`${p}reader`, 1)).toEqual([post]);
    await posts.invalidateUserFeeds(`${p}reader`);
    const loaded = await posts.getUserFeedOrLoad(`${p}reader`, 1, async () => [post]);
    expect(loaded[0]?.createdAt).toBeInstanceOf(Date);
    expect(await posts.getUserFeed(`${p}reader`, 1)).toEqual([post]);

    const warmed = { id: `${p}warm1`, name: 'Grace', joined };
    const warming = new CacheWarmingService(
      {
        userRepository: { findByIds: async () => [warmed], getActiveUsers: async () => [warmed] },
        postRepository: { findByIds: async () => [], getTrendingPosts: async () => [] },
      },
      connection,
      { serializer: dateSerializer },
    );
    await warming.warmUserCache([warmed.id]);
    expect(await users.getUser(warmed.id)).toEqual(warmed);
  });

  it('writes a Date the seed reads as an object: not the seed format', async () => {
    await cache().set(`${p}seedview`, { at: joined });
    expect(await new CacheService(connection).get(`${p}seedview`)).toEqual({
      at: { $date: '2024-05-06T07:08:09.010Z' },
    });
  });
});

describe("a serializer of the application's own", () => {
  const prefixed: Serializer = {
    roundTrip: 'exact',
    stringify: (value) => `v1:${JSON.stringify(value)}`,
    parse: (text) => {
      if (!text.startsWith('v1:')) throw new SyntaxError('not a v1 value');
      return JSON.parse(text.slice(3));
    },
  };

  it('is used for every write and read; text it cannot read is a logged miss', async () => {
    const cache = new CacheService(connection, { serializer: prefixed });
    await cache.set(`${p}own`, { n: 1 });
    expect(server.cli('GET', `${p}own`)).toBe('v1:{"n":1}');
    expect(await cache.get(`${p}own`)).toEqual({ n: 1 });
    server.cli('SET', `${p}foreign`, '{"n":2}');
    const from = log.lines.length;
    expect(await cache.mget([`${p}own`, `${p}foreign`])).toEqual([{ n: 1 }, null]);
    expect(await cache.get(`${p}foreign`)).toBeNull();
    const warned = log.lines.slice(from).filter((l) => l.level === 'warn');
    expect(warned.map((l) => l.meta?.key)).toEqual([`${p}foreign`, `${p}foreign`]);
  });

  it('caches a "not found" in its own format and reads it back as a hit, without a warning', async () => {
    const cache = new CacheService(connection, { serializer: prefixed });
    let calls = 0;
    const notFound = async () => {
      calls++;
      return null;
    };
    const from = log.lines.length;
    expect(await cache.getOrSetWithInfo(`${p}ownnull`, notFound, { cacheNullSeconds: 30 })).toEqual({
      value: null,
      hit: false,
    });
    expect(server.cli('GET', `${p}ownnull`)).toBe('v1:null');
    expect(await cache.getOrSetWithInfo(`${p}ownnull`, notFound, { cacheNullSeconds: 30 })).toEqual({
      value: null,
      hit: true,
    });
    expect(calls).toBe(1);
    expect(log.lines.slice(from).filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('fails soft when it cannot write a value, and a bad serializer is refused up front', async () => {
    const refusing: Serializer = {
      roundTrip: 'json',
      stringify: () => {
        throw new Error('no thanks');
      },
      parse: (text) => text,
    };
    const from = log.lines.length;
    expect(await new CacheService(connection, { serializer: refusing }).set(`${p}refused`, 1)).toBe(false);
    expect(log.lines.slice(from).map((l) => l.meta?.message)).toContain('value cannot be serialized: no thanks');
    expect(server.cli('EXISTS', `${p}refused`)).toBe('0');
    expect(() => new CacheService(connection, { serializer: {} as Serializer })).toThrow(
      new TypeError("options.serializer must have stringify and parse functions and roundTrip 'json' or 'exact'"),
    );
  });
});
