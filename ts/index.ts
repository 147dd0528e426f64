export { RedisConnection, redisConnection, connectRedis } from './lib/connection';
export type { RedisConnectionOptions } from './lib/connection';
export { RedisClient, Multi } from './lib/client';
export type { SetOptions, RedisArgument } from './lib/client';
export { CacheKeys, escapeGlob } from './lib/keys';
export { CacheService, cacheService } from './lib/cache';
export { RedisLayerError } from './lib/errors';
export { setLogger, defaultLogger } from './lib/logger';
export type { Logger, LogLevel } from './lib/logger';
