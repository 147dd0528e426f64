// Demo section for MessageBroker: one post notification fanned out to two listeners.
const { MessageBroker } = require('redis-layer');

module.exports = async function brokerSection({ connection, run, step, timed }) {
  step('Pub/sub: a post notification fanned out to two listeners');
  const broker = new MessageBroker(connection);
  const channel = `${run}notifications:posts`;
  let delivered;
  const both = new Promise((resolve) => (delivered = resolve));
  let count = 0;
  const listener = (name) => (message) => {
    console.log(`  ${name}: ${message.type} ${message.data.postId} by ${message.data.authorId} (sent ${message.timestamp.toISOString()}, id ${message.messageId})`);
    if (++count === 2) delivered();
  };
  const feedUpdater = listener('feed updater');
  const pushNotifier = listener('push notifier');
  await broker.subscribe(channel, feedUpdater);
  await broker.subscribe(channel, pushNotifier);
  const receivers = await timed('publish post.created', () =>
    broker.publish(channel, { type: 'post.created', data: { postId: 'p42', authorId: 'u1' } }),
  );
  console.log(`  → Redis counted ${receivers} receiver: one subscription, however many callbacks`);
  await both;
  await broker.unsubscribe(channel, feedUpdater);
  await broker.unsubscribe(channel, pushNotifier);
};
