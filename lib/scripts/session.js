"use strict";
/**
 * Lua for SessionService. Sessions are JSON text written by JSON.stringify (the seed's
 * format). Redis' cjson is not used to rewrite them: a cjson round trip turns `[]` into
 * `{}` and keeps only 14 significant digits. Instead the top-level members are split
 * as raw text and only the members being changed are replaced, so every other byte
 * stays exactly as the writer stored it.
 *
 * Every key a script touches arrives in KEYS, and every script stays in one hash slot
 * so it runs on Redis Cluster too: either one `session:<id>` key, or the user's pair
 * `user:<userId>:session` (the seed's pointer) + `{user:<userId>:session}:index` (ours,
 * tagged into the pointer's slot). A session and its user's keys cannot share a slot
 * (both names are the seed's), so SessionService orders single-slot steps instead.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.SESSION_PRUNE = exports.SESSION_IDS = exports.SESSION_UNINDEX = exports.SESSION_INDEX_TOUCH = exports.SESSION_INDEX_ADD = exports.SESSION_TAKE = exports.SESSION_DELETE_OWNED = exports.SESSION_EXTEND = exports.SESSION_MERGE = exports.SESSION_MERGE_FULL = void 0;
const JSON_VALUES = `
local function string_end(s, i)
  local j = i + 1
  while true do
    local k = string.find(s, '["\\\\]', j)
    if not k then return nil end
    if string.sub(s, k, k) == '"' then return k end
    j = k + 2
  end
end

local function value_end(s, i)
  local c = string.sub(s, i, i)
  if c == '"' then return string_end(s, i) end
  if c == '{' or c == '[' then
    local depth = 0
    local j = i
    while true do
      local k = string.find(s, '[%[%]{}"]', j)
      if not k then return nil end
      local ch = string.sub(s, k, k)
      if ch == '"' then
        k = string_end(s, k)
        if not k then return nil end
      elseif ch == '{' or ch == '[' then
        depth = depth + 1
      else
        depth = depth - 1
        if depth == 0 then return k end
      end
      j = k + 1
    end
  end
  local k = string.find(s, '[,}%]%s]', i)
  if not k or k == i then return nil end
  return k - 1
end
`;
/** Enough to change members of compact JSON in place; the lean scripts' prelude. */
const JSON_SPLICE = `${JSON_VALUES}
-- Where the top-level member \`key\` (raw, quoted) sits in compact JSON such as
-- JSON.stringify writes: key start, value start, value end; 0 when the key text
-- occurs nowhere; nil when a quick reading cannot be sure (then members() decides).
-- Plain C-speed finds instead of members()' walk, which cost tens of microseconds of
-- the server's one thread per call. Before the first backslash no '"' is escaped, so
-- the needle's quote opens the key itself; before the second '{' no nested object
-- is open, so the key is at the top level (a key cannot sit directly in an array).
local function find_member(s, key)
  local needle = key .. ':'
  local p = string.find(s, needle, 1, true)
  if not p then
    if string.find(s, key, 1, true) then return nil end
    return 0
  end
  if string.find(s, needle, p + 1, true) then return nil end
  local slash = string.find(s, '\\\\', 1, true)
  if slash and slash < p then return nil end
  local nested = string.find(s, '{', 2, true)
  if nested and nested < p then
    -- Count brackets outside strings: depth 1 means the top level.
    local bare = string.gsub(string.sub(s, 1, p - 1), '"[^"]*"', '')
    if string.find(bare, '"', 1, true) then return nil end
    local _, opens = string.gsub(bare, '[{%[]', '')
    local _, closes = string.gsub(bare, '[}%]]', '')
    if opens - closes ~= 1 then return nil end
  end
  local v = p + #needle
  local e = value_end(s, v)
  if not e then return nil end
  return p, v, e
end

-- merge() by splicing the text in place, or nil when find_member is unsure of a key
-- or a member is to be removed.
local function quick_merge(s, updates, first)
  for u = first, #updates, 2 do
    local k, v = updates[u], updates[u + 1]
    if v == '' then return nil end
    local p, vs, ve = find_member(s, k)
    if p == nil then return nil end
    if p == 0 then
      if string.sub(s, -1) ~= '}' then return nil end
      local sep = ','
      if s == '{}' then sep = '' end
      s = string.sub(s, 1, -2) .. sep .. k .. ':' .. v .. '}'
    else
      s = string.sub(s, 1, vs - 1) .. v .. string.sub(s, ve + 1)
    end
  end
  return s
end
`;
const JSON_MEMBERS = `${JSON_VALUES}
local function skip_ws(s, i)
  return (string.find(s, '[^ \\t\\r\\n]', i)) or (#s + 1)
end

-- The members of a JSON object as a flat list {rawKey, rawValue, ...}, or nil when
-- the text is not an object.
local function members(s)
  local out = {}
  local i = skip_ws(s, 1)
  if string.sub(s, i, i) ~= '{' then return nil end
  i = skip_ws(s, i + 1)
  if string.sub(s, i, i) == '}' then return out end
  while true do
    if string.sub(s, i, i) ~= '"' then return nil end
    local key_end = string_end(s, i)
    if not key_end then return nil end
    local key = string.sub(s, i, key_end)
    i = skip_ws(s, key_end + 1)
    if string.sub(s, i, i) ~= ':' then return nil end
    i = skip_ws(s, i + 1)
    local v_end = value_end(s, i)
    if not v_end then return nil end
    out[#out + 1] = key
    out[#out + 1] = string.sub(s, i, v_end)
    i = skip_ws(s, v_end + 1)
    local c = string.sub(s, i, i)
    if c == '}' then return out end
    if c ~= ',' then return nil end
    i = skip_ws(s, i + 1)
  end
end

local function field(list, key)
  local found = nil
  for i = 1, #list, 2 do
    if list[i] == key then found = list[i + 1] end
  end
  return found
end

-- Same order and semantics as JSON.stringify({...stored, ...updates}); '' removes a
-- member (what JSON.stringify does with an undefined value).
local function merge(list, updates, first)
  local at = {}
  for i = 1, #list, 2 do at[list[i]] = i end
  for u = first, #updates, 2 do
    local k, v = updates[u], updates[u + 1]
    if at[k] then
      list[at[k] + 1] = v
    elseif v ~= '' then
      list[#list + 1] = k
      list[#list + 1] = v
      at[k] = #list - 1
    end
  end
  local parts = {}
  for i = 1, #list, 2 do
    if list[i + 1] ~= '' then parts[#parts + 1] = list[i] .. ':' .. list[i + 1] end
  end
  return '{' .. table.concat(parts, ',') .. '}'
end

-- Two JSON scalars naming the same id: '"42"' and '42' count as one user, as they
-- name the same Redis keys.
local function same_id(a, b)
  if a == nil or b == nil then return false end
  if a == b then return true end
  local ok_a, da = pcall(cjson.decode, a)
  local ok_b, db = pcall(cjson.decode, b)
  if not ok_a or not ok_b then return false end
  local ta, tb = type(da), type(db)
  if (ta ~= 'string' and ta ~= 'number') or (tb ~= 'string' and tb ~= 'number') then return false end
  return tostring(da) == tostring(db)
end

local function owner_of(text)
  if not text then return nil end
  local list = members(text)
  return list and field(list, '"userId"')
end

local function decoded_string(text)
  if not text then return nil end
  local ok, value = pcall(cjson.decode, text)
  if ok and type(value) == 'string' then return value end
  return nil
end
`;
/**
 * The index's clock. An entry's score is an upper bound on its session's expiry (ms on
 * this node's clock), so entries scored in the past name sessions that are gone, and
 * the index key itself lives as long as its latest bound.
 */
