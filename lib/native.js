"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.Dispatcher = exports.registerScript = void 0;
const errors_1 = require("./errors");
const logger_1 = require("./logger");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding = require('../binding.js');
exports.registerScript = binding.registerScript;
const MAX_ID = 0xffffffff;
/**
 * One native socket. Calls are queued by id; the native side answers in batches
 * (one wake-up of this thread for many results), and results are turned into
 * values here, in the caller's realm.
 */
class Dispatcher {
    native;
    pending = new Map();
    nextId = 1;
    constructor(options, role) {
        this.native = new binding.NativeClient(options, (batch) => this.settle(batch), ([level, message]) => (0, logger_1.log)(level, message, { role }));
    }
    /**
     * Queues one operation. `map` turns the reply into the result; `recover` turns a
     * Redis error into a result (fail-soft services) or rethrows it.
     */
    run(submit, map, recover) {
        const id = this.nextId;
        this.nextId = id === MAX_ID ? 1 : id + 1;
        return new Promise((resolve, reject) => {
            this.pending.set(id, { resolve: resolve, reject, map, recover });
            try {
                submit(id);
            }
            catch (error) {
                this.pending.delete(id);
                reject((0, errors_1.fromNative)(error));
            }
        });
    }
    get inFlight() {
        return this.pending.size;
    }
    settle(batch) {
        for (let i = 0; i < batch.length; i += 3) {
            const entry = this.pending.get(batch[i]);
            if (entry === undefined)
                continue;
            this.pending.delete(batch[i]);
            try {
                if (batch[i + 1] === true) {
                    const reply = batch[i + 2];
                    entry.resolve(entry.map ? entry.map(reply) : reply);
                }
                else {
                    const [code, message] = batch[i + 2];
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
