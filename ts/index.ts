export { RedisConnection, redisConnection, connectRedis } from './lib/connection';
export type { RedisConnectionOptions } from './lib/connection';
export type { Subscriber, SubscriptionListener } from './lib/subscriber';
export { RedisClient, Multi } from './lib/client';
export type { SetOptions, RedisArgument, ScanOptions, ZMember } from './lib/client';
export { CacheKeys, escapeGlob } from './lib/keys';
export { CacheService, cacheService } from './lib/cache';
export type { CacheServiceOptions, GetOrSetOptions, GetOrSetResult } from './lib/cache';
export type { LocalCacheOptions, LocalCacheStats } from './lib/local';
export { jsonSerializer, dateSerializer } from './lib/json';
export type { Jsonified, Serializer } from './lib/json';
export { RedisLayerError, ERROR_CODES } from './lib/errors';
export type { RedisLayerErrorCode } from './lib/errors';
export { setLogger, defaultLogger } from './lib/logger';
export type { Logger, LogLevel } from './lib/logger';
export type { LoggerOptions } from './lib/logger';
export { UserCacheService, userCacheService } from './lib/userCache';
export { PostCacheService, postCacheService } from './lib/postCache';
export { CacheWarmingService, cacheWarmingService } from './lib/warming';
export type { WarmingRepositories, WarmingUserRepository, WarmingPostRepository } from './lib/warming';
export { MessageBroker, messageBroker } from './lib/broker';
export type { Message, MessageHandler, MessageBrokerOptions, MessageBrokerApi } from './lib/broker';
export {
  DurableBroker,
  durableKeys,
  type DurableMessage,
  type DurableHandler,
  type DurableStart,
  type DurableBrokerOptions,
  type DurableBrokerStats,
} from './lib/durable';
export { SessionService, sessionService, userSessionsKey } from './lib/session';
export type { SessionData, SessionOwner, SessionServiceOptions, SessionServiceApi } from './lib/session';
export { RateLimiter, rateLimiter } from './lib/rateLimiter';
export type {
  RateLimitConfig,
  RateLimitResult,
  RateLimitAlgorithm,
  RateLimiterApi,
  RateLimiterOptions,
} from './lib/rateLimiter';
export { LockService, lockService, Lock, lockFenceKey } from './lib/lock';
export type { AcquireOptions, LockServiceOptions, UsingOptions } from './lib/lock';
