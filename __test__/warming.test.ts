import { spawnSync } from 'node:child_process';
import path from 'node:path';
import {
  CacheWarmingService,
  PostCacheService,
  RedisConnection,
  UserCacheService,
  type WarmingRepositories,
  setLogger,
  defaultLogger,
} from '..';
import { recordingLogger, sleep, testRedis, type TestServer, uniquePrefix } from './helpers/redis';

interface User {
  id: string;
  name: string;
  seen: Date;
}
interface Post {
  id: string;
  title: string;
}

let server: TestServer;
let connection: RedisConnection;
const log = recordingLogger();
const p = uniquePrefix('warm');
const root = path.resolve(__dirname, '..');

const makeUser = (id: string): User => ({ id, name: `name of ${id}`, seen: new Date('2024-02-03T04:05:06.000Z') });
const makePost = (id: string): Post => ({ id, title: `title of ${id}` });
const ttl = (key: string) => Number(server.cli('TTL', key));
const exists = (...keys: string[]) => Number(server.cli('EXISTS', ...keys));

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** In-memory repositories like the backend's: async functions over plain objects, recording their calls. */
function repositories(userIds: string[], postIds: string[]) {
  const calls: string[] = [];
  const userRepository = {
    findByIds: jest.fn(async (ids: string[]) => {
      calls.push('users.findByIds');
      return ids.filter((id) => userIds.includes(id)).map(makeUser);
    }),
    getActiveUsers: jest.fn(async (limit: number) => {
      calls.push(`users.getActiveUsers(${limit})`);
      return userIds.slice(0, limit).map(makeUser);
    }),
  };
  const postRepository = {
    findByIds: jest.fn(async (ids: string[]) => {
      calls.push('posts.findByIds');
      return ids.filter((id) => postIds.includes(id)).map(makePost);
    }),
    getTrendingPosts: jest.fn(async (limit: number) => {
      calls.push(`posts.getTrendingPosts(${limit})`);
      return postIds.slice(0, limit).map(makePost);
    }),
  };
  return { calls, userRepository, postRepository };
}

const ids = (name: string, n: number) => Array.from({ length: n }, (_, i) => `${p}${name}${i}`);

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

