import { RedisConnection } from '..';
import { startCluster, type Cluster } from './helpers/topology';
import { testRedis, type TestServer, uniquePrefix } from './helpers/redis';

let server: TestServer;
let connection: RedisConnection;
const p = uniquePrefix('client-commands');

beforeAll(async () => {
  server = await testRedis();
  connection = new RedisConnection({ url: server.url });
  await connection.connect();
});

afterAll(async () => {
  await connection.close();
  await server.stop();
});

/** redis-cli's lines, sorted: the members of a set come back in no particular order. */
const sortedLines = (out: string): string[] => (out === '' ? [] : out.split('\n').sort());

/** How often the server got `command` (run or rejected, INFO commandstats), to show a call made no round trip. */
function received(command: string): number {
  const line = new RegExp(`cmdstat_${command}:calls=(\\d+).*?rejected_calls=(\\d+)`).exec(
    server.cli('INFO', 'commandstats'),
  );
  return line === null ? 0 : Number(line[1]) + Number(line[2]);
}

/** The INFO commandstats counts of `commands`, to compare before and after. */
const counts = (...commands: string[]): number[] => commands.map(received);

describe('number helpers', () => {
  it('incrBy, decr and decrBy answer the new value and store it', async () => {
    const client = connection.getClient();
    const key = `${p}counter`;
    expect(await client.incrBy(key, 10)).toBe(10);
    expect(await client.incrBy(key, -3)).toBe(7);
    expect(await client.decr(key)).toBe(6);
    expect(await client.decrBy(key, 4)).toBe(2);
    expect(await client.decrBy(key, -40)).toBe(42);
    expect(server.cli('GET', key)).toBe('42');
    expect(await client.decr(`${p}fresh`)).toBe(-1);
    expect(server.cli('GET', `${p}fresh`)).toBe('-1');
  });

  it('refuses a non-integer or unsafe increment with a RangeError naming it, a non-number with a TypeError', async () => {
    const client = connection.getClient();
    const key = `${p}bad-counter`;
    await expect(client.incrBy(key, 1.5)).rejects.toThrow(RangeError);
    await expect(client.incrBy(key, 1.5)).rejects.toThrow(/increment/);
    await expect(client.incrBy(key, Number.MAX_SAFE_INTEGER + 1)).rejects.toThrow(/increment must be a safe integer/);
    await expect(client.incrBy(key, Number.NaN)).rejects.toThrow(RangeError);
    await expect(client.decrBy(key, 0.1)).rejects.toThrow(/decrement must be a safe integer/);
    await expect(client.decrBy(key, Number.POSITIVE_INFINITY)).rejects.toThrow(RangeError);
    await expect(client.incrBy(key, '1' as unknown as number)).rejects.toThrow(TypeError);
    await expect(client.incrBy(key, '1' as unknown as number)).rejects.toThrow(
      /increment must be an integer, got string/,
    );
    await expect(client.decr(1 as unknown as string)).rejects.toThrow(/key must be a string, got number/);
    expect(server.cli('EXISTS', key)).toBe('0');
  });
});

