"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.Dispatcher = exports.describeTarget = exports.registerScript = void 0;
const errors_1 = require("./errors");
const logger_1 = require("./logger");
const pending_1 = require("./pending");
const queue_1 = require("./queue");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding = require('../binding.js');
exports.registerScript = binding.registerScript;
exports.describeTarget = binding.describeTarget;
const MAX_ID = 0xffffffff;
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
        this.native = new queue_1.NativeQueue(client, (ops, error) => this.failBatch(ops, error));
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
        for (const id of (0, queue_1.batchIds)(ops)) {
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
