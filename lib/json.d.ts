/** `JSON.stringify` exactly (toJSON, Dates as ISO strings), but a value JSON cannot hold is an error, not `undefined`. */
export declare function toJson(value: unknown, name?: string): string;
/** Parses stored JSON; a value that is not JSON throws a SyntaxError for the caller to treat as a miss. */
export declare function fromJson<T>(text: unknown): T | null;
/** Stored JSON parsed; a value that is not JSON is bad data, logged and answered as a miss (null). */
export declare function parseOrMiss<T>(text: unknown, key: string): T | null;
/**
 * A parsed value of the wrong shape (say, a string where the seed stores an array) is bad
 * data like corrupt JSON: logged and answered as a miss.
 */
export declare function shapedOrMiss<T>(value: unknown, key: string, expected: 'object' | 'array'): T | null;