describe('hash helpers', () => {
  it('hSet takes a field and value or an object, and answers the number of new fields', async () => {
    const client = connection.getClient();
    const key = `${p}hash`;
    expect(await client.hSet(key, 'name', 'Ada')).toBe(1);
    expect(await client.hSet(key, 'name', 'Ada Lovelace')).toBe(0);
    expect(await client.hSet(key, { age: 36, city: 'London', name: 'Ada' })).toBe(2);
    expect(server.cli('HGET', key, 'name')).toBe('Ada');
    expect(server.cli('HGET', key, 'age')).toBe('36');
    expect(server.cli('HLEN', key)).toBe('3');
  });

  it('hGet, hGetAll, hExists, hIncrBy and hDel read and change what Redis holds', async () => {
    const client = connection.getClient();
    const key = `${p}profile`;
    server.cli('HSET', key, 'name', 'Grace', 'posts', '3', '__proto__', 'field', 'constructor', 'x');
    expect(await client.hGet(key, 'name')).toBe('Grace');
    expect(await client.hGet(key, 'nope')).toBeNull();
    expect(await client.hGet(`${p}missing`, 'name')).toBeNull();

    const hash = await client.hGetAll(key);
    expect(hash).toEqual({ name: 'Grace', posts: '3', ['__proto__']: 'field', constructor: 'x' });
    expect(Object.keys(hash).sort()).toEqual(['__proto__', 'constructor', 'name', 'posts']);
    expect(Object.getOwnPropertyDescriptor(hash, '__proto__')?.value).toBe('field');
    expect(await client.hGetAll(`${p}missing`)).toEqual({});

    expect(await client.hExists(key, 'name')).toBe(true);
    expect(await client.hExists(key, 'nope')).toBe(false);
    expect(await client.hExists(`${p}missing`, 'name')).toBe(false);

    expect(await client.hIncrBy(key, 'posts', 5)).toBe(8);
    expect(await client.hIncrBy(key, 'likes', -2)).toBe(-2);
    expect(server.cli('HGET', key, 'posts')).toBe('8');
    expect(server.cli('HGET', key, 'likes')).toBe('-2');

    expect(await client.hDel(key, 'likes')).toBe(1);
    expect(await client.hDel(key, ['posts', '__proto__', 'nope'])).toBe(2);
    expect(sortedLines(server.cli('HKEYS', key))).toEqual(['constructor', 'name']);
  });

  it('answers 0 for an empty object or list without a round trip', async () => {
    const client = connection.getClient();
    const key = `${p}empty-hash`;
    const before = counts('hset', 'hdel');
    expect(await client.hSet(key, {})).toBe(0);
    expect(await client.hDel(key, [])).toBe(0);
    expect(counts('hset', 'hdel')).toEqual(before);
    // The counter sees a call that is sent.
    expect(await client.hDel(key, ['f'])).toBe(0);
    expect(counts('hset', 'hdel')).toEqual([before[0], before[1] + 1]);
    expect(server.cli('EXISTS', key)).toBe('0');
  });

  it('refuses bad arguments with errors naming them', async () => {
    const client = connection.getClient();
    const key = `${p}bad-hash`;
    await expect(client.hSet(1 as unknown as string, 'f', 'v')).rejects.toThrow(/key must be a string, got number/);
    await expect(client.hSet(key, 'f', undefined as unknown as string)).rejects.toThrow(TypeError);
    await expect(client.hSet(key, 'f', undefined as unknown as string)).rejects.toThrow(/value must be a string/);
    await expect(client.hSet(key, 'f', Number.NaN)).rejects.toThrow(RangeError);
    await expect(client.hSet(key, { a: 'ok', b: null as unknown as string })).rejects.toThrow(/fields\.b must be/);
    await expect(client.hSet(key, { n: Number.POSITIVE_INFINITY })).rejects.toThrow(/fields\.n must be a finite/);
    await expect(client.hSet(key, ['f', 'v'] as unknown as Record<string, string>)).rejects.toThrow(
      /field must be a string or an object/,
    );
    await expect(client.hSet(key, 1 as unknown as string, 'v')).rejects.toThrow(TypeError);
    await expect(client.hGet(key, 1 as unknown as string)).rejects.toThrow(/field must be a string, got number/);
    await expect(client.hGetAll(null as unknown as string)).rejects.toThrow(/key must be a string, got null/);
    await expect(client.hDel(key, [1] as unknown as string[])).rejects.toThrow(/fields\[0\] must be a string/);
    await expect(client.hDel(1 as unknown as string, [])).rejects.toThrow(/key must be a string/);
    await expect(client.hExists(key, {} as unknown as string)).rejects.toThrow(/field must be a string, got object/);
    await expect(client.hIncrBy(key, 'n', 0.5)).rejects.toThrow(RangeError);
    await expect(client.hIncrBy(key, 'n', 0.5)).rejects.toThrow(/increment must be a safe integer/);
    expect(server.cli('EXISTS', key)).toBe('0');
  });
});

