/** Jest `globalTeardown`: stops the server `jest-global-setup` started, if it started one. */
import type { TestRedis } from './index';
import { SERVER_SLOT } from './jest-global-setup';

export default async function globalTeardown(): Promise<void> {
  const slots = globalThis as Record<symbol, TestRedis | undefined>;
  const server = slots[SERVER_SLOT];
  if (!server) return;
  slots[SERVER_SLOT] = undefined;
  if (process.env.REDIS_URL === server.url) delete process.env.REDIS_URL;
  await server.stop();
}
