'use strict';
// Seed: infrastructure/redis/cacheWarmingService.ts (warmUserCache). The seed imports its
// repositories as modules; here they are handed in, as redis-layer's constructor takes them.
const { logger } = require('./logger');

class CacheWarmingService {
  constructor({ userRepository }, userCacheService) {
    this.userRepository = userRepository;
    this.userCacheService = userCacheService;
  }

  async warmUserCache(userIds) {
    const users = await this.userRepository.findByIds(userIds);
    await Promise.all(users.map((user) => this.userCacheService.warmUserCache(user)));
    logger.info('User cache warmed', { count: users.length });
  }
}

module.exports = { CacheWarmingService };
