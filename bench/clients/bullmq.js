'use strict';
// BullMQ, the nearest durable equivalent of redis-layer's DurableBroker: a Queue per channel to add
// jobs to and a Worker to process them, wired as BullMQ's documentation shows (an ioredis
// connection with maxRetriesPerRequest: null, completed jobs removed past a count). Only the
// durable workloads run it.
const { randomBytes } = require('node:crypto');

const PREFIX = randomBytes(8).toString('hex');
let sequence = 0;

async function create({ port }) {
  const { Queue, Worker } = require('bullmq');
  const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
  const queues = new Map();
  const workers = [];
  const queueFor = (name) => {
    let queue = queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection, defaultJobOptions: { removeOnComplete: 1000, removeOnFail: 5000 } });
      queues.set(name, queue);
    }
    return queue;
  };
  const durable = {
    // The seed's envelope as the job's data, as DurableBroker publishes it.
    publish: (channel, message) =>
      queueFor(channel).add(message.type, { ...message, timestamp: new Date(), messageId: `${Date.now()}-${PREFIX}-${sequence++}` }),
    async subscribe(channel, handler) {
      queueFor(channel);
      // As many jobs at once as DurableBroker's default maxInFlight (100).
      const worker = new Worker(channel, async (job) => handler(job.data), { connection, concurrency: 100 });
      worker.on('error', () => {});
      workers.push(worker);
      await worker.waitUntilReady();
    },
    async cleanup() {
      await Promise.all(workers.splice(0).map((worker) => worker.close(true)));
      for (const queue of queues.values()) await queue.obliterate({ force: true }).catch(() => {});
    },
  };
  return {
    durable,
    close: async () => {
      await Promise.all(workers.map((worker) => worker.close(true)));
      await Promise.all([...queues.values()].map((queue) => queue.close()));
    },
  };
}

module.exports = { create };
