/**
 * One redis-server child process on loopback ports: started, killed and restarted on the same
 * port(s), its log kept for error messages, killed with the Node process if nobody stopped it.
 * Every spawner in this repository (the public test helper, the topology harness, the bench and
 * the demo) goes through this class.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

export const LOOPBACK = '127.0.0.1';

/** The one sentence a user sees when no redis-server can be run. */
export const INSTALL_HINT =
  'install Redis (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL to a server to use';

/** Thrown by a `waitUntil` check to stop waiting at once instead of retrying. */
export class StopWaiting extends Error {}

/**
 * Polls `check` (true = done, a string = why not yet; a thrown error counts as not yet unless it
 * is a StopWaiting) every 50 ms until it passes, or rejects after `timeoutMs` with the last reason.
 */
export async function waitUntil(what: string, check: () => Promise<true | string>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'not checked yet';
  for (;;) {
    try {
      const result = await check();
      if (result === true) return;
      last = result;
    } catch (error) {
      if (error instanceof StopWaiting) throw error;
      last = (error as Error).message;
    }
    if (Date.now() >= deadline)
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}: ${last}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** True when something accepts TCP connections on the loopback port. */
export function canConnect(port: number, host = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A loopback port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, LOOPBACK, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** `count` distinct free loopback ports (two freePort() calls may hand out the same one). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

function errorCode(error: Error): string | undefined {
  return (error as { code?: string }).code;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Last resort when a run ends without stopping its servers: no orphaned redis-server. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

export interface RedisProcessOptions {
  /** The port clients use; `start()` waits until it accepts connections. */
  port: number;
  /** Every port the process listens on (cluster bus, TLS), checked closed after `kill()`. */
  ports?: number[] | undefined;
  /** The server's `--logfile`, read for failure messages. */
  logFile?: string | undefined;
  /** Command-line arguments, computed at each start so a restart can follow the topology. */
  args: () => Promise<string[]> | string[];
  /** Environment of the child; defaults to this process' (its PATH finds redis-server). */
  env?: Record<string, string | undefined>;
}

export class RedisServerProcess {
  readonly port: number;
  readonly logFile: string | undefined;
  private readonly ports: number[];
  private readonly args: RedisProcessOptions['args'];
  private readonly env: Record<string, string | undefined> | undefined;
  private child?: ChildProcess;

  constructor(options: RedisProcessOptions) {
    this.port = options.port;
    this.ports = options.ports ?? [options.port];
    this.logFile = options.logFile;
    this.args = options.args;
    this.env = options.env;
  }

  /** Pid of the current process (changes on restart); -1 before the first start. */
  get pid(): number {
    return this.child?.pid ?? -1;
  }

  /** True while the process runs. */
  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines of the server's log file. */
  logTail(lines = 15): string {
    if (!this.logFile) return '(no log file)';
    try {
      return fs.readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Spawns redis-server and waits until its port accepts connections; rejects with its log if it exits. */
  async start(timeoutMs = 20_000): Promise<void> {
    if (this.alive) throw new Error(`redis-server on port ${this.port} is already running`);
    installExitHook();
    const args = await this.args();
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'], env: this.env });
    this.child = child;
    // Configuration errors reach stderr before the log file opens: keep the last of it for the message.
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-2000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    running.add(child);
    let failure: Error | undefined;
    child.on('error', (error: NodeJS.ErrnoException) => {
      failure =
        error.code === 'ENOENT'
          ? Object.assign(new Error(`redis-server was not found on PATH: ${INSTALL_HINT}`), {
              code: 'ERR_REDIS_SERVER_NOT_FOUND',
            })
          : new Error(`could not start redis-server: ${error.message}`);
    });
    child.once('exit', () => running.delete(child));
    // 'close' comes after the output streams ended, so the message has all of it.
    child.once('close', (code, signal) => {
      failure ??= new Error(
        `redis-server on port ${this.port} exited (${signal ?? `code ${code}`})\n--- output\n${output.trim()}\n--- log\n${this.logTail()}`,
      );
    });
    await waitUntil(
      `redis-server on port ${this.port} to accept connections`,
      async () => {
        if (failure) throw Object.assign(new StopWaiting(failure.message), { code: errorCode(failure) });
        return (await canConnect(this.port)) || 'not listening yet';
      },
      timeoutMs,
    );
  }

  /** SIGKILL, then waits until the process exited and every port of it is closed. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    for (const port of this.ports) {
      await waitUntil(`port ${port} to close`, async () => !(await canConnect(port)) || 'still accepting');
    }
  }
}

/** The arguments every throwaway server gets: nothing written to disk. */
export const THROWAWAY_ARGS = ['--save', '', '--appendonly', 'no'];
