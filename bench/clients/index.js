'use strict';
// The clients under test, in table order. `peer` marks the ones redis-layer is measured against.
const CLIENTS = {
  'redis-layer': { module: './redis-layer', peer: false },
  'node-redis': { module: './node-redis', peer: true },
  ioredis: { module: './ioredis', peer: true, options: { autoPipelining: false } },
  'ioredis (auto-pipelining)': { module: './ioredis', peer: true, options: { autoPipelining: true } },
  'valkey-glide': { module: './glide', peer: true },
  'null client': { module: './null', peer: false, ceiling: true },
};

function createClient(name, settings) {
  const spec = CLIENTS[name];
  if (!spec) throw new Error(`unknown client ${name}`);
  return require(spec.module).create({ ...settings, ...spec.options });
}

module.exports = { CLIENTS, createClient };
