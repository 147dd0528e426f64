/**
 * Companion keys that live in the hash slot of a seed key, so one Lua script can
 * touch both on Redis Cluster while the seed key keeps its exact name (the old
 * backend reads it). Redis hashes only the text between the first `{` and the
 * first `}` after it when that text is non-empty, else the whole key.
 */

const SLOTS = 16384;

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The text Redis hashes when it is a non-empty `{…}` section, else undefined (the whole key is hashed). */
export function hashTag(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open === -1) return undefined;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}

/** The cluster slot of a key, as `CLUSTER KEYSLOT` computes it. */
export function slotOf(key: string): number {
  return crc16(Buffer.from(hashTag(key) ?? key, 'utf8')) % SLOTS;
}

const tagsBySlot = new Map<number, string>();

/** A short brace-free tag hashing to `slot`: base-36 counting reaches every slot within a few thousand tries. */
function tagForSlot(slot: number): string {
  let tag = tagsBySlot.get(slot);
  for (let n = 0; tag === undefined; n++) {
    const candidate = n.toString(36);
    if (crc16(Buffer.from(candidate)) % SLOTS === slot) tag = candidate;
  }
  if (tagsBySlot.size >= 1024) tagsBySlot.clear();
  tagsBySlot.set(slot, tag);
  return tag;
}

/**
 * A key of ours in `seedKey`'s slot, named `{seedKey}suffix` (e.g. `{lock:res}:fence`).
 * A seed key that has a hash tag of its own (an id such as `order:{42}`) keeps that
 * tag: `{42}lock:order:{42}:fence`. One that holds a `}` but no usable tag cannot be
 * quoted, so a tag computed for its slot stands in. Every form starts with `{`,
 * which no seed key does, and contains the seed key whole, so names never collide.
 */
export function sameSlotKey(seedKey: string, suffix: string): string {
  const tag = hashTag(seedKey);
  if (tag !== undefined) return `{${tag}}${seedKey}${suffix}`;
  if (!seedKey.includes('}')) return `{${seedKey}}${suffix}`;
  return `{${tagForSlot(slotOf(seedKey))}}${seedKey}${suffix}`;
}