describe('set helpers', () => {
  it('sAdd, sRem, sMembers, sIsMember and sCard answer node-redis shapes and change the set', async () => {
    const client = connection.getClient();
    const key = `${p}followers`;
    expect(await client.sAdd(key, 'u1')).toBe(1);
    expect(await client.sAdd(key, ['u1', 'u2', 'u3'])).toBe(2);
    expect(sortedLines(server.cli('SMEMBERS', key))).toEqual(['u1', 'u2', 'u3']);
    expect((await client.sMembers(key)).sort()).toEqual(['u1', 'u2', 'u3']);
    expect(await client.sMembers(`${p}missing`)).toEqual([]);
    expect(await client.sIsMember(key, 'u2')).toBe(true);
    expect(await client.sIsMember(key, 'u9')).toBe(false);
    expect(await client.sCard(key)).toBe(3);
    expect(await client.sCard(`${p}missing`)).toBe(0);
    expect(await client.sRem(key, ['u1', 'u9'])).toBe(1);
    expect(await client.sRem(key, 'u2')).toBe(1);
    expect(server.cli('SMEMBERS', key)).toBe('u3');
  });

  it('answers 0 for an empty list without a round trip', async () => {
    const client = connection.getClient();
    const key = `${p}empty-set`;
    const before = counts('sadd', 'srem');
    expect(await client.sAdd(key, [])).toBe(0);
    expect(await client.sRem(key, [])).toBe(0);
    expect(counts('sadd', 'srem')).toEqual(before);
    // The counter sees a call that is sent.
    expect(await client.sRem(key, ['m'])).toBe(0);
    expect(counts('sadd', 'srem')).toEqual([before[0], before[1] + 1]);
    expect(server.cli('EXISTS', key)).toBe('0');
  });

  it('refuses bad arguments with errors naming them', async () => {
    const client = connection.getClient();
    const key = `${p}bad-set`;
    await expect(client.sAdd(key, 5 as unknown as string)).rejects.toThrow(/members must be an array of strings/);
    await expect(client.sAdd(key, ['a', 2] as unknown as string[])).rejects.toThrow(/members\[1\] must be a string/);
    await expect(client.sRem(undefined as unknown as string, 'a')).rejects.toThrow(/key must be a string/);
    await expect(client.sIsMember(key, null as unknown as string)).rejects.toThrow(/member must be a string, got null/);
    await expect(client.sMembers([] as unknown as string)).rejects.toThrow(TypeError);
    await expect(client.sCard(1 as unknown as string)).rejects.toThrow(/key must be a string/);
    expect(server.cli('EXISTS', key)).toBe('0');
  });
});

