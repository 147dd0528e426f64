"use strict";
/**
 * Companion keys that live in the hash slot of a seed key, so one Lua script can
 * touch both on Redis Cluster while the seed key keeps its exact name (the old
 * backend reads it). Redis hashes only the text between the first `{` and the
 * first `}` after it when that text is non-empty, else the whole key.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.hashTag = hashTag;
exports.slotOf = slotOf;
exports.slotTagTable = slotTagTable;
exports.sameSlotKey = sameSlotKey;
const SLOTS = 16384;
/** CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with, one byte at a time. */
const CRC_TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++)
        crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    CRC_TABLE[i] = crc;
}
const crcStep = (crc, byte) => ((crc << 8) & 0xffff) ^ CRC_TABLE[((crc >> 8) ^ byte) & 0xff];
function crc16(bytes) {
    let crc = 0;
    for (const byte of bytes)
        crc = crcStep(crc, byte);
    return crc;
}
/** The text Redis hashes when it is a non-empty `{…}` section, else undefined (the whole key is hashed). */
function hashTag(key) {
    const open = key.indexOf('{');
    if (open === -1)
        return undefined;
    const close = key.indexOf('}', open + 1);
    return close > open + 1 ? key.slice(open + 1, close) : undefined;
}
/** The cluster slot of a key, as `CLUSTER KEYSLOT` computes it. */
function slotOf(key) {
    return crc16(Buffer.from(hashTag(key) ?? key, 'utf8')) % SLOTS;
}
const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz';
let slotTags;
/**
 * For every slot, the first base-36 numeral (`n.toString(36)` for n = 0, 1, 2, …) that
 * hashes to it: a short brace-free tag, the same one for a slot in every process and
 * release, so companion keys already stored keep their names. Built once, on first
 * use, by walking the numerals in order with the CRC of each prefix carried along
 * (one table step per numeral; every slot is reached by four-digit numerals).
 */
function slotTagTable() {
    if (slotTags !== undefined)
        return slotTags;
    const tags = new Array(SLOTS);
    let missing = SLOTS;
    const visit = (prefix, crc, more, first) => {
        for (let d = first; d < DIGITS.length && missing > 0; d++) {
            const next = crcStep(crc, DIGITS.charCodeAt(d));
            if (more > 1) {
                visit(prefix + DIGITS[d], next, more - 1, 0);
            }
            else if (tags[next % SLOTS] === undefined) {
                tags[next % SLOTS] = prefix + DIGITS[d];
                missing--;
            }
        }
    };
    // Numerals of each length in increasing order; only '0' itself starts with a 0.
    visit('', 0, 1, 0);
    for (let length = 2; missing > 0; length++)
        visit('', 0, length, 1);
    slotTags = Object.freeze(tags);
    return slotTags;
}
/**
 * A key of ours in `seedKey`'s slot, named `{seedKey}suffix` (e.g. `{lock:res}:fence`).
 * A seed key that has a hash tag of its own (an id such as `order:{42}`) keeps that
 * tag: `{42}lock:order:{42}:fence`. One that holds a `}` but no usable tag cannot be
 * quoted, so a tag computed for its slot stands in. Every form starts with `{`,
 * which no seed key does, and contains the seed key whole, so names never collide.
 */
function sameSlotKey(seedKey, suffix) {
    const tag = hashTag(seedKey);
    if (tag !== undefined)
        return `{${tag}}${seedKey}${suffix}`;
    if (!seedKey.includes('}'))
        return `{${seedKey}}${suffix}`;
    return `{${slotTagTable()[slotOf(seedKey)]}}${seedKey}${suffix}`;
}
