/** Every error redis-layer raises for Redis trouble carries a stable `code`. */
export declare class RedisLayerError extends Error {
    readonly code: string;
    constructor(code: string, message: string);
}
/** Re-creates errors from the native side in this realm, so `instanceof Error` holds under Jest too. */
export declare function fromNative(error: unknown): Error;
export declare function requireString(value: unknown, name: string): string;
export declare function requireStringArray(value: unknown, name: string): string[];
/** The id of an entity the backend hands in (a user, a post); a bad one is a TypeError naming `name`. */
export declare function requireEntityId(entity: unknown, name: string): string;
/** A TTL in whole seconds: undefined/null/0 mean none (as the seed's `if (ttlSeconds)`), fractions round up. */
export declare function optionalTtl(value: unknown, name: string): number | undefined;
export declare function requireTtl(value: unknown, name: string): number;
export declare function describeType(value: unknown): string;
/** A rejected promise for bad input, so async-shaped methods never throw synchronously. */
export declare function rejectWith<T>(build: () => T): Promise<T>;
/**
 * A reply of a shape the caller cannot use (another client's MULTI left the socket
 * queuing, a proxy in the way): an error, never a guessed value. The message names the
 * shape only, never the content, which may hold a credential.
 */
export declare function unexpectedReply(what: string, reply: unknown): RedisLayerError;