describe('sorted set helpers', () => {
  it('zAdd takes one member or a list and answers the number added; zScore, zIncrBy and zCard follow', async () => {
    const client = connection.getClient();
    const key = `${p}scores`;
    expect(await client.zAdd(key, { score: 1, value: 'a' })).toBe(1);
    expect(
      await client.zAdd(key, [
        { score: 2.5, value: 'b' },
        { score: 3, value: 'c' },
        { score: 10, value: 'a' },
      ]),
    ).toBe(2);
    expect(server.cli('ZSCORE', key, 'a')).toBe('10');
    expect(server.cli('ZSCORE', key, 'b')).toBe('2.5');
    expect(await client.zScore(key, 'b')).toBe(2.5);
    expect(await client.zScore(key, 'nope')).toBeNull();
    expect(await client.zScore(`${p}missing`, 'a')).toBeNull();
    expect(await client.zIncrBy(key, 0.25, 'b')).toBe(2.75);
    expect(await client.zIncrBy(key, -1, 'new')).toBe(-1);
    expect(server.cli('ZSCORE', key, 'b')).toBe('2.75');
    expect(server.cli('ZSCORE', key, 'new')).toBe('-1');
    expect(await client.zCard(key)).toBe(4);
    expect(await client.zCard(`${p}missing`)).toBe(0);
  });

  it('zRange and zRangeWithScores read by rank, with infinite scores as ±Infinity', async () => {
    const client = connection.getClient();
    const key = `${p}ranked`;
    expect(
      await client.zAdd(key, [
        { score: Number.POSITIVE_INFINITY, value: 'top' },
        { score: Number.NEGATIVE_INFINITY, value: 'bottom' },
        { score: 1.5, value: 'mid' },
        { score: 2, value: 'two' },
      ]),
    ).toBe(4);
    expect(server.cli('ZSCORE', key, 'top')).toBe('inf');
    expect(server.cli('ZRANGE', key, '0', '-1').split('\n')).toEqual(['bottom', 'mid', 'two', 'top']);
    expect(await client.zRange(key, 0, -1)).toEqual(['bottom', 'mid', 'two', 'top']);
    expect(await client.zRange(key, 1, 2)).toEqual(['mid', 'two']);
    expect(await client.zRange(`${p}missing`, 0, -1)).toEqual([]);
    expect(await client.zRangeWithScores(key, 0, -1)).toEqual([
      { value: 'bottom', score: Number.NEGATIVE_INFINITY },
      { value: 'mid', score: 1.5 },
      { value: 'two', score: 2 },
      { value: 'top', score: Number.POSITIVE_INFINITY },
    ]);
    expect(await client.zRangeWithScores(key, -1, -1)).toEqual([{ value: 'top', score: Number.POSITIVE_INFINITY }]);
    expect(await client.zRangeWithScores(`${p}missing`, 0, -1)).toEqual([]);
    expect(await client.zScore(key, 'bottom')).toBe(Number.NEGATIVE_INFINITY);
    expect(await client.zIncrBy(key, 1, 'top')).toBe(Number.POSITIVE_INFINITY);

    expect(await client.zRem(key, 'mid')).toBe(1);
    expect(await client.zRem(key, ['two', 'nope'])).toBe(1);
    expect(server.cli('ZRANGE', key, '0', '-1').split('\n')).toEqual(['bottom', 'top']);
  });

  it('answers 0 for an empty list without a round trip', async () => {
    const client = connection.getClient();
    const key = `${p}empty-zset`;
    const before = counts('zadd', 'zrem');
    expect(await client.zAdd(key, [])).toBe(0);
    expect(await client.zRem(key, [])).toBe(0);
    expect(counts('zadd', 'zrem')).toEqual(before);
    // The counter sees a call that is sent.
    expect(await client.zRem(key, ['m'])).toBe(0);
    expect(counts('zadd', 'zrem')).toEqual([before[0], before[1] + 1]);
    expect(server.cli('EXISTS', key)).toBe('0');
  });

  it('refuses bad arguments with errors naming them', async () => {
    const client = connection.getClient();
    const key = `${p}bad-zset`;
    await expect(client.zAdd(key, { score: Number.NaN, value: 'a' })).rejects.toThrow(RangeError);
    await expect(client.zAdd(key, { score: Number.NaN, value: 'a' })).rejects.toThrow(/members\.score/);
    await expect(
      client.zAdd(key, { score: '1', value: 'a' } as unknown as { score: number; value: string }),
    ).rejects.toThrow(/members\.score must be a number, got string/);
    await expect(
      client.zAdd(key, [
        { score: 1, value: 'a' },
        { score: 2, value: 3 as unknown as string },
      ]),
    ).rejects.toThrow(/members\[1\]\.value must be a string, got number/);
    await expect(client.zAdd(key, ['a'] as unknown as { score: number; value: string }[])).rejects.toThrow(
      /members\[0\] must be an object/,
    );
    await expect(client.zAdd(key, null as unknown as { score: number; value: string })).rejects.toThrow(
      /members must be an object/,
    );
    await expect(client.zRem(key, [null] as unknown as string[])).rejects.toThrow(/members\[0\] must be a string/);
    await expect(client.zScore(key, 1 as unknown as string)).rejects.toThrow(/member must be a string/);
    await expect(client.zIncrBy(key, Number.NaN, 'a')).rejects.toThrow(RangeError);
    await expect(client.zIncrBy(key, '1' as unknown as number, 'a')).rejects.toThrow(/increment must be a number/);
    await expect(client.zRange(key, 0.5, 1)).rejects.toThrow(RangeError);
    await expect(client.zRange(key, 0.5, 1)).rejects.toThrow(/start must be a safe integer/);
    await expect(client.zRangeWithScores(key, 0, '-1' as unknown as number)).rejects.toThrow(
      /stop must be an integer, got string/,
    );
    await expect(client.zCard(undefined as unknown as string)).rejects.toThrow(/key must be a string/);
    expect(server.cli('EXISTS', key)).toBe('0');
  });
});

describe('scanIterator', () => {
  it('yields every matching key once per scan, by pattern and type, in pages of COUNT', async () => {
    const client = connection.getClient();
    const base = `${p}scan:`;
    for (let i = 0; i < 250; i++) await client.set(`${base}s${i}`, 'v');
    for (let i = 0; i < 30; i++) await client.hSet(`${base}h${i}`, 'f', 'v');
    const seen: string[] = [];
    for await (const key of client.scanIterator({ MATCH: `${base}*`, COUNT: 20 })) seen.push(key);
    expect(new Set(seen).size).toBe(280);
    const hashes: string[] = [];
    for await (const key of client.scanIterator({ MATCH: `${base}*`, TYPE: 'hash' })) hashes.push(key);
    expect(hashes.sort()).toEqual(Array.from({ length: 30 }, (_, i) => `${base}h${i}`).sort());
    const none: string[] = [];
    for await (const key of client.scanIterator({ MATCH: `${base}nothing*` })) none.push(key);
    expect(none).toEqual([]);
  });

  it('refuses options it cannot use, naming them', async () => {
    const client = connection.getClient();
    await expect(client.scanIterator({ COUNT: 0 }).next()).rejects.toThrow(
      new RangeError('options.COUNT must be a positive integer, got 0'),
    );
    await expect(client.scanIterator({ MATCH: 5 as unknown as string }).next()).rejects.toThrow(/options\.MATCH/);
  });
});

