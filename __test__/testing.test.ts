/**
 * `redis-layer/testing`, the one redis-server spawner the project's own harness, bench and demo
 * use: throwaway servers, the finder a newcomer's first command relies on, the refusal to touch
 * servers it did not start. The Jest globalSetup/globalTeardown pair is run from the packed
 * package in package.test.ts.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { RedisConnection } from '..';
import { findRedis, freePort, startTestRedis, type TestRedis, useRedis } from '../dist/testing';
import { canConnect } from '../dist/testing/process';

const root = path.resolve(__dirname, '..');
const noRedisServer = { PATH: '/nonexistent' };

/** A plain TCP listener standing in for "a Redis already running on this port". */
async function occupiedPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('startTestRedis', () => {
  it('runs a private server the library connects to, with a password, and removes it on stop', async () => {
    const server = await startTestRedis({ password: 's3cret/+' });
    try {
      expect(server).toMatchObject({ owned: true, source: 'spawned', host: '127.0.0.1' });
      expect(server.url).toBe(`redis://:${encodeURIComponent('s3cret/+')}@127.0.0.1:${server.port}`);
      expect(server.pid).toBeGreaterThan(0);
      const connection = new RedisConnection({ url: server.url });
      await connection.connect();
      await connection.getClient().set('k', 'v');
      expect(await connection.getClient().get('k')).toBe('v');
      await connection.close();
      expect(server.cli('CONFIG', 'GET', 'save')).toBe('save');
      expect(server.cli('CONFIG', 'GET', 'appendonly')).toBe('appendonly\nno');
      const dir = server.cli('CONFIG', 'GET', 'dir').split('\n')[1];
      expect(fs.existsSync(dir)).toBe(true);
      await server.stop();
      expect(await canConnect(server.port)).toBe(false);
      expect(fs.existsSync(dir)).toBe(false);
    } finally {
      await server.stop();
    }
  });

  it('kills and restarts on the same port; flushAll empties it', async () => {
    const server = await startTestRedis({ args: ['--maxmemory', '10mb'] });
    try {
      expect(server.cli('CONFIG', 'GET', 'maxmemory')).toBe('maxmemory\n10485760');
      const firstPid = server.pid;
      server.cli('SET', 'a', '1');
      server.flushAll();
      expect(server.cli('DBSIZE')).toBe('0');
      await server.kill();
      expect(await canConnect(server.port)).toBe(false);
      await server.restart();
      expect(server.cli('PING')).toBe('PONG');
      expect(server.pid).not.toBe(firstPid);
    } finally {
      await server.stop();
    }
  });

  it('says what to install when redis-server is not on PATH', async () => {
    await expect(startTestRedis({ env: noRedisServer })).rejects.toMatchObject({
      code: 'ERR_REDIS_SERVER_NOT_FOUND',
      message: expect.stringMatching(
        /redis-server was not found on PATH: install Redis .*apt-get install redis-server.*brew install redis/,
      ),
    });
  });

  it("rejects with the server's own log line when redis-server refuses its arguments", async () => {
    await expect(startTestRedis({ args: ['--no-such-directive', 'x'] })).rejects.toThrow(
      /redis-server on port \d+ exited[\s\S]*no-such-directive/i,
    );
  });
});

describe('useRedis', () => {
  it('uses a server it did not start and refuses to flush, kill or restart it', async () => {
    const owner = await startTestRedis();
    try {
      owner.cli('SET', 'precious', 'data');
      const borrowed = useRedis(`${owner.url}/0`);
      expect(borrowed).toMatchObject({ owned: false, source: 'REDIS_URL', port: owner.port, pid: -1 });
      expect(borrowed.cli('GET', 'precious')).toBe('data');
      expect(() => borrowed.flushAll()).toThrow('refuses to flush a server it did not start');
      await expect(borrowed.kill()).rejects.toThrow('refuses to kill a server it did not start');
      await expect(borrowed.restart()).rejects.toThrow('refuses to restart a server it did not start');
      await borrowed.stop();
      expect(owner.cli('GET', 'precious')).toBe('data');
    } finally {
      await owner.stop();
    }
  });

  it('rejects a URL that is not redis:// or rediss://', () => {
    expect(() => useRedis('http://127.0.0.1:6379')).toThrow(TypeError);
    expect(() => useRedis('not a url')).toThrow('url must be a redis:// or rediss:// URL');
  });
});

describe('findRedis', () => {
  const found: TestRedis[] = [];
  afterEach(async () => {
    for (const server of found.splice(0)) await server.stop();
  });

  it('takes REDIS_URL first, without starting anything', async () => {
    const server = await findRedis({ env: { ...noRedisServer, REDIS_URL: 'redis://127.0.0.1:1' } });
    found.push(server);
    expect(server).toMatchObject({ url: 'redis://127.0.0.1:1', owned: false, source: 'REDIS_URL' });
  });

  it('starts a throwaway redis-server when one is installed', async () => {
    const local = await occupiedPort();
    try {
      const server = await findRedis({ env: { PATH: process.env.PATH }, localPort: local.port });
      found.push(server);
      expect(server).toMatchObject({ owned: true, source: 'spawned' });
      expect(server.cli('PING')).toBe('PONG');
    } finally {
      await local.close();
    }
  });

  it('falls back to a Redis already listening locally, which it will not flush', async () => {
    const local = await occupiedPort();
    try {
      const server = await findRedis({ env: noRedisServer, localPort: local.port });
      expect(server).toMatchObject({ url: `redis://127.0.0.1:${local.port}`, owned: false, source: 'local' });
      expect(() => server.flushAll()).toThrow('refuses to flush');
    } finally {
      await local.close();
    }
  });

  it('ends with one sentence saying what to install or set when there is no Redis at all', async () => {
    const port = await freePort();
    const error = await findRedis({ env: noRedisServer, localPort: port }).catch((e: Error) => e);
    expect(error).toMatchObject({ code: 'ERR_NO_REDIS' });
    expect((error as Error).message).toBe(
      `No Redis found: REDIS_URL is not set, redis-server is not on PATH and nothing listens on 127.0.0.1:${port}; install Redis (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL to a server to use.`,
    );
  });
});

describe('the demo', () => {
  it('runs against a throwaway server it starts and stops itself, and exits on its own', () => {
    const env = { ...process.env };
    delete env.REDIS_URL;
    const output = execFileSync(process.execPath, [path.join(root, 'demo', 'demo.js')], {
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(output).toMatch(/^redis-layer demo against a throwaway redis-server 127\.0\.0\.1:\d+/);
    expect(output).toContain('done: connections closed');
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(output)?.[1]);
    return expect(canConnect(port)).resolves.toBe(false);
  });
  it('without redis-server on PATH uses a Redis on 127.0.0.1:6379, or says in one sentence what to install', async () => {
    const env: Record<string, string | undefined> = { HOME: process.env.HOME, PATH: '/nonexistent' };
    const local = await canConnect(6379);
    let output = '';
    let failed = false;
    try {
      output = execFileSync(process.execPath, [path.join(root, 'demo', 'demo.js')], {
        env,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 60_000,
      });
    } catch (error) {
      failed = true;
      output = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`;
    }
    if (local) {
      expect(failed).toBe(false);
      expect(output).toMatch(/^redis-layer demo against the Redis already running at 127\.0\.0\.1:6379/);
    } else {
      expect(failed).toBe(true);
      expect(output.trim()).toBe(
        'No Redis found: REDIS_URL is not set, redis-server is not on PATH and nothing listens on 127.0.0.1:6379; install Redis (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL to a server to use.',
      );
    }
  });
});