const INDEX_TIME = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function keep_until(key, bound, now)
  local left = redis.call('PTTL', key)
  if left == -1 or left < bound - now then redis.call('PEXPIREAT', key, bound) end
end
`;
/**
 * KEYS: session. ARGV: ttlMs, key/value pairs (raw JSON; '' removes) from ARGV[3],
 * ARGV[2]: the raw userId the update names, which must be the owner's ('' for none).
 * Only an existing session is changed, so a write racing a logout cannot revive it.
 * Reply: {1, merged, userId} | {0} missing | {-1} not an object | {-2} other user.
 */
exports.SESSION_MERGE_FULL = `${JSON_MEMBERS}
local text = redis.call('GET', KEYS[1])
if not text then return {0} end
local list = members(text)
if not list then return {-1} end
local owner = field(list, '"userId"')
if ARGV[2] ~= '' and not same_id(owner, ARGV[2]) then return {-2} end
local merged = merge(list, ARGV, 3)
redis.call('SET', KEYS[1], merged, 'PX', ARGV[1])
return {1, merged, owner or false}
`;
/**
 * SESSION_MERGE_FULL's common case at a fraction of its cost: members spliced in place
 * (getSession's lastActivity, plain updates). Same KEYS, ARGV and replies but for the
 * owner, which the caller reads from the merged text it parses anyway, plus {-3}
 * when the text or the update needs the full script (escapes before a key, a removal,
 * an owner check), which the caller then runs.
 */
exports.SESSION_MERGE = `${JSON_SPLICE}
if ARGV[2] ~= '' then return {-3} end
local text = redis.call('GET', KEYS[1])
if not text then return {0} end
if string.byte(text, 1) ~= 123 then return {-3} end
local merged = quick_merge(text, ARGV, 3)
if not merged then return {-3} end
redis.call('SET', KEYS[1], merged, 'PX', ARGV[1])
return {1, merged}
`;
/** KEYS: session. ARGV: ttlMs. Slides an existing, expiring session. Reply: {1, userId} | {0}. */
exports.SESSION_EXTEND = `${JSON_MEMBERS}
if redis.call('PTTL', KEYS[1]) <= 0 then return {0} end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return {1, owner_of(redis.call('GET', KEYS[1])) or false}
`;
/**
 * KEYS: session. ARGV: raw userId the caller read.
 * Reply: 1 deleted | 0 missing | -1 the session changed hands since the caller read it.
 */
exports.SESSION_DELETE_OWNED = `${JSON_MEMBERS}
local text = redis.call('GET', KEYS[1])
if not text then return 0 end
if not same_id(owner_of(text), ARGV[1]) then return -1 end
redis.call('DEL', KEYS[1])
return 1
`;
/**
 * KEYS: session. ARGV: the text the caller copied, '' to only look.
 * Deletes the session only while it still holds that text (rotation's compare-and-delete).
 * Reply: {1} deleted | {0} missing | {2, text, pttl} it holds something else.
 */
exports.SESSION_TAKE = `
local text = redis.call('GET', KEYS[1])
if not text then return {0} end
if ARGV[1] ~= '' and text == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return {1}
end
return {2, text, redis.call('PTTL', KEYS[1])}
`;
/**
 * KEYS: user index, user pointer. ARGV: id, pointer JSON ('' leaves the pointer alone),
 * pointerTtlMs, horizonMs (the new entry's score is now + horizonMs), cap (0 = none).
 * Forgets entries whose bound has passed, then adds the id. An index whose TTL exceeds
 * the horizon predates expiry bounds: its entries get the widest bound instead.
 * Reply: the ids beyond the cap, least recently active first (never the id added); the
 * caller deletes their sessions and then unindexes them, so no live session is ever
 * left out of the index.
 */
exports.SESSION_INDEX_ADD = `${INDEX_TIME}
local now = now_ms()
local bound = now + tonumber(ARGV[4])
if redis.call('PTTL', KEYS[1]) > tonumber(ARGV[4]) then
  -- Written by an earlier build (scored by creation time, kept 30 days): any entry may
  -- name a live session, and every live session expires within the horizon.
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do redis.call('ZADD', KEYS[1], 'GT', bound, id) end
  redis.call('PEXPIREAT', KEYS[1], bound)
