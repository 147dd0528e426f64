import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CacheService, PostCacheService, RedisConnection, UserCacheService, setLogger, defaultLogger } from '..';
import { recordingLogger, startRedis, testRedis, type TestServer, uniquePrefix } from './helpers/redis';

// The backend's own types, which redis-layer cannot know.
interface User {
  id: string;
  name: string;
  joinedAt: Date | string;
}
interface Post {
  id: string;
  authorId: string;
  text: string;
}

let server: TestServer;
let connection: RedisConnection;
let users: UserCacheService;
let posts: PostCacheService;
const log = recordingLogger();
const p = uniquePrefix('upc');

const ttl = (key: string) => Number(server.cli('TTL', key));
const post = (n: number): Post => ({ id: `${p}post${n}`, authorId: `${p}author`, text: `post ${n}` });

beforeAll(async () => {
  server = await testRedis();
  connection = new RedisConnection({ url: server.url });
  await connection.connect();
  users = new UserCacheService(connection);
  posts = new PostCacheService(connection);
  setLogger(log.logger);
});

afterAll(async () => {
  setLogger(defaultLogger);
  await connection.close();
  await server.stop();
});

describe('UserCacheService', () => {
  const user: User = { id: `${p}u1`, name: 'Ada', joinedAt: new Date('2024-01-02T03:04:05.000Z') };

  it('stores users, friends and profiles as the seed JSON under CacheKeys with the seed TTLs', async () => {
    await users.setUser(user);
    await users.setUserFriends(user.id, ['a', 'b']);
    await users.setUserProfile(user);
    expect(server.cli('GET', `user:${user.id}`)).toBe(JSON.stringify(user));
    expect(server.cli('GET', `user:${user.id}:friends`)).toBe('["a","b"]');
    expect(server.cli('GET', `user:${user.id}:profile`)).toBe(JSON.stringify(user));
    expect(ttl(`user:${user.id}`)).toBeGreaterThan(3590);
    expect(ttl(`user:${user.id}`)).toBeLessThanOrEqual(3600);
    expect(ttl(`user:${user.id}:friends`)).toBeGreaterThan(1790);
    expect(ttl(`user:${user.id}:friends`)).toBeLessThanOrEqual(1800);
    expect(ttl(`user:${user.id}:profile`)).toBeGreaterThan(7190);
    expect(ttl(`user:${user.id}:profile`)).toBeLessThanOrEqual(7200);

    const cached: User | null = await users.getUser<User>(user.id);
    expect(cached).toEqual({ ...user, joinedAt: '2024-01-02T03:04:05.000Z' });
    expect(await users.getUserFriends(user.id)).toEqual(['a', 'b']);
    expect(await users.getUserProfile(user.id)).toEqual({ ...user, joinedAt: '2024-01-02T03:04:05.000Z' });
    expect(await users.getUser(`${p}nobody`)).toBeNull();
  });

  it('reads users written by the old TypeScript layer', async () => {
    server.cli('SET', `user:${p}old`, JSON.stringify({ id: `${p}old`, name: 'from seed' }));
    expect(await users.getUser(`${p}old`)).toEqual({ id: `${p}old`, name: 'from seed' });
  });

  it('invalidateUser removes the four user keys with one UNLINK', async () => {
    const own = await startRedis();
    const c = new RedisConnection({ url: own.url });
    try {
      await c.connect();
      const svc = new UserCacheService(c);
      await svc.setUser(user);
      await svc.setUserFriends(user.id, []);
      await svc.setUserProfile(user);
      own.cli('SET', `user:${user.id}:settings`, '{}');
      own.cli('SET', `user:${user.id}:session`, 'keep');
      own.cli('CONFIG', 'RESETSTAT');
      await svc.invalidateUser(user.id);
      const stats = own.cli('INFO', 'commandstats');
      expect(stats).toMatch(/cmdstat_unlink:calls=1,/);
      expect(stats).not.toMatch(/cmdstat_del:/);
      expect(
        own.cli(
          'EXISTS',
          `user:${user.id}`,
          `user:${user.id}:friends`,
          `user:${user.id}:profile`,
          `user:${user.id}:settings`,
        ),
      ).toBe('0');
      expect(own.cli('GET', `user:${user.id}:session`)).toBe('keep');
    } finally {
      await c.close();
      await own.stop();
    }
  });

  it('invalidateUserFriends removes only the friend list; warmUserCache writes user and profile', async () => {
    const u: User = { id: `${p}u2`, name: 'Bo', joinedAt: 'x' };
    await users.warmUserCache(u);
    await users.setUserFriends(u.id, ['z']);
    expect(ttl(`user:${u.id}`)).toBeGreaterThan(3590);
    expect(ttl(`user:${u.id}:profile`)).toBeGreaterThan(7190);
    await users.invalidateUserFriends(u.id);
    expect(await users.getUserFriends(u.id)).toBeNull();
    expect(await users.getUser(u.id)).toEqual(u);
  });

  it('answers bad data (corrupt JSON, wrong key type, wrong shape) as a logged miss', async () => {
    server.cli('SET', `user:${p}corrupt`, '{not json');
    server.cli('HSET', `user:${p}hash`, 'f', 'v');
    server.cli('SET', `user:${p}shape:friends`, '"not a list"');
    server.cli('SET', `user:${p}num`, '42');
    log.lines.length = 0;
    expect(await users.getUser(`${p}corrupt`)).toBeNull();
    expect(await users.getUser(`${p}hash`)).toBeNull();
    expect(await users.getUserFriends(`${p}shape`)).toBeNull();
    expect(await users.getUser(`${p}num`)).toBeNull();
    const text = log.text();
    expect(text).toContain(`user:${p}corrupt`);
    expect(text).toContain(`user:${p}hash`);
    expect(text).toContain(`user:${p}shape:friends`);
    expect(text).toContain(`user:${p}num`);
    expect(text).not.toContain('not a list');
  });

  it('rejects bad arguments with a TypeError naming them, never a synchronous throw', async () => {
    const bad = users.getUser(42 as unknown as string);
    expect(bad).toBeInstanceOf(Promise);
    await expect(bad).rejects.toThrow(TypeError);
    await expect(bad).rejects.toThrow(/userId/);
    await expect(users.setUser({ name: 'no id' } as unknown as User)).rejects.toThrow(/user\.id must be a string/);
    await expect(users.setUser(null as unknown as User)).rejects.toThrow(TypeError);
    await expect(users.setUserFriends(user.id, 'x' as unknown as string[])).rejects.toThrow(/friendIds/);
    await expect(users.invalidateUser(undefined as unknown as string)).rejects.toThrow(/userId/);
  });

  it('fails soft while not connected: a logged miss, writes and invalidations resolve', async () => {
    const svc = new UserCacheService(new RedisConnection({ url: server.url }));
    log.lines.length = 0;
    expect(await svc.getUser(user.id)).toBeNull();
    await expect(svc.setUser(user)).resolves.toBeUndefined();
    await expect(svc.invalidateUser(user.id)).resolves.toBeUndefined();
    expect(log.text()).toMatch(/not connected/);
  });
});

