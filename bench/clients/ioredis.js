'use strict';
// ioredis v5 running the seed's code. The seed is written for node-redis, so a thin shim maps the
// few names it uses (setEx, mGet, multi().zAdd, subscribe(channel, listener)) onto ioredis'.
const { seedServices } = require('../seed');

function shimCommands(redis) {
  return {
    get: (key) => redis.get(key),
    set: (key, value) => redis.set(key, value),
    setEx: (key, ttl, value) => redis.setex(key, ttl, value),
    del: (key) => redis.del(key),
    mGet: (keys) => redis.mget(keys),
    multi() {
      const m = redis.multi();
      return {
        zRemRangeByScore: (key, min, max) => m.zremrangebyscore(key, min, max),
        zCard: (key) => m.zcard(key),
        zAdd: (key, { score, value }) => m.zadd(key, score, value),
        expire: (key, seconds) => m.expire(key, seconds),
        exec: () =>
          m.exec().then((rows) =>
            rows.map(([error, value]) => {
              if (error) throw error;
              return value;
            }),
          ),
      };
    },
    publish: (channel, message) => redis.publish(channel, message),
  };
}

function shimSubscriber(redis) {
  const listeners = new Map();
  redis.on('message', (channel, message) => {
    const listener = listeners.get(channel);
    if (listener) listener(message, channel);
  });
  return {
    subscribe(channel, listener) {
      listeners.set(channel, listener);
      return redis.subscribe(channel);
    },
  };
}

async function create({ port, autoPipelining, telemetry }) {
  if (telemetry === 'otel') {
    // The instrumentation patches ioredis as it loads, so it is registered first.
    const { registerInstrumentations } = require('@opentelemetry/instrumentation');
    const { IORedisInstrumentation } = require('@opentelemetry/instrumentation-ioredis');
    const { tracerProvider, meterProvider } = require('./otel').startOpenTelemetry();
    // A span for every command, as redis-layer makes (by default it makes them only under a parent span).
    registerInstrumentations({
      instrumentations: [new IORedisInstrumentation({ requireParentSpan: false })],
      tracerProvider,
      meterProvider,
    });
  }
  const Redis = require('ioredis');
  const make = () =>
    new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      enableAutoPipelining: Boolean(autoPipelining),
      retryStrategy: (times) => Math.min(times * 50, 1000),
    });
  const client = make();
  const subscriber = make();
  const publisher = make();
  for (const c of [client, subscriber, publisher]) c.on('error', () => {});
  await Promise.all([client.connect(), subscriber.connect(), publisher.connect()]);
  const connection = {
    getClient: () => shimCommands(client),
    getSubscriber: () => shimSubscriber(subscriber),
    getPublisher: () => shimCommands(publisher),
  };
  return seedServices(connection, () => Promise.all([client.quit(), subscriber.quit(), publisher.quit()]));
}

module.exports = { create };
