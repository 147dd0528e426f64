/**
 * Companion keys that live in the hash slot of a seed key, so one Lua script can
 * touch both on Redis Cluster while the seed key keeps its exact name (the old
 * backend reads it). Redis hashes only the text between the first `{` and the
 * first `}` after it when that text is non-empty, else the whole key.
 */
/** The text Redis hashes when it is a non-empty `{…}` section, else undefined (the whole key is hashed). */
export declare function hashTag(key: string): string | undefined;
/** The cluster slot of a key, as `CLUSTER KEYSLOT` computes it. */
export declare function slotOf(key: string): number;
/**
 * For every slot, the first base-36 numeral (`n.toString(36)` for n = 0, 1, 2, …) that
 * hashes to it: a short brace-free tag, the same one for a slot in every process and
 * release, so companion keys already stored keep their names. Built once, on first
 * use, by walking the numerals in order with the CRC of each prefix carried along
 * (one table step per numeral; every slot is reached by four-digit numerals).
 */
export declare function slotTagTable(): readonly string[];
/**
 * A key of ours in `seedKey`'s slot, named `{seedKey}suffix` (e.g. `{lock:res}:fence`).
 * A seed key that has a hash tag of its own (an id such as `order:{42}`) keeps that
 * tag: `{42}lock:order:{42}:fence`. One that holds a `}` but no usable tag cannot be
 * quoted, so a tag computed for its slot stands in. Every form starts with `{`,
 * which no seed key does, and contains the seed key whole, so names never collide.
 */
export declare function sameSlotKey(seedKey: string, suffix: string): string;