describe('PostCacheService', () => {
  it('stores posts, feed pages, comments and reactions as the seed JSON with the seed TTLs', async () => {
    const author = `${p}feedttl`;
    await posts.setPost(post(1));
    await posts.setUserFeed(author, 1, [post(1), post(2)]);
    await posts.setPostComments(post(1).id, [{ id: 'c1' }]);
    await posts.setPostReactions(post(1).id, [{ type: 'like' }]);
    expect(server.cli('GET', `post:${post(1).id}`)).toBe(JSON.stringify(post(1)));
    // The old backend reads this key with JSON.parse, as before.
    expect(server.cli('GET', `feed:${author}:page:1`)).toBe(JSON.stringify([post(1), post(2)]));
    expect(server.cli('GET', `post:${post(1).id}:comments`)).toBe('[{"id":"c1"}]');
    expect(server.cli('GET', `post:${post(1).id}:reactions`)).toBe('[{"type":"like"}]');
    const within = (key: string, max: number) => {
      expect(ttl(key)).toBeGreaterThan(max - 10);
      expect(ttl(key)).toBeLessThanOrEqual(max);
    };
    within(`post:${post(1).id}`, 1800);
    within(`feed:${author}:page:1`, 900);
    within(`{feed:${author}:page:1}:epoch`, 900);
    within(`post:${post(1).id}:comments`, 600);
    within(`post:${post(1).id}:reactions`, 1800);

    const cached: Post | null = await posts.getPost<Post>(post(1).id);
    expect(cached).toEqual(post(1));
    const feed: Post[] | null = await posts.getUserFeed<Post>(author, 1);
    expect(feed).toEqual([post(1), post(2)]);
    expect(await posts.getPostComments(post(1).id)).toEqual([{ id: 'c1' }]);
    expect(await posts.getPostReactions(post(1).id)).toEqual([{ type: 'like' }]);
    expect(await posts.getUserFeed(author, 2)).toBeNull();
  });

  it('invalidatePost deletes the post keys and no page cached before it is served after it', async () => {
    const readers = [`${p}r1`, `${p}r2`, `${p}r3`];
    for (const reader of readers) await posts.setUserFeed(reader, 1, [post(5)]);
    await posts.setPost(post(5));
    await posts.setPostComments(post(5).id, []);
    await posts.setPostReactions(post(5).id, []);
    expect(await posts.getUserFeed(readers[0], 1)).toEqual([post(5)]);

    await posts.invalidatePost(post(5).id);
    for (const reader of readers) expect(await posts.getUserFeed(reader, 1)).toBeNull();
    expect(
      server.cli('EXISTS', `post:${post(5).id}`, `post:${post(5).id}:comments`, `post:${post(5).id}:reactions`),
    ).toBe('0');

    // Rebuilt after the invalidation: served normally.
    await posts.setUserFeed(readers[0], 1, [post(6), post(5)]);
    expect(await posts.getUserFeed(readers[0], 1)).toEqual([post(6), post(5)]);
    expect(await posts.getUserFeed(readers[1], 1)).toBeNull();
  });

  it('never serves a page written before any of many interleaved invalidations', async () => {
    const reader = `${p}interleave`;
    for (let round = 0; round < 30; round++) {
      await posts.setUserFeed(reader, 1, [post(round)]);
      expect(await posts.getUserFeed(reader, 1)).toEqual([post(round)]);
      await (round % 2 === 0 ? posts.invalidatePost(post(round).id) : posts.invalidateAllFeeds());
      expect(await posts.getUserFeed(reader, 1)).toBeNull();
    }
  });

  it('invalidateAllFeeds retires every page; later pages are served', async () => {
    await posts.setUserFeed(`${p}all1`, 1, [post(1)]);
    await posts.setUserFeed(`${p}all2`, 3, [post(2)]);
    await posts.invalidateAllFeeds();
    expect(await posts.getUserFeed(`${p}all1`, 1)).toBeNull();
    expect(await posts.getUserFeed(`${p}all2`, 3)).toBeNull();
    await posts.setUserFeed(`${p}all2`, 3, [post(3)]);
    expect(await posts.getUserFeed(`${p}all2`, 3)).toEqual([post(3)]);
  });

  it('a lost or garbage epoch key never brings an old page back', async () => {
    const reader = `${p}evicted`;
    await posts.setUserFeed(reader, 1, [post(1)]);
    // Eviction (allkeys-lru) or the old backend's `DEL feed:*` must not reset the epoch to a value an old page carries.
    server.cli('DEL', 'feed-epoch');
    expect(await posts.getUserFeed(reader, 1)).toBeNull();
    await posts.invalidateAllFeeds();
    expect(await posts.getUserFeed(reader, 1)).toBeNull();

    await posts.setUserFeed(reader, 1, [post(2)]);
    server.cli('DEL', `feed-epoch:${reader}`);
    await posts.invalidateUserFeeds(reader);
    expect(await posts.getUserFeed(reader, 1)).toBeNull();

    server.cli('DEL', `feed-epoch:${reader}`);
    server.cli('HSET', `feed-epoch:${reader}`, 'f', 'v');
    await posts.setUserFeed(reader, 1, [post(3)]);
    expect(await posts.getUserFeed(reader, 1)).toEqual([post(3)]);
  });

  it('honours the old backend: its pages without an epoch tag are misses, its KEYS+DEL invalidation sticks', async () => {
    const reader = `${p}legacy`;
    server.cli('SET', `feed:${reader}:page:1`, JSON.stringify([post(1)]), 'EX', '900');
    expect(await posts.getUserFeed(reader, 1)).toBeNull();
    await posts.setUserFeed(reader, 2, [post(2)]);
    server.cli('DEL', `feed:${reader}:page:2`);
    expect(await posts.getUserFeed(reader, 2)).toBeNull();
  });

  it('invalidateUserFeeds drops only that user, even for ids holding glob characters or colons', async () => {
    const victims = [`${p}a`, `${p}ab`, `${p}b`, `${p}a:x`, `${p}\\a`, `${p}a\\`];
    const attackers = [
      `${p}*`,
      `${p}a*`,
      `${p}a?`,
      `${p}[ab]`,
      `${p}[a-z]*`,
      `${p}\\*`,
      `${p}*\\`,
      '*',
      '?',
      '[',
      '\\',
    ];
    for (const id of [...victims, ...attackers]) await posts.setUserFeed(id, 1, [post(7)]);
    for (const attacker of attackers) await posts.invalidateUserFeeds(attacker);
    for (const victim of victims) expect(await posts.getUserFeed(victim, 1)).toEqual([post(7)]);
    for (const attacker of attackers) expect(await posts.getUserFeed(attacker, 1)).toBeNull();

    // The seed's `feed:${userId}:*` would also match user "a:x"; the per-user epoch cannot.
    await posts.invalidateUserFeeds(`${p}a`);
    expect(await posts.getUserFeed(`${p}a`, 1)).toBeNull();
    expect(await posts.getUserFeed(`${p}a:x`, 1)).toEqual([post(7)]);
    expect(await posts.getUserFeed(`${p}ab`, 1)).toEqual([post(7)]);
    await posts.setUserFeed(`${p}a`, 1, [post(8)]);
    expect(await posts.getUserFeed(`${p}a`, 1)).toEqual([post(8)]);
  });

  it("invalidateUserFeeds of a post's audience retires every listed user's pages in one call and one info line", async () => {
    const audience = [`${p}fan1`, `${p}fan2`, `${p}fan:3`];
    const bystander = `${p}fan4`;
    for (const id of [...audience, bystander]) await posts.setUserFeed(id, 1, [post(9)]);
    const from = log.lines.length;
    await posts.invalidateUserFeeds(audience);
    for (const id of audience) expect(await posts.getUserFeed(id, 1)).toBeNull();
    expect(await posts.getUserFeed(bystander, 1)).toEqual([post(9)]);
    const lines = log.lines.slice(from).filter((l) => l.message === 'User feeds invalidated');
    expect(lines).toEqual([{ level: 'info', message: 'User feeds invalidated', meta: { users: 3 } }]);

    const one = log.lines.length;
    await posts.invalidateUserFeeds(bystander);
    expect(await posts.getUserFeed(bystander, 1)).toBeNull();
    expect(log.lines.slice(one).map((l) => l.level)).toEqual(['debug']);

    await expect(posts.invalidateUserFeeds([])).resolves.toBeUndefined();
    await expect(posts.invalidateUserFeeds([`${p}ok`, 7 as unknown as string])).rejects.toThrow(
      new TypeError('userIds[1] must be a string, got number'),
    );
  });

  it('answers a corrupt, wrongly typed or wrongly shaped page or post as a logged miss', async () => {
    const reader = `${p}badfeed`;
    await posts.setUserFeed(reader, 1, [post(1)]);
    server.cli('SET', `feed:${reader}:page:1`, '[{broken', 'KEEPTTL');
    await posts.setUserFeed(reader, 2, [post(1)]);
    server.cli('SET', `feed:${reader}:page:2`, '{"not":"an array"}', 'KEEPTTL');
    server.cli('HSET', `post:${p}hashpost`, 'f', 'v');
    server.cli('SET', `post:${p}shape:comments`, '{}');
    log.lines.length = 0;
    expect(await posts.getUserFeed(reader, 1)).toBeNull();
    expect(await posts.getUserFeed(reader, 2)).toBeNull();
    expect(await posts.getPost(`${p}hashpost`)).toBeNull();
    expect(await posts.getPostComments(`${p}shape`)).toBeNull();
    const text = log.text();
    for (const key of [
      `feed:${reader}:page:1`,
      `feed:${reader}:page:2`,
      `post:${p}hashpost`,
      `post:${p}shape:comments`,
    ]) {
      expect(text).toContain(key);
    }
  });

  it('rejects bad arguments with TypeError/RangeError naming them', async () => {
    await expect(posts.getUserFeed('u', -1)).rejects.toThrow(RangeError);
    await expect(posts.getUserFeed('u', 1.5)).rejects.toThrow(/page/);
    await expect(posts.getUserFeed('u', '1' as unknown as number)).rejects.toThrow(TypeError);
    await expect(posts.setUserFeed('u', 1, {} as unknown as Post[])).rejects.toThrow(/posts must be an array/);
    await expect(posts.setPost({ text: 'x' } as unknown as Post)).rejects.toThrow(/post\.id/);
    await expect(posts.invalidatePost(1 as unknown as string)).rejects.toThrow(/postId/);
    await expect(posts.invalidateUserFeeds(null as unknown as string)).rejects.toThrow(/userId/);
    await expect(posts.setPostComments('x', 'y' as unknown as unknown[])).rejects.toThrow(/comments/);
  });
});

