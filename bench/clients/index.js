'use strict';
// The clients under test, in table order. `peer` marks the ones redis-layer is measured against.
const CLIENTS = {
  'redis-layer': { module: './redis-layer', peer: false },
  'node-redis': { module: './node-redis', peer: true },
  ioredis: { module: './ioredis', peer: true, options: { autoPipelining: false } },
  'ioredis (auto-pipelining)': { module: './ioredis', peer: true, options: { autoPipelining: true } },
  'valkey-glide': { module: './glide', peer: true },
  'null client': { module: './null', peer: false, ceiling: true },
  // The durable workloads' peer: a BullMQ Queue + Worker (it runs only those).
  bullmq: { module: './bullmq', peer: true, workloads: ['durable', 'durable-e2e'] },
  // The cost of telemetry, on the two cache workloads: redis-layer with its diagnostics channels merely
  // subscribed, with redis-layer/otel on, and ioredis with @opentelemetry/instrumentation-ioredis.
  'redis-layer (channels subscribed)': { module: './redis-layer', peer: false, options: { telemetry: 'channels' }, workloads: ['get', 'setget'] },
  'redis-layer (OpenTelemetry)': { module: './redis-layer', peer: false, options: { telemetry: 'otel' }, workloads: ['get', 'setget'] },
  'ioredis (OpenTelemetry)': { module: './ioredis', peer: false, options: { autoPipelining: false, telemetry: 'otel' }, workloads: ['get', 'setget'] },
  // Local tiers, on the hot-key workload only: redis-layer's, and the peers' nearest equivalents.
  'redis-layer (local tier)': {
    module: './redis-layer',
    peer: false,
    options: { local: { maxBytes: 64 * 1024 * 1024, maxEntries: 20_000 } },
    workloads: ['hot-keys'],
  },
  'node-redis (client-side cache)': {
    module: './node-redis',
    peer: true,
    options: { clientSideCache: { ttl: 0, maxEntries: 20_000, evictPolicy: 'LRU' } },
    workloads: ['hot-keys'],
  },
  'valkey-glide (client-side cache)': {
    module: './glide',
    peer: true,
    options: { clientSideCache: { maxCacheKb: 64 * 1024, entryTtlMs: 0 } },
    workloads: ['hot-keys'],
  },
  bentocache: { module: './bentocache', peer: true, options: { l1: { maxSize: '64mb', maxItems: 20_000 } }, workloads: ['hot-keys'] },
};

// An interleaved A/B of a change: BENCH_BASELINE names another build of redis-layer (a directory with its
// package.json, binding.js, .node file and dist/), measured as this row beside 'redis-layer'.
if (process.env.BENCH_BASELINE) {
  CLIENTS['redis-layer (baseline)'] = { module: './redis-layer', peer: false, options: { baseline: true } };
}

/** Whether client `name` runs workload `id` (the telemetry rows and BullMQ run only their own; a workload may name its clients). */
function runs(name, id) {
  const spec = CLIENTS[name];
  const workload = require('../lib/workloads').WORKLOADS.find((w) => w.id === id);
  if (workload && workload.clients && !workload.clients.includes(name)) return false;
  return !spec.workloads || spec.workloads.includes(id);
}

function createClient(name, settings) {
  const spec = CLIENTS[name];
  if (!spec) throw new Error(`unknown client ${name}`);
  return require(spec.module).create({ ...settings, ...spec.options });
}

module.exports = { CLIENTS, createClient, runs };
