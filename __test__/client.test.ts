import { RedisConnection } from '..';
import { testRedis, TestServer, uniquePrefix } from './helpers/redis';

let server: TestServer;
let connection: RedisConnection;
const p = uniquePrefix('client');

beforeAll(async () => {
  server = await testRedis();
  connection = new RedisConnection({ url: server.url });
  await connection.connect();
});

afterAll(async () => {
  await connection.close();
  await server.stop();
});

describe('getClient()', () => {
  it('runs any command through sendCommand with node-redis reply shapes', async () => {
    const client = connection.getClient();
    expect(await client.sendCommand(['SET', `${p}a`, '1'])).toBe('OK');
    expect(await client.sendCommand(['INCRBY', `${p}a`, '41'])).toBe(42);
    expect(await client.sendCommand(['GET', `${p}nope`])).toBeNull();
    expect(await client.sendCommand(['HSET', `${p}h`, 'f1', 'v1', 'f2', 'v2'])).toBe(2);
    expect(await client.sendCommand(['HGETALL', `${p}h`])).toEqual(['f1', 'v1', 'f2', 'v2']);
    expect(await client.sendCommand(['ZADD', `${p}z`, '1.5', 'm'])).toBe(1);
    expect(await client.sendCommand(['ZSCORE', `${p}z`, 'm'])).toBe('1.5');
    await expect(client.sendCommand(['NOSUCHCOMMAND'])).rejects.toThrow(/unknown command/i);
    await expect(client.sendCommand('GET' as unknown as string[])).rejects.toThrow(TypeError);
    await expect(client.sendCommand([])).rejects.toThrow(/command name/);
  });

  it('implements the commands the seed calls', async () => {
    const client = connection.getClient();
    expect(await client.set(`${p}s`, 'v')).toBe('OK');
    expect(await client.get(`${p}s`)).toBe('v');
    expect(await client.setEx(`${p}se`, 100, 'v2')).toBe('OK');
    expect(await client.ttl(`${p}se`)).toBeGreaterThan(90);
    expect(await client.exists(`${p}s`)).toBe(1);
    expect(await client.exists([`${p}s`, `${p}se`, `${p}none`])).toBe(2);
    expect(await client.expire(`${p}s`, 30)).toBe(true);
    expect(await client.expire(`${p}none`, 30)).toBe(false);
    expect(await client.mSet({ [`${p}m1`]: 'a', [`${p}m2`]: 'b' })).toBe('OK');
    expect(await client.mGet([`${p}m1`, `${p}none`, `${p}m2`])).toEqual(['a', null, 'b']);
    expect(await client.del([`${p}m1`, `${p}m2`])).toBe(2);
    expect(await client.del(`${p}s`)).toBe(1);
    expect(await client.publish(`${p}chan`, 'hello')).toBe(0);
    expect(await client.set(`${p}nx`, '1', { NX: true, EX: 10 })).toBe('OK');
    expect(await client.set(`${p}nx`, '2', { NX: true })).toBeNull();
  });

  it('sends un-awaited calls in call order, as node-redis does', async () => {
    const client = connection.getClient();
    const counter = `${p}ordered`;
    const replies = await Promise.all(Array.from({ length: 5000 }, () => client.incr(counter)));
    expect(replies).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
    client.set(`${p}rw`, 'first');
    const read = client.get(`${p}rw`);
    client.del(`${p}rw`);
    const gone = client.exists(`${p}rw`);
    expect(await read).toBe('first');
    expect(await gone).toBe(0);
  });

  it('chains commands in multi() and returns every reply from exec()', async () => {
    const client = connection.getClient();
    const replies = await client
      .multi()
      .set(`${p}tx`, '1')
      .incr(`${p}tx`)
      .expire(`${p}tx`, 60)
      .zAdd(`${p}tz`, { score: 1, value: 'a' })
      .zCard(`${p}tz`)
      .ttl(`${p}tx`)
      .exec();
    expect(replies.slice(0, 5)).toEqual(['OK', 2, 1, 1, 1]);
    expect(replies[5]).toBeGreaterThan(50);
  });

  it('returns a failed command inside exec() as an Error in place', async () => {
    const client = connection.getClient();
    await client.set(`${p}str`, 'x');
    const replies = await client.multi().get(`${p}str`).addCommand(['HSET', `${p}str`, 'f', 'v']).get(`${p}str`).exec();
    expect(replies[0]).toBe('x');
    expect(replies[1]).toBeInstanceOf(Error);
    expect((replies[1] as Error).message).toMatch(/WRONGTYPE/);
    expect(replies[2]).toBe('x');
  });
});