describe('loads that an invalidation overtakes are not stored', () => {
  let other: RedisConnection;
  let otherPosts: PostCacheService;
  let otherUsers: UserCacheService;
  let cache: CacheService;
  beforeAll(async () => {
    // Invalidations come from another connection, as from another instance of the backend.
    other = new RedisConnection({ url: server.url });
    await other.connect();
    otherPosts = new PostCacheService(other);
    otherUsers = new UserCacheService(other);
    cache = new CacheService(connection);
  });
  afterAll(() => other.close());

  const invalidations: Array<[string, (reader: string) => Promise<void>]> = [
    ['invalidatePost', () => otherPosts.invalidatePost(`${p}gone`)],
    ['invalidateUserFeeds', (reader) => otherPosts.invalidateUserFeeds(reader)],
    ['invalidateAllFeeds', () => otherPosts.invalidateAllFeeds()],
  ];

  it.each(invalidations)(
    'getUserFeedOrLoad: %s during the load stores nothing; the next load is stored',
    async (name, invalidate) => {
      const reader = `${p}gufol:${name}`;
      // A page from before, so the epochs exist and the read itself yields the token.
      await posts.setUserFeed(reader, 1, [post(0)]);
      await otherPosts.invalidateUserFeeds(reader);
      let loads = 0;
      const staleLoad = async () => {
        loads++;
        await invalidate(reader);
        return [post(1)];
      };
      expect(await posts.getUserFeedOrLoad(reader, 1, staleLoad)).toEqual([post(1)]);
      expect(server.cli('GET', `feed:${reader}:page:1`)).toBe(JSON.stringify([post(0)]));
      expect(await posts.getUserFeed(reader, 1)).toBeNull();
      // The same on a page never cached, whose epochs are read before the load.
      expect(await posts.getUserFeedOrLoad(reader, 2, staleLoad)).toEqual([post(1)]);
      expect(server.cli('EXISTS', `feed:${reader}:page:2`)).toBe('0');

      const fresh = jest.fn(async () => [post(2)]);
      expect(await posts.getUserFeedOrLoad(reader, 1, fresh)).toEqual([post(2)]);
      expect(await posts.getUserFeedOrLoad(reader, 1, fresh)).toEqual([post(2)]);
      expect(fresh).toHaveBeenCalledTimes(1);
      expect(await otherPosts.getUserFeed(reader, 1)).toEqual([post(2)]);
      expect(loads).toBe(2);
    },
  );

  it('setUserFeed with a token from beginFeedWrite stores only if no invalidation came in between', async () => {
    const reader = `${p}token`;
    const before = await posts.beginFeedWrite(reader, 1);
    expect(before).toEqual(expect.any(String));
    await otherPosts.invalidatePost(`${p}deleted`);
    await posts.setUserFeed(reader, 1, [post(1)], before);
    expect(server.cli('EXISTS', `feed:${reader}:page:1`)).toBe('0');

    const token = await posts.beginFeedWrite(reader, 1);
    await posts.setUserFeed(reader, 1, [post(2)], token);
    expect(await posts.getUserFeed(reader, 1)).toEqual([post(2)]);
    // A null token (Redis could not be read before the load) stores nothing.
    await posts.setUserFeed(reader, 2, [post(3)], null);
    expect(server.cli('EXISTS', `feed:${reader}:page:2`)).toBe('0');
    await expect(posts.setUserFeed(reader, 1, [], 42 as unknown as string)).rejects.toThrow(/token must be a string/);
    await expect(posts.getUserFeedOrLoad(reader, 1, 'nope' as unknown as () => Post[])).rejects.toThrow(
      /loader must be a function/,
    );
    await expect(posts.getUserFeedOrLoad(`${p}notarray`, 1, async () => 'x' as unknown as Post[])).rejects.toThrow(
      /loader must resolve to an array/,
    );
    expect(server.cli('EXISTS', `feed:${p}notarray:page:1`)).toBe('0');
  });

  it('getUserFeedOrLoad runs one load for concurrent misses; a loader error rejects them all and stores nothing', async () => {
    const reader = `${p}flight`;
    const loader = jest.fn(async () => {
      await new Promise((r) => setTimeout(r, 20));
      return [post(5)];
    });
    const pages = await Promise.all(Array.from({ length: 10 }, () => posts.getUserFeedOrLoad(reader, 3, loader)));
    expect(loader).toHaveBeenCalledTimes(1);
    expect(pages.every((page) => page[0].id === post(5).id)).toBe(true);
    const failing = jest.fn(async () => {
      throw new Error('db down');
    });
    const settled = await Promise.allSettled([
      posts.getUserFeedOrLoad(reader, 4, failing),
      posts.getUserFeedOrLoad(reader, 4, failing),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(failing).toHaveBeenCalledTimes(1);
    expect(server.cli('EXISTS', `feed:${reader}:page:4`)).toBe('0');
  });

  it('getOrSet of user and post keys: invalidateUser, invalidateUserFriends and invalidatePost during the load store nothing', async () => {
    const id = `${p}inv`;
    const cases: Array<[string, () => Promise<void>]> = [
      [`user:${id}`, () => otherUsers.invalidateUser(id)],
      [`user:${id}:profile`, () => otherUsers.invalidateUser(id)],
      [`user:${id}:friends`, () => otherUsers.invalidateUserFriends(id)],
      [`post:${id}`, () => otherPosts.invalidatePost(id)],
      [`post:${id}:comments`, () => otherPosts.invalidatePost(id)],
    ];
    for (const [key, invalidate] of cases) {
      const loaded = await cache.getOrSet(key, async () => {
        await invalidate();
        return { id, stale: true };
      });
      expect(loaded).toEqual({ id, stale: true });
      expect([key, server.cli('EXISTS', key)]).toEqual([key, '0']);
      expect(await cache.getOrSet(key, async () => ({ id, stale: false }))).toEqual({ id, stale: false });
      expect([key, server.cli('GET', key)]).toEqual([key, JSON.stringify({ id, stale: false })]);
    }
    // Invalidations leave no companion keys behind.
    await otherUsers.invalidateUser(id);
    await otherPosts.invalidatePost(id);
    expect(server.cli('EXISTS', `{user:${id}}:lease`, `{user:${id}:profile}:lease`, `{post:${id}}:lease`)).toBe('0');
  });
});

describe('feed invalidation cost', () => {
  it('is the same handful of commands with 10 or 2 000 cached pages: no SCAN, KEYS or per-page DEL', async () => {
    const own = await startRedis();
    const c = new RedisConnection({ url: own.url });
    try {
      await c.connect();
      const svc = new PostCacheService(c);
      // Loads the script first: a fresh server's one-time NOSCRIPT retry is not per-invalidation cost.
      await svc.invalidatePost('warm-up');
      const measure = async (pages: number) => {
        const writes: Promise<void>[] = [];
        for (let i = 0; i < pages; i++)
          writes.push(svc.setUserFeed(`reader${i % 100}`, Math.floor(i / 100), [post(i)]));
        await Promise.all(writes);
        const cached = await Promise.all(
          Array.from({ length: pages }, (_, i) =>
            svc.getUserFeed<ReturnType<typeof post>>(`reader${i % 100}`, Math.floor(i / 100)),
          ),
        );
        expect(cached.every((page, i) => page !== null && page[0].id === post(i).id)).toBe(true);
        own.cli('CONFIG', 'RESETSTAT');
        await svc.invalidatePost('some-post');
        const stats = own.cli('INFO', 'commandstats');
        const calls = Object.fromEntries(
          [...stats.matchAll(/cmdstat_([\w|]+):calls=(\d+)/g)].map((m) => [m[1], Number(m[2])]),
        );
        const staleAfter = await Promise.all(
          Array.from({ length: pages }, (_, i) => svc.getUserFeed(`reader${i % 100}`, Math.floor(i / 100))),
        );
        expect(staleAfter.every((page) => page === null)).toBe(true);
        return calls;
      };
      const small = await measure(10);
      const large = await measure(2000);
      expect(large).toEqual(small);
      expect(large.evalsha).toBe(1);
      expect(large.del).toBe(1);
      for (const name of ['scan', 'keys', 'unlink']) expect(large[name]).toBeUndefined();
    } finally {
      await c.close();
      await own.stop();
    }
  });
});

describe('typings', () => {
  it("let the backend's own User and Post types flow through under --strict", () => {
    const root = path.resolve(__dirname, '..');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-layer-types-'));
    try {
      fs.writeFileSync(
        path.join(dir, 'backend.ts'),
        `import { userCacheService, postCacheService, cacheWarmingService, UserCacheService, PostCacheService, dateSerializer, type Jsonified } from ${JSON.stringify(root)};
interface User { id: string; name: string; friends?: string[] }
interface Post { id: string; authorId: string; createdAt: Date }
declare const userRepository: { findByIds(ids: string[]): Promise<User[]>; getActiveUsers(limit: number): Promise<User[]>; other(): void };
declare const postRepository: { findByIds(ids: string[]): Promise<Post[]>; getTrendingPosts(limit: number): Promise<Post[]> };
export async function backend(id: string, user: User, post: Post, feed: Post[]): Promise<void> {
  const u: User | null = await userCacheService.getUser(id);
  const typed: User | null = await userCacheService.getUser<User>(id);
  const profile: User | null = await userCacheService.getUserProfile(id);
  const friends: string[] | null = await userCacheService.getUserFriends(id);
  await userCacheService.setUser(user);
  await userCacheService.setUserProfile(user);
  await userCacheService.warmUserCache(user);
  await new UserCacheService().invalidateUser(id);
  const p: Post | null = await postCacheService.getPost(id);
  const page: Post[] | null = await postCacheService.getUserFeed(id, 1);
  const typedPage: Post[] | null = await postCacheService.getUserFeed<Post>(id, 1);
  await postCacheService.setPost(post);
  await postCacheService.setUserFeed(id, 1, feed);
  // A load answers what a later read returns: createdAt as its ISO string with JSON, a Date with dateSerializer.
  const loaded: Jsonified<Post>[] = await postCacheService.getUserFeedOrLoad(id, 1, async () => feed);
  const createdAt: string | undefined = loaded[0]?.createdAt;
  // @ts-expect-error with the JSON serializer a loaded Date is a string
  const notDates: Post[] = await postCacheService.getUserFeedOrLoad(id, 1, async () => feed);
  const dated: Post[] = await new PostCacheService(undefined, { serializer: dateSerializer }).getUserFeedOrLoad(id, 1, async () => feed);
  await postCacheService.setUserFeed(id, 1, feed, await postCacheService.beginFeedWrite(id, 1));
  const comments: { id: string }[] | null = await postCacheService.getPostComments(id);
  await postCacheService.invalidatePost(id);
  await postCacheService.invalidateUserFeeds(id);
  cacheWarmingService.setRepositories({ userRepository, postRepository });
  await cacheWarmingService.warmUserCache([id]);
  await cacheWarmingService.scheduleCacheWarming();
  cacheWarmingService.stopCacheWarming();
  // @ts-expect-error a user needs a string id
  await userCacheService.setUser({ name: 'x' });
  // @ts-expect-error the typed read is User, not Post
  const wrong: Post | null = await userCacheService.getUser<User>(id);
  void [u, typed, profile, friends, p, page, typedPage, loaded, createdAt, notDates, dated, comments, wrong];
}
`,
      );
      const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      const run = () =>
        execFileSync(
          process.execPath,
          [
            tsc,
            '--noEmit',
            '--strict',
            '--skipLibCheck',
            '--target',
            'ES2022',
            '--module',
            'commonjs',
            '--moduleResolution',
            'node',
            '--types',
            'node',
            '--typeRoots',
            path.join(root, 'node_modules', '@types'),
            path.join(dir, 'backend.ts'),
          ],
          { encoding: 'utf8', stdio: 'pipe' },
        );
      try {
        run();
      } catch (error) {
        throw new Error(`tsc failed:\n${(error as { stdout?: string }).stdout}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
