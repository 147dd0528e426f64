'use strict';
// The seed's CacheKeys (the subset the bench uses).
class CacheKeys {
  static user(id) {
    return `user:${id}`;
  }
  static userProfile(id) {
    return `user:${id}:profile`;
  }
  static post(id) {
    return `post:${id}`;
  }
  static session(id) {
    return `session:${id}`;
  }
  static userSession(userId) {
    return `user:${userId}:session`;
  }
  static rateLimit(type, identifier) {
    return `rate_limit:${type}:${identifier}`;
  }
}
module.exports = { CacheKeys };
