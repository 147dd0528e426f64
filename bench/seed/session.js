'use strict';
// Seed: infrastructure/redis/sessionService.ts (createSession, getSession).
const { CacheKeys } = require('./keys');
const { logger } = require('./logger');

class SessionService {
  constructor(cacheService) {
    this.cacheService = cacheService;
    this.SESSION_TTL = 86400;
    this.REFRESH_TTL = 2592000;
  }

  async createSession(sessionId, sessionData) {
    const key = CacheKeys.session(sessionId);
    const userSessionKey = CacheKeys.userSession(sessionData.userId);
    await Promise.all([
      this.cacheService.set(key, sessionData, this.SESSION_TTL),
      this.cacheService.set(userSessionKey, sessionId, this.REFRESH_TTL),
    ]);
    logger.info('Session created', { sessionId, userId: sessionData.userId });
  }

  async getSession(sessionId) {
    const key = CacheKeys.session(sessionId);
    const session = await this.cacheService.get(key);
    if (session) {
      session.lastActivity = new Date();
      await this.cacheService.set(key, session, this.SESSION_TTL);
    }
    return session;
  }
}

module.exports = { SessionService };
