// ESM entry: the same instances as the CommonJS entry, so `import` and `require`
// users share one connection singleton.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const redisLayer = require('./dist/index.js');

export const {
  RedisConnection,
  redisConnection,
  connectRedis,
  RedisClient,
  Multi,
  CacheKeys,
  escapeGlob,
  CacheService,
  cacheService,
  jsonSerializer,
  dateSerializer,
  RedisLayerError,
  ERROR_CODES,
  setLogger,
  defaultLogger,
  UserCacheService,
  userCacheService,
  PostCacheService,
  postCacheService,
  CacheWarmingService,
  cacheWarmingService,
  MessageBroker,
  DurableBroker,
  durableKeys,
  messageBroker,
  SessionService,
  sessionService,
  userSessionsKey,
  RateLimiter,
  rateLimiter,
  LockService,
  lockService,
  Lock,
  lockFenceKey,
} = redisLayer;

export default redisLayer;
