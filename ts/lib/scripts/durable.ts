/**
 * Lua for DurableBroker. A channel's stream and its dead-letter stream share one hash
 * slot (`stream:{<channel>}` and `stream:{<channel>}:dead`, see durableKeys), so one
 * script may touch both on Redis Cluster.
 */

/**
 * KEYS: stream, dead-letter stream. ARGV: group, entry id, minIdleMs, maxDeliveries,
 * dead-letter MAXLEN (approximate), reason.
 * Moves the entry to the dead-letter stream and acknowledges it, if it is still pending in
 * the group, idle for minIdleMs and delivered at least maxDeliveries times (so a consumer
 * that acknowledged or claimed it meanwhile wins). The dead letter carries the entry's
 * fields plus `source` (its id), `group`, `consumer` (its last holder), `deliveries` and
 * `reason`. Reply: 1 moved, 2 acknowledged without a copy (the entry was trimmed), 0 left.
 */
export const DURABLE_DEAD_LETTER = `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[3], ARGV[2], ARGV[2], 1)
if #p == 0 or tonumber(p[1][4]) < tonumber(ARGV[4]) then return 0 end
local entry = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
if #entry == 0 then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
  return 2
end
local fields = entry[1][2]
local n = #fields
fields[n + 1] = 'source'
fields[n + 2] = ARGV[2]
fields[n + 3] = 'group'
fields[n + 4] = ARGV[1]
fields[n + 5] = 'consumer'
fields[n + 6] = p[1][2]
fields[n + 7] = 'deliveries'
fields[n + 8] = tostring(p[1][4])
fields[n + 9] = 'reason'
fields[n + 10] = ARGV[6]
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', unpack(fields))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

/**
 * KEYS: stream. ARGV: group, consumer.
 * Removes the consumer from the group if it holds no pending entry (removing one that does
 * would drop its entries from the pending list, and so from redelivery). Reply: 1 removed, 0 kept.
 */
export const DURABLE_FORGET_CONSUMER = `
local ok, held = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if not ok or #held > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
`;
