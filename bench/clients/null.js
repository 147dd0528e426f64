'use strict';
// The "null client": the seed's code on a fake connection that keeps strings in a Map and answers
// each call with one already-resolved promise. It does all of the JavaScript work (JSON.stringify,
// JSON.parse, the seed's own code, one promise per call) and none of the I/O: no client can beat it.
const { seedServices } = require('../seed');

function create() {
  const store = new Map();
  const listeners = new Map();
  const client = {
    get: (key) => Promise.resolve(store.has(key) ? store.get(key) : null),
    set: (key, value) => (store.set(key, value), Promise.resolve('OK')),
    setEx: (key, ttl, value) => (store.set(key, value), Promise.resolve('OK')),
    del: (key) => Promise.resolve(store.delete(key) ? 1 : 0),
    mGet: (keys) => Promise.resolve(keys.map((key) => (store.has(key) ? store.get(key) : null))),
    multi() {
      const replies = [];
      return {
        zRemRangeByScore: () => replies.push(0),
        zCard: () => replies.push(0),
        zAdd: () => replies.push(1),
        expire: () => replies.push(1),
        exec: () => Promise.resolve(replies),
      };
    },
    publish(channel, message) {
      const listener = listeners.get(channel);
      if (listener) queueMicrotask(() => listener(message, channel));
      return Promise.resolve(listener ? 1 : 0);
    },
  };
  const subscriber = {
    subscribe(channel, listener) {
      listeners.set(channel, listener);
      return Promise.resolve();
    },
  };
  const connection = { getClient: () => client, getSubscriber: () => subscriber, getPublisher: () => client };
  return seedServices(connection, async () => {});
}

module.exports = { create };
