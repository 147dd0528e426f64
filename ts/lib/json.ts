/** `JSON.stringify` exactly (toJSON, Dates as ISO strings), but a value JSON cannot hold is an error, not `undefined`. */
export function toJson(value: unknown, name = 'value'): string {
  const text = JSON.stringify(value);
  if (text === undefined) {
    throw new TypeError(`${name} cannot be represented as JSON (${value === undefined ? 'undefined' : typeof value})`);
  }
  return text;
}

/** Parses stored JSON; a value that is not JSON throws a SyntaxError for the caller to treat as a miss. */
export function fromJson<T>(text: unknown): T | null {
  if (text === null || text === undefined) return null;
  if (typeof text !== 'string') throw new SyntaxError('stored value is not a string');
  return JSON.parse(text) as T;
}
