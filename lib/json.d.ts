/** `JSON.stringify` exactly (toJSON, Dates as ISO strings), but a value JSON cannot hold is an error, not `undefined`. */
export declare function toJson(value: unknown, name?: string): string;
/** Parses stored JSON; a value that is not JSON throws a SyntaxError for the caller to treat as a miss. */
export declare function fromJson<T>(text: unknown): T | null;
