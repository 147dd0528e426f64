import Redis from 'ioredis';
import { RedisConnection, RedisLayerError } from '..';
import { testRedis, type TestServer, uniquePrefix } from './helpers/redis';

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
    const replies = await client
      .multi()
      .get(`${p}str`)
      .addCommand(['HSET', `${p}str`, 'f', 'v'])
      .get(`${p}str`)
      .exec();
    expect(replies[0]).toBe('x');
    expect(replies[1]).toBeInstanceOf(Error);
    expect((replies[1] as Error).message).toMatch(/WRONGTYPE/);
    expect(replies[2]).toBe('x');
  });
});

describe('binary arguments', () => {
  let reader: Redis;
  beforeAll(() => {
    reader = new Redis(server.url, { lazyConnect: true });
  });
  afterAll(() => reader.disconnect());

  it('sends a Buffer or Uint8Array argument as its bytes, keys and values alike, in pipelines too', async () => {
    const client = connection.getClient();
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(await client.sendCommand(['SET', `${p}bin`, every])).toBe('OK');
    expect(await reader.getBuffer(`${p}bin`)).toEqual(every);

    const key = Buffer.concat([Buffer.from(p), Buffer.from([0xff, 0x00, 0x3a])]);
    const window = Buffer.from([9, 9, 1, 2, 3, 9]).subarray(2, 5);
    expect(await client.sendCommand(['SET', key, new Uint8Array([7, 0, 7])])).toBe('OK');
    expect(await reader.getBuffer(key)).toEqual(Buffer.from([7, 0, 7]));
    expect(await client.sendCommand(['APPEND', key, window])).toBe(6);
    expect(await reader.getBuffer(key)).toEqual(Buffer.from([7, 0, 7, 1, 2, 3]));

    const big = Buffer.alloc(1_000_000, 0xab);
    const empty = Buffer.alloc(0);
    const replies = await client
      .multi()
      .addCommand(['SET', `${p}big`, big])
      .addCommand([Buffer.from('SET'), `${p}empty`, empty])
      .exec();
    expect(replies).toEqual(['OK', 'OK']);
    expect(await reader.getBuffer(`${p}big`)).toEqual(big);
    expect(await reader.strlen(`${p}empty`)).toBe(0);
  });

  it('refuses the unsafe commands however they are spelled, and arguments that are neither', async () => {
    const client = connection.getClient();
    await expect(client.sendCommand([Buffer.from('multi')])).rejects.toMatchObject({ code: 'ERR_UNSAFE_COMMAND' });
    await expect(client.sendCommand(['SET', `${p}x`, { not: 'bytes' } as unknown as string])).rejects.toThrow(
      new TypeError('args[2] must be a string, a finite number or a Buffer, got object'),
    );
    await expect(client.sendCommand(['SET', `${p}x`, new Uint16Array(2) as unknown as string])).rejects.toThrow(
      TypeError,
    );
  });
});