describe('multi() and pipeline()', () => {
  it('queue the helpers whose replies need no conversion', async () => {
    const client = connection.getClient();
    const h = `${p}tx-hash`;
    const s = `${p}tx-set`;
    const z = `${p}tx-zset`;
    const n = `${p}tx-counter`;
    const replies = await client
      .multi()
      .incrBy(n, 5)
      .decr(n)
      .decrBy(n, 2)
      .hSet(h, { a: '1', b: 2 })
      .hSet(h, 'c', 'x')
      .hGet(h, 'b')
      .hIncrBy(h, 'a', 10)
      .hDel(h, ['c'])
      .sAdd(s, ['x', 'y'])
      .sRem(s, 'y')
      .sMembers(s)
      .sCard(s)
      .zAdd(z, [
        { score: 1, value: 'p' },
        { score: 2, value: 'q' },
      ])
      .zRem(z, 'p')
      .zRange(z, 0, -1)
      .exec();
    expect(replies).toEqual([5, 4, 2, 2, 1, '2', 11, 1, 2, 1, ['x'], 1, 2, 1, ['q']]);
    expect(server.cli('HGET', h, 'a')).toBe('11');
    expect(await client.pipeline().hGet(h, 'a').sCard(s).exec()).toEqual(['11', 1]);
  });

  it('validate arguments when a command is queued', () => {
    const multi = connection.getClient().multi();
    expect(() => multi.incrBy(`${p}x`, 1.5)).toThrow(/increment must be a safe integer/);
    expect(() => multi.hSet(`${p}x`, { f: Number.NaN })).toThrow(RangeError);
    expect(() => multi.sAdd(`${p}x`, [1] as unknown as string[])).toThrow(/members\[0\] must be a string/);
    expect(() => multi.zRange(`${p}x`, 0, 0.5)).toThrow(/stop must be a safe integer/);
  });
});

describe('on a Redis Cluster', () => {
  let cluster: Cluster;
  let clustered: RedisConnection;

  beforeAll(async () => {
    cluster = await startCluster();
    clustered = new RedisConnection({ cluster: { nodes: cluster.urls } });
    await clustered.connect();
  }, 60_000);

  afterAll(async () => {
    await clustered?.close();
    await cluster?.stop();
  });

  it('scanIterator walks every master', async () => {
    const client = clustered.getClient();
    const base = `${uniquePrefix('client-commands')}cscan:`;
    const keys = Array.from({ length: 60 }, (_, i) => `${base}${i}`);
    for (const key of keys) await client.set(key, 'v');
    const masters = new Set(await Promise.all(keys.map(async (key) => (await cluster.nodeForKey(key)).port)));
    expect(masters.size).toBe(3);
    const seen = new Set<string>();
    for await (const key of client.scanIterator({ MATCH: `${base}*`, COUNT: 7 })) seen.add(key);
    expect([...seen].sort()).toEqual([...keys].sort());
  });

  it('routes each helper by its key to the master serving the slot', async () => {
    const client = clustered.getClient();
    const keys = Array.from({ length: 12 }, (_, i) => `${uniquePrefix('client-commands')}feed:${i}`);
    const masters = new Set<number>();
    for (const [i, key] of keys.entries()) {
      expect(await client.zAdd(key, [{ score: i, value: `post${i}` }])).toBe(1);
      expect(await client.hSet(`{${key}}:meta`, { count: i })).toBe(1);
      const node = await cluster.nodeForKey(key);
      masters.add(node.port);
      expect(node.cli('ZSCORE', key, `post${i}`)).toBe(String(i));
      expect(await client.zRangeWithScores(key, 0, -1)).toEqual([{ value: `post${i}`, score: i }]);
      expect(await client.hGetAll(`{${key}}:meta`)).toEqual({ count: String(i) });
    }
    // Twelve random slots over three masters: more than one master served them.
    expect(masters.size).toBeGreaterThan(1);
  }, 60_000);
});
