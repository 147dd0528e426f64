'use strict';
// Seed: infrastructure/redis/rateLimiter.ts.
const { CacheKeys } = require('./keys');
const { logger } = require('./logger');

class RateLimiter {
  constructor(connection) {
    // The seed reads `this.client`, which it never defines; the connection's client is what it means.
    this.client = connection.getClient();
  }

  async checkLimit(identifier, type, config) {
    const key = CacheKeys.rateLimit(type, identifier);
    const now = Date.now();
    const windowStart = now - config.windowMs;

    try {
      const pipeline = this.client.multi();
      pipeline.zRemRangeByScore(key, 0, windowStart);
      pipeline.zCard(key);
      pipeline.zAdd(key, { score: now, value: now.toString() });
      pipeline.expire(key, Math.ceil(config.windowMs / 1000));

      const results = await pipeline.exec();
      // node-redis v5 returns bare replies; the seed's results[1][1] is ioredis' [err, value] shape.
      const currentCount = results[1];

      const allowed = currentCount < config.maxRequests;
      const remaining = Math.max(0, config.maxRequests - currentCount - 1);
      const resetTime = now + config.windowMs;

      if (!allowed) {
        logger.warn('Rate limit exceeded', { identifier, type, currentCount });
      }

      return { allowed, remaining, resetTime };
    } catch (error) {
      logger.error('Rate limiter error:', { identifier, type, error });
      return { allowed: true, remaining: config.maxRequests, resetTime: now + config.windowMs };
    }
  }
}

module.exports = { RateLimiter };
