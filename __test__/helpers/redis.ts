/**
 * Test servers: every test file starts its own redis-server on a free loopback port (so fault
 * tests can stop and restart it), unless TEST_REDIS_URL is set. The spawning is the package's own
 * `redis-layer/testing`; nothing here ever flushes a server it did not start.
 */
import { randomBytes } from 'node:crypto';
import { freePort, startTestRedis, type TestRedis, useRedis } from '../../dist/testing';

export { freePort };
export type TestServer = TestRedis;

export interface ServerOptions {
  password?: string;
  extraArgs?: string[];
}

/** Starts a throwaway redis-server that this test owns (DEBUG enabled for the fault tests). */
export function startRedis(options: ServerOptions = {}): Promise<TestServer> {
  return startTestRedis({
    password: options.password,
    args: ['--enable-debug-command', 'yes', ...(options.extraArgs ?? [])],
  });
}

/** The server a test file talks to: TEST_REDIS_URL if set, else its own. */
export async function testRedis(options: ServerOptions = {}): Promise<TestServer> {
  const external = process.env.TEST_REDIS_URL;
  return external ? useRedis(external) : startRedis(options);
}

/** A minimal session of `userId` (the seed's SessionData fields) for tests that only need one to exist. */
export function sessionFor(userId: string) {
  return {
    userId,
    email: 'e',
    username: 'u',
    role: 'r',
    permissions: [] as string[],
    lastActivity: new Date(),
    ipAddress: 'i',
    userAgent: 'a',
  };
}

/** A key prefix no other test (or other run on a shared server) uses. */
export function uniquePrefix(name: string): string {
  return `t:${name}:${randomBytes(4).toString('hex')}:`;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it holds; past `timeoutMs` throws, naming `what` it waited for. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

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
