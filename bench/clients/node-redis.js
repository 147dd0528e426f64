'use strict';
// node-redis v5 running the seed's own code: three clients, as the seed's RedisConnection.
const { createClient } = require('redis');
const { seedServices } = require('../seed');

async function create({ url }) {
  const make = () => createClient({ url, socket: { reconnectStrategy: (retries) => Math.min(retries * 50, 1000) } });
  const client = make();
  const subscriber = make();
  const publisher = make();
  for (const c of [client, subscriber, publisher]) c.on('error', () => {});
  await Promise.all([client.connect(), subscriber.connect(), publisher.connect()]);
  const connection = { getClient: () => client, getSubscriber: () => subscriber, getPublisher: () => publisher };
  return seedServices(connection, () => Promise.all([client.quit(), subscriber.quit(), publisher.quit()]));
}

module.exports = { create };
