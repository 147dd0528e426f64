"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.Calls = exports.PendingTable = void 0;
const errors_1 = require("./errors");
/**
 * Calls in flight by id: a slot array indexed by the id's low bits, cleared on take.
 * Not a `Map`: a churning Map rehashes, and the backing stores it leaves behind in the
 * old generation keep every call's promise and reply alive until the next full GC.
 * Ids are sequential, so live ones rarely share a slot; the older of two that do moves
 * to a small overflow map.
 */
class PendingTable {
    slots = new Array(1024).fill(undefined);
    mask = 1023;
    overflow = new Map();
    count = 0;
    get size() {
        return this.count;
    }
    add(entry) {
        if (this.count >= this.slots.length >> 1)
            this.grow();
        this.place(entry);
        this.count++;
    }
    take(id) {
        const slot = id & this.mask;
        const entry = this.slots[slot];
        if (entry !== undefined && entry.id === id) {
            this.slots[slot] = undefined;
            this.count--;
            return entry;
        }
        const moved = this.overflow.get(id);
        if (moved !== undefined) {
            this.overflow.delete(id);
            this.count--;
        }
        return moved;
    }
    place(entry) {
        const slot = entry.id & this.mask;
        const occupant = this.slots[slot];
        if (occupant !== undefined)
            this.overflow.set(occupant.id, occupant);
        this.slots[slot] = entry;
    }
    grow() {
        const old = this.slots;
        this.slots = new Array(old.length * 2).fill(undefined);
        this.mask = this.slots.length - 1;
        for (const entry of old)
            if (entry !== undefined)
                this.place(entry);
        // The old array may be in the old generation: leave it pointing at nothing.
        old.fill(undefined);
    }
}
exports.PendingTable = PendingTable;
const MAX_ID = 0xffffffff;
/**
 * The calls in flight on one native socket. A call takes an id, the native side answers
 * by id in batches (`settle`), and each promise settles with its reply turned into a value
 * here, in the caller's realm: `map` turns a reply into the result, `recover` turns a Redis
 * error into a result (fail-soft callers) or, when absent, the promise rejects.
 * @internal
 */
class Calls {
    pending = new PendingTable();
    nextId = 1;
    /** The next call's id. */
    take() {
        const id = this.nextId;
        this.nextId = id === MAX_ID ? 1 : id + 1;
        return id;
    }
    /** The promise of call `id`, settled by `settle` (or `refuse`). */
    track(id, map, recover) {
        return new Promise((resolve, reject) => {
            this.pending.add({ id, resolve: resolve, reject, map, recover });
        });
    }
    /**
     * One call submitted at once rather than queued (operations that are not commands on the
     * socket's lane); native code may refuse it there (a closed socket), which rejects it.
     */
    submit(submit, map, recover) {
        const id = this.take();
        const done = this.track(id, map, recover);
        try {
            submit(id);
        }
        catch (error) {
            this.refuse(id, error);
        }
        return done;
    }
    /** Rejects call `id`, which native code refused before it started (a closed socket, a bug). */
    refuse(id, error) {
        this.pending.take(id)?.reject((0, errors_1.fromNative)(error));
    }
    /** Settles one batch of completions. */
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
exports.Calls = Calls;
