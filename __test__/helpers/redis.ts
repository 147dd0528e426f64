/**
 * Test servers: every test file starts its own redis-server on a free loopback
 * port (so fault tests can stop and restart it), unless TEST_REDIS_URL is set.
 * Nothing here ever flushes a server it did not start.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { randomBytes } from 'node:crypto';

export interface TestServer {
  url: string;
  port: number;
  /** False when the server came from TEST_REDIS_URL: never flush, stop or restart it. */
  owned: boolean;
  /** Runs redis-cli against this server and returns its trimmed output. */
  cli(...args: string[]): string;
  /** Stops the server (SIGKILL) and waits until the port is closed. */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
  /** Stops it for good. */
  stop(): Promise<void>;
}

export interface ServerOptions {
  password?: string;
  extraArgs?: string[];
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Starts a throwaway redis-server that this test owns. */
export async function startRedis(options: ServerOptions = {}): Promise<TestServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--enable-debug-command',
    'yes',
    ...(options.extraArgs ?? []),
  ];
  if (options.password) args.push('--requirepass', options.password);
  const authArgs = options.password ? ['-a', options.password, '--no-auth-warning'] : [];

  const launch = async () => {
    child = spawn('redis-server', args, { stdio: 'ignore' });
    await waitFor(() => canConnect(port), `redis-server on port ${port}`);
  };
  const kill = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    await waitFor(async () => !(await canConnect(port)), `port ${port} to close`);
  };
  await launch();
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : '';
  return {
    url: `redis://${auth}127.0.0.1:${port}`,
    port,
    owned: true,
    cli: (...cliArgs) =>
      execFileSync('redis-cli', ['-p', String(port), ...authArgs, ...cliArgs], { encoding: 'utf8' }).trim(),
    kill,
    restart: launch,
    stop: kill,
  };
}

/** The server a test file talks to: TEST_REDIS_URL if set, else its own. */
export async function testRedis(options: ServerOptions = {}): Promise<TestServer> {
  const external = process.env.TEST_REDIS_URL;
  if (!external) return startRedis(options);
  const parsed = new URL(external);
  const port = Number(parsed.port || 6379);
  const host = parsed.hostname || '127.0.0.1';
  const refuse = async () => {
    throw new Error('this test needs a server it owns; unset TEST_REDIS_URL');
  };
  return {
    url: external,
    port,
    owned: false,
    cli: (...cliArgs) => {
      const auth = parsed.password ? ['-a', decodeURIComponent(parsed.password), '--no-auth-warning'] : [];
      return execFileSync('redis-cli', ['-h', host, '-p', String(port), ...auth, ...cliArgs], {
        encoding: 'utf8',
      }).trim();
    },
    kill: refuse,
    restart: refuse,
    stop: async () => undefined,
  };
}

/** A key prefix no other test (or other run on a shared server) uses. */
export function uniquePrefix(name: string): string {
  return `t:${name}:${randomBytes(4).toString('hex')}:`;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A logger that records what it was told, for assertions. */
export function recordingLogger() {
  const lines: Array<{ level: string; message: string; meta?: Record<string, unknown> }> = [];
  const at = (level: string) => (message: string, meta?: Record<string, unknown>) => {
    lines.push({ level, message, meta });
  };
  return {
    lines,
    logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
    text: () => lines.map((l) => `${l.level} ${l.message} ${JSON.stringify(l.meta ?? {})}`).join('\n'),
  };
}