else
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
end
redis.call('ZADD', KEYS[1], 'GT', bound, ARGV[1])
keep_until(KEYS[1], bound, now)
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
local cap = tonumber(ARGV[5])
local over = redis.call('ZCARD', KEYS[1]) - cap
local evict = {}
if cap > 0 and over > 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, over)) do
    if id ~= ARGV[1] and #evict < over then evict[#evict + 1] = id end
  end
end
return evict
`;
/**
 * KEYS: user index. ARGV: id, horizonMs. Raises an indexed id's bound to now + horizonMs
 * (a session that slid), never lowers it, never adds an id.
 */
exports.SESSION_INDEX_TOUCH = `${INDEX_TIME}
local now = now_ms()
local bound = now + tonumber(ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], 'GT', bound, ARGV[1])
  keep_until(KEYS[1], bound, now)
end
return 1
`;
/**
 * KEYS: user index, user pointer. ARGV: the id the pointer moves to if it names one of
 * the ids ('' = the latest id left, or no pointer), then the ids to forget.
 * Reply: the number of ids left in the index.
 */
exports.SESSION_UNINDEX = `${JSON_MEMBERS}
local pointer = decoded_string(redis.call('GET', KEYS[2]))
local named = false
for i = 2, #ARGV do
  redis.call('ZREM', KEYS[1], ARGV[i])
  if pointer == ARGV[i] then named = true end
end
if named then
  local next_id = ARGV[1]
  if next_id == '' then next_id = redis.call('ZREVRANGE', KEYS[1], 0, 0)[1] end
  if next_id then
    redis.call('SET', KEYS[2], cjson.encode(next_id), 'KEEPTTL')
  else
    redis.call('DEL', KEYS[2])
  end
end
return redis.call('ZCARD', KEYS[1])
`;
/**
 * KEYS: user index, user pointer. Reply: {pointer text or nil, id, score, id, score, ...},
 * newest first (scores as the strings ZSCORE answers, for SESSION_PRUNE).
 */
exports.SESSION_IDS = `
local out = {redis.call('GET', KEYS[2])}
local ranked = redis.call('ZREVRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #ranked do out[i + 1] = ranked[i] end
return out
`;
/**
 * KEYS: user index. ARGV: horizonMs, n, then n (id, score) pairs to forget, then ids to
 * add (scored now + horizonMs). An entry is forgotten only while it keeps the score the
 * caller read, so an id re-created since (a caller-chosen id) stays indexed.
 */
exports.SESSION_PRUNE = `${INDEX_TIME}
local dead = tonumber(ARGV[2])
for i = 3, 2 + dead * 2, 2 do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) == ARGV[i + 1] then redis.call('ZREM', KEYS[1], ARGV[i]) end
end
local now = now_ms()
local bound = now + tonumber(ARGV[1])
local added = false
for i = 3 + dead * 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'NX', bound, ARGV[i])
  added = true
end
if added then keep_until(KEYS[1], bound, now) end
return 1
`;
