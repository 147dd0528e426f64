'use strict';
// The seed's services over a node-redis-v5-shaped connection ({ getClient, getSubscriber, getPublisher }).
const { CacheService } = require('./cache');
const { UserCacheService } = require('./userCache');
const { SessionService } = require('./session');
const { RateLimiter } = require('./rateLimiter');
const { MessageBroker } = require('./broker');
const { CacheWarmingService } = require('./warming');

function seedServices(connection, close) {
  const cache = new CacheService(connection);
  const userCache = new UserCacheService(cache);
  return {
    cache,
    session: new SessionService(cache),
    rateLimiter: new RateLimiter(connection),
    broker: new MessageBroker(connection),
    warming: (repositories) => new CacheWarmingService(repositories, userCache),
    close,
  };
}

module.exports = { seedServices };
