/**
 * `redis-layer/testing`: throwaway redis-servers for tests, demos and benchmarks.
 *
 * `startTestRedis()` runs a private redis-server on a free loopback port with nothing written to
 * disk; `findRedis()` finds a server the way a newcomer expects (REDIS_URL, else a throwaway
 * server, else a Redis already on 127.0.0.1:6379). Only a server the helper started can be
 * flushed, stopped or restarted through it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canConnect, INSTALL_HINT, LOOPBACK, RedisServerProcess, THROWAWAY_ARGS, freePort } from './process';

export { freePort, freePorts, RedisServerProcess, waitUntil } from './process';
export type { RedisProcessOptions } from './process';

/** A redis-server a test talks to. */
export interface TestRedis {
  /** `redis://[:password@]host:port`, ready for `new RedisConnection({ url })`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** True when this helper started the server; only then may it flush, kill, restart or stop it. */
  readonly owned: boolean;
  /** Pid of the redis-server process this helper runs (it changes on restart); -1 for a server it did not start. */
  readonly pid: number;
  /** Where the server came from. */
  readonly source: 'spawned' | 'REDIS_URL' | 'local';
  /** Runs `redis-cli` against the server and returns its trimmed output. */
  cli(...args: string[]): string;
  /** FLUSHALL; throws on a server this helper did not start. */
  flushAll(): void;
  /** SIGKILL, then waits until the port is closed (owned servers only). */
  kill(): Promise<void>;
  /** Starts a killed server again on the same port (owned servers only). */
  restart(): Promise<void>;
  /** Ends the server and removes its files; on a server it did not start, does nothing. */
  stop(): Promise<void>;
}

export interface TestRedisOptions {
  /** `requirepass` of the server, put into `url`. */
  password?: string | undefined;
  /** More redis-server arguments, for example `['--maxmemory', '10mb']`. */
  args?: string[] | undefined;
  /** Environment of the child process; its PATH decides which redis-server runs. */
  env?: Record<string, string | undefined>;
}

function cliRunner(host: string, port: number, extra: string[]): (...args: string[]) => string {
  return (...args) =>
    execFileSync('redis-cli', ['-h', host, '-p', String(port), ...extra, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 20_000,
    }).trim();
}

function notOwned(what: string): never {
  throw new Error(`redis-layer/testing refuses to ${what} a server it did not start`);
}

/** Starts a private redis-server on a free loopback port; `stop()` ends it and removes its files. */
export async function startTestRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-layer-test-'));
  const logFile = path.join(dir, 'redis.log');
  const args = ['--port', String(port), '--bind', LOOPBACK, '--dir', dir, '--logfile', logFile, ...THROWAWAY_ARGS];
  if (options.password !== undefined) args.push('--requirepass', options.password);
  args.push(...(options.args ?? []));
  const server = new RedisServerProcess({ port, logFile, args: () => args, env: options.env });
  try {
    await server.start();
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`;
  const cli = cliRunner(
    LOOPBACK,
    port,
    options.password === undefined ? [] : ['-a', options.password, '--no-auth-warning'],
  );
  let stopped = false;
  return {
    url: `redis://${auth}${LOOPBACK}:${port}`,
    host: LOOPBACK,
    port,
    owned: true,
    get pid() {
      return server.pid;
    },
    source: 'spawned',
    cli,
    flushAll: () => {
      cli('FLUSHALL');
    },
    kill: () => server.kill(),
    restart: () => server.start(),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      try {
        await server.kill();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A server someone else runs: usable, never flushed, killed or stopped by this helper. */
export function useRedis(url: string, source: TestRedis['source'] = 'REDIS_URL'): TestRedis {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError('url must be a redis:// or rediss:// URL');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw new TypeError('url must be a redis:// or rediss:// URL');
  const host = parsed.hostname || LOOPBACK;
  const port = Number(parsed.port || 6379);
  const extra = parsed.protocol === 'rediss:' ? ['--tls'] : [];
  if (parsed.username) extra.push('--user', decodeURIComponent(parsed.username));
  if (parsed.password) extra.push('-a', decodeURIComponent(parsed.password), '--no-auth-warning');
  const db = parsed.pathname.replace(/^\//, '');
  if (db) extra.push('-n', db);
  return {
    url,
    host,
    port,
    owned: false,
    pid: -1,
    source,
    cli: cliRunner(host, port, extra),
    flushAll: () => notOwned('flush'),
    kill: async () => notOwned('kill'),
    restart: async () => notOwned('restart'),
    stop: async () => undefined,
  };
}

export interface FindRedisOptions {
  /** Where REDIS_URL and PATH are read; defaults to `process.env`. */
  env?: Record<string, string | undefined>;
  /** The port of an already running local Redis to fall back to; defaults to 6379. */
  localPort?: number | undefined;
}

/**
 * REDIS_URL if set; else a throwaway redis-server if one is installed; else a Redis already
 * listening on 127.0.0.1:6379 (used as is, never flushed). Otherwise rejects with one sentence
 * saying what to install or set.
 */
export async function findRedis(options: FindRedisOptions = {}): Promise<TestRedis> {
  const env = options.env ?? process.env;
  if (env.REDIS_URL) return useRedis(env.REDIS_URL, 'REDIS_URL');
  try {
    return await startTestRedis({ env });
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_REDIS_SERVER_NOT_FOUND') throw error;
  }
  const localPort = options.localPort ?? 6379;
  if (await canConnect(localPort)) return useRedis(`redis://${LOOPBACK}:${localPort}`, 'local');
  throw Object.assign(
    new Error(
      `No Redis found: REDIS_URL is not set, redis-server is not on PATH and nothing listens on ${LOOPBACK}:${localPort}; ${INSTALL_HINT}.`,
    ),
    { code: 'ERR_NO_REDIS' },
  );
}
