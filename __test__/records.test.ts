import { binding } from '../dist/lib/native';
import { batchIds, NativeQueue } from '../dist/lib/queue';
import { testRedis, type TestServer, uniquePrefix } from './helpers/redis';

// The submitBatch record format has one source, the binding's `OpKind` (src/records.rs):
// every kind has a NativeQueue method that pushes exactly the fields the binding reads, and
// a batch of every kind, each followed by another record, reaches Redis with every call
// answered by its own reply. A kind added on one side only, or read with another field
// count, fails here.

type Columns = [ids: Uint32Array, failed: Uint8Array, payloads: unknown[]];

// A const enum to the type checker; at run time the object the binding exports.
const kinds = (binding as unknown as { OpKind: Record<string, number> }).OpKind;
const p = uniquePrefix('records');
const script = binding.registerScript("return {KEYS[1], ARGV[1], redis.call('GET', KEYS[1])}");

/** One call of each kind through its NativeQueue method, and the reply Redis gives it. */
const calls: Record<string, { send: (queue: NativeQueue, id: number) => void; reply: unknown }> = {
  Get: { send: (queue, id) => queue.get(id, `${p}a`), reply: '"a"' },
  Set: { send: (queue, id) => queue.set(id, `${p}set`, 'v', 60), reply: 'OK' },
  Command: { send: (queue, id) => queue.command(id, ['ECHO', 'hi']), reply: 'hi' },
  Pipeline: {
    send: (queue, id) =>
      queue.pipeline(
        id,
        [
          ['GET', `${p}a`],
          ['ECHO', 'x'],
        ],
        true,
      ),
    reply: ['"a"', 'x'],
  },
  Script: { send: (queue, id) => queue.script(id, script, [`${p}a`], ['x']), reply: [`${p}a`, 'x', '"a"'] },
  JsonArray: { send: (queue, id) => queue.jsonArray(id, ['MGET', `${p}a`, `${p}missing`]), reply: ['["a",null]', []] },
};

let server: TestServer;

beforeAll(async () => {
  server = await testRedis();
});

afterAll(async () => {
  await server.stop();
});

/** A real native socket whose submitted batches are kept, and whose replies are collected by id. */
function openQueue() {
  const replies = new Map<number, { failed: boolean; payload: unknown }>();
  let waiting: { count: number; resolve: () => void } | undefined;
  const client = new binding.NativeClient(
    { url: server.url },
    ([ids, failed, payloads]: Columns) => {
      for (const [i, id] of ids.entries()) replies.set(id, { failed: failed[i] === 1, payload: payloads[i] });
      if (waiting && replies.size >= waiting.count) waiting.resolve();
    },
    () => {},
  );
  const submitted: unknown[][] = [];
  const submit = client.submitBatch.bind(client);
  client.submitBatch = (ops: unknown[]) => {
    submitted.push(ops);
    submit(ops);
  };
  const queue = new NativeQueue(client, (_ops, error) => {
    throw error;
  });
  const settled = (count: number) =>
    replies.size >= count ? Promise.resolve() : new Promise<void>((resolve) => (waiting = { count, resolve }));
  return { queue, replies, submitted, settled };
}

it('has a NativeQueue method for every kind the binding reads, pushing exactly its fields', () => {
  expect(Object.keys(calls).sort()).toEqual(Object.keys(kinds).sort());
  const { queue, submitted } = openQueue();
  for (const [name, kind] of Object.entries(kinds)) {
    calls[name].send(queue, 40 + kind);
    queue.flush();
    const ops = submitted.pop()!;
    expect({ name, kind: ops[0], id: ops[1], fields: ops.length - 2 }).toEqual({
      name,
      kind,
      id: 40 + kind,
      fields: binding.opFields(kind),
    });
  }
  queue.close();
});

it('sends a batch of every kind, each followed by another record, and answers each call by its id', async () => {
  const { queue, replies, submitted, settled } = openQueue();
  queue.connect(1);
  await settled(1);
  queue.set(2, `${p}a`, '"a"');
  await settled(2);
  expect(replies.get(2)).toEqual({ failed: false, payload: 'OK' });

  const expected = new Map<number, unknown>();
  let id = 10;
  for (const { send, reply } of Object.values(calls)) {
    send(queue, id);
    expected.set(id++, reply);
    // Read with a wrong field count, the record before would swallow or shift this one.
    queue.get(id, `${p}a`);
    expected.set(id++, '"a"');
  }
  queue.flush();
  expect(submitted).toHaveLength(2);
  expect(batchIds(submitted[1])).toEqual([...expected.keys()]);
  await settled(2 + expected.size);
  for (const [call, reply] of expected)
    expect({ call, ...replies.get(call) }).toEqual({ call, failed: false, payload: reply });
  queue.close();
});
