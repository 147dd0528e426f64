// Demo section: log in (session with id rotation), rate-limit a login burst, take a lock.
const { SessionService, RateLimiter, LockService, generateSessionId } = require('redis-layer');

module.exports = async function sessionSection({ connection, run, step, timed }) {
  const sessions = new SessionService(connection);
  const limiter = new RateLimiter(connection);
  const locks = new LockService(connection);
  const newId = typeof generateSessionId === 'function' ? generateSessionId : () => sessions.generateSessionId();

  step('Log in on two devices, then rotate the session id after a privilege change');
  const userId = `${run}u1`;
  const base = { userId, email: 'ada@example.com', username: 'ada', role: 'user', permissions: ['post'], ipAddress: '10.0.0.1' };
  const phone = newId();
  const laptop = newId();
  await timed('createSession ×2', () =>
    Promise.all([
      sessions.createSession(phone, { ...base, userAgent: 'phone', lastActivity: new Date() }),
      sessions.createSession(laptop, { ...base, userAgent: 'laptop', lastActivity: new Date() }),
    ]),
  );
  const session = await timed('getSession (slides the 24 h expiry)', () => sessions.getSession(phone));
  console.log(`  → ${session.username} on ${session.userAgent}; lastActivity is a Date: ${session.lastActivity instanceof Date}`);
  console.log(`  active sessions: ${(await sessions.getActiveSessions(userId)).map((s) => s.userAgent).join(', ')}`);
  const rotated = await timed('rotateSession (anti-fixation)', () => sessions.rotateSession(phone));
  console.log(`  old id valid: ${(await sessions.getSession(phone)) !== null}; new id valid: ${(await sessions.getSession(rotated)) !== null}`);
  console.log(`  log out everywhere: ${await sessions.deleteUserSessions(userId)} sessions deleted`);

  step('Rate limit: 8 login attempts in a burst, 5 allowed per minute');
  const results = await Promise.all(
    Array.from({ length: 8 }, () => limiter.checkLimit(`${run}10.0.0.1`, 'login', { windowMs: 60_000, maxRequests: 5, failOpen: false })),
  );
  console.log(`  ${results.map((r) => (r.allowed ? 'allow' : 'deny')).join(' ')}`);
  const denied = results.find((r) => !r.allowed);
  if (denied) console.log(`  denied caller may retry in ${Math.ceil(denied.retryAfterMs / 1000)} s`);

  step('Distributed lock around a counter update');
  const outcome = await locks.withLock(`${run}post:42:likes`, 2000, async (lock) => `held with fencing token ${lock.fencingToken}`);
  console.log(`  ${outcome}; a second taker waits or gets null: ${(await locks.acquire(`${run}post:42:likes`, 1000)) ? 'acquired after release' : 'null'}`);
};
