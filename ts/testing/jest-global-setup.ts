/**
 * Jest `globalSetup`: unless REDIS_URL is set, starts one throwaway redis-server for the whole run
 * and sets REDIS_URL, which the test workers inherit (so `connectRedis()` reaches it).
 */
import { startTestRedis, type TestRedis } from './index';

/** Where the teardown finds the server (globalSetup and globalTeardown share one process). */
export const SERVER_SLOT = Symbol.for('redis-layer.testing.server');

export default async function globalSetup(): Promise<void> {
  if (process.env.REDIS_URL) return;
  const server = await startTestRedis();
  (globalThis as Record<symbol, TestRedis | undefined>)[SERVER_SLOT] = server;
  process.env.REDIS_URL = server.url;
}
