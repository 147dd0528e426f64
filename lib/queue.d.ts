import type { NativeClient as NativeClientHandle } from '../binding';
/**
 * The native socket's operations, queued in call order and handed to native code
 * once per microtask turn (or every SLICE calls) as one flat array of records
 * `[kind, id, ...fields]`: one crossing for many commands. Each kind has one method
 * here, which pushes exactly its fields. Operations that are not commands on the
 * socket's lane (connect, scanDelete, close) first send what is queued, so nothing
 * overtakes.
 */
export declare class NativeQueue {
    private readonly client;
    private readonly onFlushError;
    private ops;
    private scheduled;
    private queued;
    private readonly flushNow;
    /** @internal */
    constructor(client: NativeClientHandle, onFlushError: (ops: unknown[], error: unknown) => void);
    get isConnected(): boolean;
    get(id: number, key: string): void;
    set(id: number, key: string, value: string, ttlSeconds?: number | null): void;
    command(id: number, args: string[]): void;
    /** An MGET answered as `[arrayText, [index, raw, ...]]` (src/json_array.rs). */
    jsonArray(id: number, args: string[]): void;
    pipeline(id: number, commands: string[][], atomic: boolean): void;
    script(id: number, handle: number, keys: string[], args: string[]): void;
    connect(id: number): void;
    scanDelete(id: number, pattern: string, count: number): void;
    panicForTesting(id: number, inTask: boolean): void;
    close(): void;
    /** Sends everything queued now. */
    flush(): void;
    private schedule;
}
/** The ids of the records in a submitted batch. */
export declare function batchIds(ops: unknown[]): number[];
