"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.Dispatcher = exports.NativeQueue = exports.describeTarget = exports.registerScript = void 0;
const errors_1 = require("./errors");
const logger_1 = require("./logger");
const pending_1 = require("./pending");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding = require('../binding.js');
exports.registerScript = binding.registerScript;
exports.describeTarget = binding.describeTarget;
const MAX_ID = 0xffffffff;
// Record kinds of `NativeClient.submitBatch` (src/client.rs `Kind`).
const GET = 0;
const SET = 1;
const COMMAND = 2;
const PIPELINE = 3;
const SCRIPT = 4;
const JSON_ARRAY = 5;
/**
 * Calls sent together at most. Many callers resumed by one batch of replies would
 * otherwise all queue up before the first is sent, and Redis would sit idle while this
 * thread runs them, then this thread while Redis answers: slices let the two overlap
 * (measured: +35% checkLimit, +70% getSession at 64 callers on 2 cores; 8 was worse,
 * 32 no better).
 */
const SLICE = 16;
/**
 * The native socket's operations, queued in call order and handed to native code
 * once per microtask turn (or every SLICE calls) as one flat array: one crossing for
 * many commands instead of one each. Operations that are not commands on the socket's
 * lane (connect, scanDelete, close) first send what is queued, so nothing overtakes.
 */
class NativeQueue {
    client;
    onFlushError;
    ops = [];
    scheduled = false;
    queued = 0;
    flushNow = () => this.flush();
    /** @internal */
    constructor(client, onFlushError) {
        this.client = client;
        this.onFlushError = onFlushError;
    }
    get isConnected() {
        return this.client.isConnected;
    }
    get(id, key) {
        this.ops.push(GET, id, key);
        this.schedule();
    }
    set(id, key, value, ttlSeconds) {
        this.ops.push(SET, id, key, value, ttlSeconds ?? undefined);
        this.schedule();
    }
    command(id, args) {
        this.ops.push(COMMAND, id, args);
        this.schedule();
    }
    /** An MGET answered as `[arrayText, [index, raw, ...]]` (src/json_array.rs). */
    jsonArray(id, args) {
        this.ops.push(JSON_ARRAY, id, args);
        this.schedule();
    }
    pipeline(id, commands, atomic) {
        this.ops.push(PIPELINE, id, commands, atomic);
        this.schedule();
    }
    script(id, handle, keys, args) {
        this.ops.push(SCRIPT, id, handle, keys, args);
        this.schedule();
    }
    connect(id) {
        this.flush();
        this.client.connect(id);
    }
    scanDelete(id, pattern, count) {
        this.flush();
        this.client.scanDelete(id, pattern, count);
    }
    panicForTesting(id, inTask) {
        this.flush();
        this.client.panicForTesting(id, inTask);
    }
    close() {
        this.flush();
        this.client.close();
    }
    /** Sends everything queued now. */
    flush() {
        this.scheduled = false;
        this.queued = 0;
        if (this.ops.length === 0)
            return;
        const ops = this.ops;
        this.ops = [];
        try {
            this.client.submitBatch(ops);
        }
        catch (error) {
            this.onFlushError(ops, error);
        }
    }
    schedule() {
        if (++this.queued >= SLICE) {
            this.flush();
            return;
        }
        if (this.scheduled)
            return;
        this.scheduled = true;
        queueMicrotask(this.flushNow);
    }
}
exports.NativeQueue = NativeQueue;
/**
 * One native socket. Calls are queued by id; the native side answers in batches
 * (one wake-up of this thread for many results), and results are turned into
 * values here, in the caller's realm.
 */
class Dispatcher {
    native;
    pending = new pending_1.PendingTable();
    nextId = 1;
    constructor(options, role) {
        const client = new binding.NativeClient(options, (batch) => this.settle(batch), ([level, message]) => (0, logger_1.log)(level, message, { role }));
        this.native = new NativeQueue(client, (ops, error) => this.failBatch(ops, error));
    }
    /**
     * Queues one operation. `map` turns the reply into the result; `recover` turns a
     * Redis error into a result (fail-soft services) or rethrows it.
     */
    run(submit, map, recover) {
        const id = this.nextId;
        this.nextId = id === MAX_ID ? 1 : id + 1;
        return new Promise((resolve, reject) => {
            this.pending.add({ id, resolve: resolve, reject, map, recover });
            try {
                submit(id);
            }
            catch (error) {
                this.pending.take(id);
                reject((0, errors_1.fromNative)(error));
            }
        });
    }
    /** `GET key`, without the closure `run` needs: the hottest call of every cache. */
    get(key, map, recover) {
        const id = this.take();
        this.native.get(id, key);
        return this.track(id, map, recover);
    }
    /** `SET key value [EX ttl]`, resolving to the raw reply unless mapped. */
    set(key, value, ttlSeconds, map, recover) {
        const id = this.take();
        this.native.set(id, key, value, ttlSeconds);
        return this.track(id, map, recover);
    }
    /** Any command as `[name, ...args]`. */
    command(args, map, recover) {
        const id = this.take();
        this.native.command(id, args);
        return this.track(id, map, recover);
    }
    get inFlight() {
        return this.pending.size;
    }
    take() {
        const id = this.nextId;
        this.nextId = id === MAX_ID ? 1 : id + 1;
        return id;
    }
    track(id, map, recover) {
        return new Promise((resolve, reject) => {
            this.pending.add({ id, resolve: resolve, reject, map, recover });
        });
    }
    /** A batch native code refused as a whole (a bug, not a Redis error): fail its calls. */
    failBatch(ops, error) {
        const failure = (0, errors_1.fromNative)(error);
        for (const id of batchIds(ops)) {
            const entry = this.pending.take(id);
            if (entry === undefined)
                continue;
            entry.reject(failure);
        }
    }
    settle([ids, failed, payloads]) {
        for (let i = 0; i < ids.length; i++) {
            const entry = this.pending.take(ids[i]);
            if (entry === undefined)
                continue;
            try {
                if (failed[i] === 0) {
                    const reply = payloads[i];
                    entry.resolve(entry.map ? entry.map(reply) : reply);
                }
                else {
                    const [code, message] = payloads[i];
                    const error = new errors_1.RedisLayerError(code, message);
                    if (entry.recover)
                        entry.resolve(entry.recover(error));
                    else
                        entry.reject(error);
                }
            }
            catch (error) {
                entry.reject((0, errors_1.fromNative)(error));
            }
        }
    }
}
exports.Dispatcher = Dispatcher;
const FIELDS = [1, 3, 1, 2, 3, 1];
function batchIds(ops) {
    const ids = [];
    for (let i = 0; i < ops.length; i += 2 + (FIELDS[ops[i]] ?? ops.length))
        ids.push(ops[i + 1]);
    return ids;
}
