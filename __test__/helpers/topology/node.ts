/**
 * What every topology shares: a node handle over one redis-server process (the package's own
 * `RedisServerProcess`), commands through ioredis on a fresh connection per call so nothing
 * lingers and a load generator next to the harness is never stalled, and a group that owns a
 * topology's processes and temp dir. `cli()` is the one blocking convenience, for assertions.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis, { ReplyError } from 'ioredis';
import { RedisServerProcess, StopWaiting, waitUntil } from '../../../dist/testing/process';

export { RedisServerProcess, StopWaiting };
export { freePorts } from '../../../dist/testing/process';

export const HOST = '127.0.0.1';
export const WAIT_MS = 20_000;
/** Every topology node: no persistence, DEBUG allowed (the fault tests use it). */
export const COMMON_ARGS = ['--save', '', '--appendonly', 'no', '--enable-debug-command', 'yes'];

export type Reply = string | number | null | Reply[];

/** An error reply (`-ERR ...`) from a server; `cmd()` rejects with it. */
export class RedisReplyError extends Error {}

export interface TopologyNode {
  readonly port: number;
  readonly url: string;
  /** Pid of the current process (changes on restart); -1 before the first start. */
  readonly pid: number;
  /** True while the process runs. */
  readonly alive: boolean;
  /** Blocking redis-cli against this node; returns trimmed stdout. */
  cli(...args: string[]): string;
  /** One command over a fresh socket; rejects on an error reply or after timeoutMs (default 10 s). */
  cmd(...args: Array<string | number>): Promise<Reply>;
  /** SIGKILL, then waits until the process exited and its ports are closed. */
  kill(): Promise<void>;
  /** Starts the process again on the same port(s) and config; waits until it accepts connections. */
  restart(): Promise<void>;
  /** Last lines of this process' log file, for failure messages. */
  logTail(lines?: number): string;
}

/** Polls `check` (true = done, a string = why not yet) until it passes; bounded. */
export function waitFor(what: string, check: () => Promise<true | string>, timeoutMs = WAIT_MS): Promise<void> {
  return waitUntil(what, check, timeoutMs);
}

/** Like Promise.all, but settles every promise first, so nothing is still starting when a caller cleans up. */
export async function settleAll(promises: Array<Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

export interface CmdOptions {
  username?: string;
  password?: string;
  tls?: { ca: Buffer; cert: Buffer; key: Buffer };
  timeoutMs?: number;
}

/** One command on a fresh ioredis connection that never retries; the connection ends with the call. */
async function command(port: number, args: Array<string | number>, options: CmdOptions = {}): Promise<Reply> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const what = `${String(args[0])} on ${HOST}:${port}`;
  const client = new Redis({
    host: HOST,
    port,
    username: options.username,
    password: options.password,
    tls: options.tls,
    lazyConnect: true,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.call(String(args[0]), ...args.slice(1))) as Reply;
  } catch (error) {
    if (error instanceof ReplyError) throw new RedisReplyError(`${what}: ${(error as Error).message}`);
    throw new Error(`${what}: ${(error as Error).message}`);
  } finally {
    client.disconnect();
  }
}

/** What one start function owns: its processes and its temp dir, torn down together. */
export class Group {
  readonly dir: string;
  readonly processes: RedisServerProcess[] = [];
  private stopped = false;

  constructor(kind: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `redis-layer-${kind}-`));
  }

  /** Where the server `name` on `port` logs. */
  logFile(name: string, port: number): string {
    return path.join(this.dir, `${name}-${port}.log`);
  }

  /**
   * A redis-server of this group logging to `logFile(name, port)`. `args` receives the
   * arguments every node shares (bind, dir, log file, no persistence, DEBUG) and the log file.
   */
  server(options: {
    name: string;
    port: number;
    ports?: number[];
    args: (shared: string[], logFile: string) => Promise<string[]> | string[];
  }): RedisServerProcess {
    const logFile = this.logFile(options.name, options.port);
    const shared = ['--bind', HOST, '--dir', this.dir, '--logfile', logFile, ...COMMON_ARGS];
    const process = new RedisServerProcess({
      port: options.port,
      ports: options.ports,
      logFile,
      args: () => options.args(shared, logFile),
    });
    this.processes.push(process);
    return process;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      await settleAll(this.processes.map((p) => p.kill()));
    } finally {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** Runs the body; if it throws, stops whatever it started before rethrowing. */
  async build<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      await this.stop().catch(() => undefined);
      throw error;
    }
  }
}

export function makeNode(
  proc: RedisServerProcess,
  url: string,
  cliArgs: string[],
  cmdOptions: CmdOptions,
): TopologyNode {
  return {
    port: proc.port,
    url,
    get pid() {
      return proc.pid;
    },
    get alive() {
      return proc.alive;
    },
    cli: (...args) =>
      execFileSync('redis-cli', ['-h', HOST, '-p', String(proc.port), ...cliArgs, ...args], {
        encoding: 'utf8',
        timeout: WAIT_MS,
        stdio: ['ignore', 'pipe', 'pipe'],
      }).trim(),
    cmd: (...args) => command(proc.port, args, cmdOptions),
    kill: () => proc.kill(),
    restart: () => proc.start(),
    logTail: (lines) => proc.logTail(lines),
  };
}

export function run(file: string, args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, timeout: options.timeoutMs ?? WAIT_MS, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

export function fields(info: Reply): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of String(info).split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0) map.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  return map;
}

export function pairs(reply: Reply): Map<string, string> {
  const map = new Map<string, string>();
  const list = Array.isArray(reply) ? reply : [];
  for (let i = 0; i + 1 < list.length; i += 2) map.set(String(list[i]), String(list[i + 1]));
  return map;
}