describe('commands that would change the shared socket', () => {
  // Each with arguments that would succeed if sent, so a missing refusal shows as a broken socket.
  const refused: Array<[string, string[], RegExp]> = [
    ['MULTI', ['multi'], /multi\(\)/],
    ['EXEC', ['exec'], /multi\(\)/],
    ['DISCARD', ['discard'], /multi\(\)/],
    ['WATCH', ['watch', `${p}w`], /multi\(\)/],
    ['UNWATCH', ['unwatch'], /multi\(\)/],
    ['SELECT', ['select', '1'], /`database` option/],
    ['SUBSCRIBE', ['subscribe', `${p}ch`], /MessageBroker/],
    ['PSUBSCRIBE', ['psubscribe', `${p}*`], /MessageBroker/],
    ['SSUBSCRIBE', ['ssubscribe', `${p}ch`], /MessageBroker/],
    ['UNSUBSCRIBE', ['unsubscribe'], /MessageBroker/],
    ['PUNSUBSCRIBE', ['punsubscribe'], /MessageBroker/],
    ['SUNSUBSCRIBE', ['sunsubscribe'], /MessageBroker/],
    ['MONITOR', ['monitor'], /redis-cli/],
    ['RESET', ['reset'], /close\(\)/],
    ['QUIT', ['quit'], /close\(\)/],
    ['HELLO', ['hello', '2'], /password/],
    ['AUTH', ['auth', 'default', 'nopass'], /password/],
    ['READONLY', ['readonly'], /cluster/],
    ['READWRITE', ['readwrite'], /cluster/],
    ['ASKING', ['asking'], /cluster/],
    ['SYNC', ['sync'], /replication/],
    ['PSYNC', ['psync', '?', '-1'], /replication/],
    ['REPLCONF', ['replconf', 'listening-port', '1'], /replication/],
    ['CLIENT REPLY', ['client', 'reply', 'off'], /every service/],
    ['CLIENT TRACKING', ['client', 'tracking', 'on'], /every service/],
    ['CLIENT CACHING', ['client', 'caching', 'yes'], /every service/],
    ['CLIENT SETNAME', ['client', 'setname', 'mine'], /every service/],
    ['CLIENT SETINFO', ['client', 'setinfo', 'lib-name', 'mine'], /every service/],
    ['CLIENT NO-EVICT', ['client', 'no-evict', 'on'], /every service/],
    ['CLIENT NO-TOUCH', ['client', 'no-touch', 'on'], /every service/],
  ];
  /** mUlTi, cLiEnT rEpLy: every other letter upper case. */
  const mixedCase = (args: string[]) =>
    args.map((arg, i) => (i < 2 ? [...arg].map((c, j) => (j % 2 ? c.toUpperCase() : c)).join('') : arg));
  const unsafe = (command: string, advice: RegExp) =>
    expect.objectContaining({
      name: 'RedisLayerError',
      code: 'ERR_UNSAFE_COMMAND',
      message: expect.stringMatching(new RegExp(`^${command} .*${advice.source}`)),
    });

  /** The socket still answers as before: values read back, db 0, no transaction, subscription, name or tracking. */
  async function expectSocketIntact(conn: RedisConnection, key: string) {
    const client = conn.getClient();
    client.set(key, 'after');
    expect(await client.get(key)).toBe('after');
    expect(server.cli('GET', key)).toBe('after');
    const info = String(await client.sendCommand(['CLIENT', 'INFO']));
    expect(info).toMatch(/ db=0 /);
    expect(info).toMatch(/ multi=-1 /);
    expect(info).toMatch(/ sub=0 psub=0 /);
    expect(info).toMatch(/ name= /);
    expect(info).toMatch(/ flags=N /);
  }

  it.each(refused)(
    'refuses %s via sendCommand, in lower and mixed case, and the socket keeps working',
    async (command, args, advice) => {
      const conn = new RedisConnection({ url: server.url, commandTimeoutMs: 2000 });
      await conn.connect();
      try {
        const client = conn.getClient();
        await expect(client.sendCommand(args)).rejects.toEqual(unsafe(command, advice));
        await expect(client.sendCommand(mixedCase(args))).rejects.toEqual(unsafe(command, advice));
        await expect(client.sendCommand(args.map((a) => a.toUpperCase()))).rejects.toEqual(unsafe(command, advice));
        await expectSocketIntact(conn, `${p}intact:${command}`);
      } finally {
        await conn.close();
      }
    },
  );

  it.each(refused)('refuses %s in multi() and pipeline() addCommand', async (command, args, advice) => {
    const conn = new RedisConnection({ url: server.url, commandTimeoutMs: 2000 });
    await conn.connect();
    try {
      const client = conn.getClient();
      expect(() => client.multi().addCommand(args)).toThrow(unsafe(command, advice));
      expect(() => client.pipeline().addCommand(mixedCase(args))).toThrow(unsafe(command, advice));
      // A batch that held one would have run the others around it; here the batch is untouched.
      const batch = client.multi().set(`${p}b:${command}`, 'v');
      expect(() => batch.addCommand(args)).toThrow(RedisLayerError);
      expect(await batch.get(`${p}b:${command}`).exec()).toEqual(['OK', 'v']);
      await expectSocketIntact(conn, `${p}intact-multi:${command}`);
    } finally {
      await conn.close();
    }
  });

  it('lets through the same words as arguments, and the CLIENT subcommands that only read', async () => {
    const client = connection.getClient();
    expect(await client.sendCommand(['SET', `${p}multi`, 'select'])).toBe('OK');
    expect(await client.sendCommand(['GET', `${p}multi`])).toBe('select');
    expect(await client.sendCommand(['PUBLISH', 'subscribe', 'quit'])).toBe(0);
    expect(typeof (await client.sendCommand(['CLIENT', 'ID']))).toBe('number');
    expect(await client.sendCommand(['client', 'getname'])).toBeNull();
    expect(await client.multi().addCommand(['ECHO', 'exec']).addCommand(['client', 'info']).exec()).toEqual([
      'exec',
      expect.stringMatching(/ db=0 /),
    ]);
  });
});
