/**
 * Lua shared by the work-queue scripts (work.repository.ts) and the scripts that finish work atomically with its
 * result (batch.repository.ts, job.repository.ts). Every time is Redis' clock (TIME), so replicas whose clocks
 * disagree still agree on which leases expired.
 */

/** `now` in ms, and the owner (batch or job) of a member: the part before the first colon. */
export const LUA_COMMON = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nowSec = tonumber(t[1])
local function ms(x) return string.format('%d', x) end
local function ownerOf(m)
  local i = string.find(m, ':', 1, true)
  if i then return string.sub(m, 1, i - 1) end
  return m
end
local function dropOwner(owners, m)
  local o = ownerOf(m)
  if redis.call('HINCRBY', owners, o, -1) <= 0 then redis.call('HDEL', owners, o) end
end
-- Lets go of a claim when the token still holds it (a runner whose lease expired holds nothing any more).
local function release(running, holders, tries, owners, m, token, final)
  if redis.call('HGET', holders, m) ~= token then return 0 end
  redis.call('ZREM', running, m)
  redis.call('HDEL', holders, m)
  if final then redis.call('HDEL', tries, m) end
  dropOwner(owners, m)
  return 1
end
`;
