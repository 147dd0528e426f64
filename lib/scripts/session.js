"use strict";
/**
 * Lua for SessionService. Sessions are JSON text written by JSON.stringify (the seed's
 * format). Redis' cjson is not used to rewrite them: a cjson round trip turns `[]` into
 * `{}` and keeps only 14 significant digits. Instead the top-level members are split
 * as raw text and only the members being changed are replaced, so every other byte
 * stays exactly as the writer stored it.
 *
 * Every key a script touches arrives in KEYS. On a cluster the keys of one call
 * (`session:<id>`, `user:<userId>:sessions`, `user:<userId>:session`) would need one
 * shared hash tag; the seed's key strings have none, so these scripts assume one node.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.SESSION_ROTATE = exports.SESSION_LIST = exports.SESSION_DELETE_MANY = exports.SESSION_DELETE = exports.SESSION_EXTEND = exports.SESSION_MERGE = exports.SESSION_CREATE = void 0;
const JSON_MEMBERS = `
local function skip_ws(s, i)
  return (string.find(s, '[^ \\t\\r\\n]', i)) or (#s + 1)
end

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

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function keep_ttl(key, ttl)
  if redis.call('PTTL', key) == -1 then redis.call('PEXPIRE', key, ttl) end
end
`;
/** KEYS: session, user pointer, user index. ARGV: json, idJson, id, sessionTtlMs, userTtlMs. */
exports.SESSION_CREATE = `${JSON_MEMBERS}
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[5])
redis.call('ZADD', KEYS[3], now_ms(), ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return 1
`;
/**
 * KEYS: session. ARGV: ttlMs, key/value pairs (raw JSON; '' removes) from ARGV[3],
 * ARGV[2]: the raw userId the update carries, '' for none.
 * Only an existing session is changed, so a write racing a logout cannot revive it.
 * Reply: {1, merged, userId} | {0} missing | {-1} not an object | {-2} other user.
 */
exports.SESSION_MERGE = `${JSON_MEMBERS}
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
/** KEYS: session. ARGV: ttlMs. Slides an existing, expiring session. Reply: {1, userId} | {0}. */
exports.SESSION_EXTEND = `${JSON_MEMBERS}
if redis.call('PTTL', KEYS[1]) <= 0 then return {0} end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return {1, owner_of(redis.call('GET', KEYS[1])) or false}
`;
/**
 * KEYS: session, user pointer, user index. ARGV: id, raw userId the caller read.
 * Reply: 1 deleted | 0 missing | -1 the session changed hands since the caller read it.
 */
exports.SESSION_DELETE = `${JSON_MEMBERS}
local text = redis.call('GET', KEYS[1])
if not text then
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 0
end
if not same_id(owner_of(text), ARGV[2]) then return -1 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if decoded_string(redis.call('GET', KEYS[2])) == ARGV[1] then
  local latest = redis.call('ZREVRANGE', KEYS[3], 0, 0)[1]
  if latest then
    redis.call('SET', KEYS[2], cjson.encode(latest), 'KEEPTTL')
  else
    redis.call('DEL', KEYS[2])
  end
end
return 1
`;
/**
 * KEYS: user index, user pointer, then one session key per id. ARGV: raw userId, then the ids.
 * Deletes the listed sessions the user owns and forgets the ids. Reply: {deleted, ids left in the index}.
 */
exports.SESSION_DELETE_MANY = `${JSON_MEMBERS}
local pointer = decoded_string(redis.call('GET', KEYS[2]))
local deleted = 0
for i = 3, #KEYS do
  local id = ARGV[i - 1]
  if same_id(owner_of(redis.call('GET', KEYS[i])), ARGV[1]) then
    redis.call('DEL', KEYS[i])
    deleted = deleted + 1
  end
  redis.call('ZREM', KEYS[1], id)
  if pointer == id then redis.call('DEL', KEYS[2]) end
end
return {deleted, redis.call('ZCARD', KEYS[1])}
`;
/**
 * KEYS: user index, then one session key per id. ARGV: raw userId, userTtlMs, then the ids.
 * Returns the live sessions' texts (false where pruned); ids that expired or belong to
 * someone else leave the index, live ones missing from it (written by the seed) join it.
 */
exports.SESSION_LIST = `${JSON_MEMBERS}
local out = {}
local now = now_ms()
for i = 2, #KEYS do
  local id = ARGV[i + 1]
  local text = redis.call('GET', KEYS[i])
  if text and same_id(owner_of(text), ARGV[1]) then
    out[#out + 1] = text
    redis.call('ZADD', KEYS[1], 'NX', now, id)
  else
    out[#out + 1] = false
    redis.call('ZREM', KEYS[1], id)
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then keep_ttl(KEYS[1], ARGV[2]) end
return out
`;
/**
 * KEYS: old session, new session, user index, user pointer. ARGV: oldId, newId, raw userId, userTtlMs.
 * Moves the session (RENAME keeps its TTL) and repoints the index and pointer in one step.
 * Reply: 1 moved | 0 missing | -1 changed hands since the caller read it | -2 new id taken.
 */
exports.SESSION_ROTATE = `${JSON_MEMBERS}
local text = redis.call('GET', KEYS[1])
if not text then return 0 end
if not same_id(owner_of(text), ARGV[3]) then return -1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -2 end
redis.call('RENAME', KEYS[1], KEYS[2])
local score = redis.call('ZSCORE', KEYS[3], ARGV[1]) or now_ms()
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[3], score, ARGV[2])
keep_ttl(KEYS[3], ARGV[4])
if decoded_string(redis.call('GET', KEYS[4])) == ARGV[1] then
  redis.call('SET', KEYS[4], cjson.encode(ARGV[2]), 'KEEPTTL')
end
return 1
`;
