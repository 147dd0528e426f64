'use strict';
// Seed: infrastructure/redis/userCacheService.ts (what cache warming calls).
const { CacheKeys } = require('./keys');

class UserCacheService {
  constructor(cacheService) {
    this.cacheService = cacheService;
    this.USER_TTL = 3600;
    this.PROFILE_TTL = 7200;
  }

  async setUser(user) {
    const key = CacheKeys.user(user.id);
    await this.cacheService.set(key, user, this.USER_TTL);
  }

  async setUserProfile(user) {
    const key = CacheKeys.userProfile(user.id);
    await this.cacheService.set(key, user, this.PROFILE_TTL);
  }

  async warmUserCache(user) {
    await Promise.all([this.setUser(user), this.setUserProfile(user)]);
  }
}

module.exports = { UserCacheService };
