"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.NativeQueue = void 0;
exports.batchIds = batchIds;
const native_1 = require("./native");
// Record kinds of `NativeClient.submitBatch` and their field counts, read once from the
// binding (src/records.rs `OpKind`). `OpKind` is a const enum to the type checker; this
// is the object the binding exports.
const Kind = native_1.binding.OpKind;
const GET = Kind.Get;
const SET = Kind.Set;
const COMMAND = Kind.Command;
const PIPELINE = Kind.Pipeline;
const SCRIPT = Kind.Script;
const JSON_ARRAY = Kind.JsonArray;
/** Fields after `[kind, id]` in a record, by kind. */
const FIELDS = [];
for (const kind of Object.values(Kind))
    FIELDS[kind] = native_1.binding.opFields(kind);
/**
 * Calls sent together at most. Many callers resumed by one batch of replies would
 * otherwise all queue up before the first is sent, and Redis would sit idle while this
 * thread runs them, then this thread while Redis answers: slices let the two overlap.
 */
const SLICE = 16;
/**
 * The native socket's operations, queued in call order and handed to native code
 * once per microtask turn (or every SLICE calls) as one flat array of records
 * `[kind, id, ...fields]`: one crossing for many commands. Each kind has one method
 * here, which pushes exactly its fields. Operations that are not commands on the
 * socket's lane (connect, scanDelete, close) first send what is queued, so nothing
 * overtakes.
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
/** The ids of the records in a submitted batch. */
function batchIds(ops) {
    const ids = [];
    for (let i = 0; i < ops.length; i += 2 + (FIELDS[ops[i]] ?? ops.length))
        ids.push(ops[i + 1]);
    return ids;
}