describe('warming on demand', () => {
  it('warmUserCache writes user and profile JSON with the seed TTLs for 1000 users, each key through its fill lease', async () => {
    const userIds = ids('u', 1000);
    const repos = repositories(userIds, []);
    const warming = new CacheWarmingService(repos, connection);
    const dispatcher = connection.dispatcher();
    const spies = (['script', 'pipeline', 'set', 'command', 'get'] as const).map((name) =>
      jest.spyOn(dispatcher, name),
    );
    try {
      await warming.warmUserCache(userIds);
      const [script, ...others] = spies;
      // One lease and one conditional write per key, queued together (the lane pipelines them); no plain SET.
      expect(script).toHaveBeenCalledTimes(4 * userIds.length);
      for (const spy of others) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(repos.userRepository.findByIds).toHaveBeenCalledTimes(1);
    for (const id of [userIds[0], userIds[999]]) {
      expect(server.cli('GET', `user:${id}`)).toBe(JSON.stringify(makeUser(id)));
      expect(server.cli('GET', `user:${id}:profile`)).toBe(JSON.stringify(makeUser(id)));
      expect(ttl(`user:${id}`)).toBeGreaterThan(3590);
      expect(ttl(`user:${id}`)).toBeLessThanOrEqual(3600);
      expect(ttl(`user:${id}:profile`)).toBeGreaterThan(7190);
      expect(ttl(`user:${id}:profile`)).toBeLessThanOrEqual(7200);
    }
  });

  it('warmPostCache writes post JSON with the seed TTL', async () => {
    const postIds = ids('p', 3);
    const warming = new CacheWarmingService(repositories([], postIds), connection);
    await warming.warmPostCache(postIds);
    expect(server.cli('GET', `post:${postIds[2]}`)).toBe(JSON.stringify(makePost(postIds[2])));
    expect(ttl(`post:${postIds[2]}`)).toBeGreaterThan(1790);
    expect(ttl(`post:${postIds[2]}`)).toBeLessThanOrEqual(1800);
  });

  it('warmPopularContent warms 100 trending posts and 1000 active users, as the seed', async () => {
    const userIds = ids('active', 1200);
    const postIds = ids('trend', 150);
    const repos = repositories(userIds, postIds);
    const warming = new CacheWarmingService(undefined, connection);
    warming.setRepositories({ userRepository: repos.userRepository, postRepository: repos.postRepository });
    await warming.warmPopularContent();
    expect(repos.calls).toEqual([
      'posts.getTrendingPosts(100)',
      'posts.findByIds',
      'users.getActiveUsers(1000)',
      'users.findByIds',
    ]);
    expect(repos.postRepository.findByIds).toHaveBeenCalledWith(postIds.slice(0, 100));
    expect(exists(`post:${postIds[99]}`, `user:${userIds[999]}`, `user:${userIds[999]}:profile`)).toBe(3);
    expect(exists(`post:${postIds[100]}`, `user:${userIds[1000]}`)).toBe(0);
  });

  it('rejects with the repository error message when it throws or rejects, writing nothing', async () => {
    const userIds = ids('fail', 2);
    const rejecting = new CacheWarmingService(
      {
        userRepository: {
          findByIds: async () => Promise.reject(new Error('db down: users')),
          getActiveUsers: async () => [],
        },
      },
      connection,
    );
    await expect(rejecting.warmUserCache(userIds)).rejects.toThrow('db down: users');
    const throwing = new CacheWarmingService(
      {
        postRepository: {
          findByIds: () => {
            throw new Error('sync throw: posts');
          },
          getTrendingPosts: async () => [],
        },
      },
      connection,
    );
    await expect(throwing.warmPostCache(userIds)).rejects.toThrow('sync throw: posts');
    expect(exists(`user:${userIds[0]}`, `post:${userIds[0]}`)).toBe(0);
  });

  it.each([
    [
      'a non-array',
      async () => ({ 0: makeUser('x') }),
      /userRepository\.findByIds must resolve to an array, got object/,
    ],
    ['null', async () => null, /must resolve to an array, got null/],
    [
      'an item without an id',
      async (wanted: string[]) => [makeUser(wanted[0]), { name: 'no id' }, makeUser(wanted[2])],
      /without a string id at index 1/,
    ],
    [
      'an item with a numeric id',
      async (wanted: string[]) => [makeUser(wanted[0]), { id: 7 }],
      /without a string id at index 1/,
    ],
    [
      'an item JSON cannot hold',
      async (wanted: string[]) => [makeUser(wanted[0]), { id: wanted[1], big: BigInt(1) }],
      /findByIds\(\)\[1\] cannot be stored as JSON/,
    ],
  ])('rejects %s from the repository with a clear error and writes nothing', async (_name, findByIds, message) => {
    const wanted = ids(`bad${_name.length}-`, 3);
    const warming = new CacheWarmingService(
      {
        userRepository: { findByIds: findByIds as (ids: string[]) => Promise<User[]>, getActiveUsers: async () => [] },
      },
      connection,
    );
    await expect(warming.warmUserCache(wanted)).rejects.toThrow(message);
    expect(exists(...wanted.flatMap((id) => [`user:${id}`, `user:${id}:profile`]))).toBe(0);
  });

  it('warmPopularContent validates everything before writing: bad users leave the posts unwritten too', async () => {
    const postIds = ids('nohalf', 2);
    const repos = repositories([], postIds);
    const warming = new CacheWarmingService(
      {
        postRepository: repos.postRepository,
        userRepository: { findByIds: async () => [], getActiveUsers: async () => [{ id: 1 }] as never },
      },
      connection,
    );
    await expect(warming.warmPopularContent()).rejects.toThrow(/getActiveUsers returned an item without a string id/);
    expect(exists(`post:${postIds[0]}`, `post:${postIds[1]}`)).toBe(0);
  });

  it('rejects bad arguments and missing repositories with errors that say what to do', async () => {
    const warming = new CacheWarmingService(undefined, connection);
    await expect(warming.warmUserCache(['x'])).rejects.toThrow(/no userRepository.*setRepositories/);
    await expect(warming.warmPopularContent()).rejects.toThrow(/no userRepository/);
    const bad = warming.warmUserCache('x' as unknown as string[]);
    expect(bad).toBeInstanceOf(Promise);
    await expect(bad).rejects.toThrow(TypeError);
    await expect(warming.warmPostCache([1] as unknown as string[])).rejects.toThrow(/postIds\[0\]/);
    await expect(warming.scheduleCacheWarming(0)).rejects.toThrow(RangeError);
    await expect(warming.scheduleCacheWarming('1' as unknown as number)).rejects.toThrow(/intervalMs/);
    expect(() =>
      warming.setRepositories({ userRepository: { findByIds: async () => [] } } as unknown as WarmingRepositories),
    ).toThrow(/userRepository\.getActiveUsers must be a function/);
    expect(() => new CacheWarmingService({ postRepository: 5 } as unknown as WarmingRepositories)).toThrow(
      /postRepository must be an object/,
    );
  });

  it('rejects without calling the repository while Redis is not connected', async () => {
    const repos = repositories(ids('nc', 1), []);
    const warming = new CacheWarmingService(repos, new RedisConnection({ url: server.url }));
    await expect(warming.warmUserCache(ids('nc', 1))).rejects.toThrow(/not connected/);
    expect(repos.calls).toEqual([]);
  });
});

describe('warming and invalidations', () => {
  let other: RedisConnection;
  let users: UserCacheService;
  let posts: PostCacheService;
  beforeAll(async () => {
    // Invalidations come from another connection, as from another instance of the backend.
    other = new RedisConnection({ url: server.url });
    await other.connect();
    users = new UserCacheService(other);
    posts = new PostCacheService(other);
  });
  afterAll(() => other.close());

  it('does not write users invalidated while findByIds ran; the others are written', async () => {
    const userIds = ids('invu', 3);
    const repos = repositories(userIds, []);
    const findByIds = repos.userRepository.findByIds;
    repos.userRepository.findByIds = jest.fn(async (wanted: string[]) => {
      const loaded = await findByIds(wanted);
      await users.invalidateUser(userIds[1]);
      return loaded;
    });
    log.lines.length = 0;
    await new CacheWarmingService(repos, connection).warmUserCache(userIds);
    expect(exists(`user:${userIds[1]}`, `user:${userIds[1]}:profile`)).toBe(0);
    expect(
      exists(`user:${userIds[0]}`, `user:${userIds[0]}:profile`, `user:${userIds[2]}`, `user:${userIds[2]}:profile`),
    ).toBe(4);
    expect(log.lines.find((l) => l.message.includes('invalidated while loading'))?.meta).toEqual({ keys: 2 });
  });

  it('warmPopularContent does not write a post invalidated while its findByIds ran', async () => {
    const postIds = ids('invp', 3);
    const repos = repositories([], postIds);
    const findByIds = repos.postRepository.findByIds;
    repos.postRepository.findByIds = jest.fn(async (wanted: string[]) => {
      const loaded = await findByIds(wanted);
      await posts.invalidatePost(postIds[0]);
      return loaded;
    });
    await new CacheWarmingService(repos, connection).warmPopularContent();
    expect(exists(`post:${postIds[0]}`)).toBe(0);
    expect(exists(`post:${postIds[1]}`, `post:${postIds[2]}`)).toBe(2);
  });

  it('an invalidation before the run (no load in flight) does not keep its keys from being written', async () => {
    const userIds = ids('invbefore', 2);
    await users.invalidateUser(userIds[0]);
    await posts.invalidatePost(userIds[0]);
    const repos = repositories(userIds, userIds);
    const warming = new CacheWarmingService(repos, connection);
    await warming.warmUserCache(userIds);
    await warming.warmPostCache(userIds);
    expect(exists(`user:${userIds[0]}`, `user:${userIds[0]}:profile`, `post:${userIds[0]}`)).toBe(3);
  });

  it('leaves out entities the repository returns for ids it was not asked for', async () => {
    const [asked, extra] = ids('unasked', 2);
    const warming = new CacheWarmingService(
      { userRepository: { findByIds: async () => [makeUser(asked), makeUser(extra)], getActiveUsers: async () => [] } },
      connection,
    );
    await warming.warmUserCache([asked]);
    expect(exists(`user:${asked}`)).toBe(1);
    expect(exists(`user:${extra}`, `user:${extra}:profile`)).toBe(0);
  });
});

describe('scheduled warming', () => {
  it('runs every interval, logs a failed run and keeps the schedule', async () => {
    const repos = repositories(ids('sched', 2), ids('schedp', 2));
    let failures = 1;
    const flaky = {
      ...repos.postRepository,
      getTrendingPosts: async (limit: number) => {
        if (failures-- > 0) throw new Error('trending query timed out');
        return repos.postRepository.getTrendingPosts(limit);
      },
    };
    const warming = new CacheWarmingService(
      { userRepository: repos.userRepository, postRepository: flaky },
      connection,
    );
    log.lines.length = 0;
    await warming.scheduleCacheWarming(10);
    try {
      await until(() => repos.userRepository.findByIds.mock.calls.length >= 2, 'two successful runs');
    } finally {
      warming.stopCacheWarming();
    }
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'Cache warming failed',
        meta: { message: 'trending query timed out' },
      }),
    );
    expect(exists(`user:${p}sched0`, `post:${p}schedp1`)).toBe(2);
    expect(warming.isScheduled).toBe(false);
  });

  it('skips a tick while the previous run is still going', async () => {
    const repos = repositories(ids('slow', 1), ids('slowp', 1));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const getTrendingPosts = jest.fn(async (limit: number) => {
      if (getTrendingPosts.mock.calls.length === 1) await gate;
      return repos.postRepository.getTrendingPosts(limit);
    });
    const warming = new CacheWarmingService(
      { userRepository: repos.userRepository, postRepository: { ...repos.postRepository, getTrendingPosts } },
      connection,
    );
    log.lines.length = 0;
    const skipped = () => log.lines.filter((line) => /skipped/.test(line.message)).length;
    await warming.scheduleCacheWarming(5);
    try {
      await until(() => skipped() >= 3, 'three skipped ticks');
      expect(getTrendingPosts).toHaveBeenCalledTimes(1);
      release();
      await until(() => getTrendingPosts.mock.calls.length >= 2, 'the next run after the slow one');
    } finally {
      warming.stopCacheWarming();
      release();
    }
  });

  it('stops on stopCacheWarming() and on close() of its connection', async () => {
    const own = new RedisConnection({ url: server.url });
    await own.connect();
    const repos = repositories(ids('stop', 1), []);
    const warming = new CacheWarmingService(repos, own);
    await warming.scheduleCacheWarming(5);
    await until(() => repos.calls.length > 0, 'a first run');
    await own.close();
    expect(warming.isScheduled).toBe(false);
    await sleep(5);
    const seen = repos.calls.length;
    await sleep(100);
    expect(repos.calls.length).toBe(seen);

    const other = new CacheWarmingService(repos, connection);
    await other.scheduleCacheWarming(5);
    other.stopCacheWarming();
    await sleep(100);
    expect(repos.calls.length).toBe(seen);
  });

  it.each([
    ['connects, schedules and closes', 'await connection.close();'],
    ['schedules and never closes', ''],
  ])('a process that %s exits on its own', (_name, finish) => {
    const script = `
      const { RedisConnection, CacheWarmingService } = require(${JSON.stringify(root)});
      (async () => {
        const connection = new RedisConnection({ url: ${JSON.stringify(server.url)} });
        await connection.connect();
        const repo = { findByIds: async () => [], getActiveUsers: async () => [], getTrendingPosts: async () => [] };
        const warming = new CacheWarmingService({ userRepository: repo, postRepository: repo }, connection);
        await warming.scheduleCacheWarming();
        await warming.scheduleCacheWarming(1000);
        ${finish}
        console.log('scheduled');
      })().catch((error) => { console.error(error); process.exit(2); });
    `;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(child.error).toBeUndefined();
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('scheduled');
    expect(child.status).toBe(0);
  });
});
