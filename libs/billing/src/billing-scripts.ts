/**
 * The two Lua scripts of the money path (DESIGN.md: at most two Redis round trips per request).
 * Each touches only keys of one tenant (hash tag `{t:<tenantId>}`), so it runs on Redis Cluster.
 *
 * Amounts are integer nano-units. Redis stores them as 64-bit integers (INCRBY/DECRBY are exact);
 * Lua compares them as doubles, exact up to 2^53 nano-units (about nine million currency units per
 * wallet), which is far above any prepaid balance this platform holds.
 */

/**
 * AUTHORIZE: rate limits (requests and tokens per minute, per key, customer and tenant) and a hold
 * of the worst-case cost on the customer's balance and on the key's spend, all or nothing.
 *
 * KEYS: 1 balance, 2 key spend, 3 holds zset, 4 hold hash, 5 settled marker,
 *       6..11 per-minute counters: key req, key tok, customer req, customer tok, tenant req, tenant tok
 * ARGV: 1 request id, 2 hold units, 3 token estimate, 4 now ms, 5 hold ttl ms,
 *       6..11 limits in KEYS order (0 = no limit), 12 key spend limit units (-1 = none),
 *       13 customer id, 14 key id
 * Returns: {'OK', balanceAfter} | {'NOBAL'} | {'DUP'} | {'RATE', index, limit, retryAfterSeconds}
 *        | {'FUNDS', balance} | {'SPEND', spent}
 */
export const AUTHORIZE_LUA = `
if redis.call('EXISTS', KEYS[5]) == 1 or redis.call('EXISTS', KEYS[4]) == 1 then return {'DUP'} end
local bal = redis.call('GET', KEYS[1])
if not bal then return {'NOBAL'} end
local hold = tonumber(ARGV[2])
local est = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local retry = 60 - math.floor((now / 1000) % 60)
for i = 6, 11 do
  local limit = tonumber(ARGV[i])
  if limit > 0 then
    local add = 1
    if (i % 2) == 1 then add = est end
    local cur = tonumber(redis.call('GET', KEYS[i]) or '0')
    if cur + add > limit then return {'RATE', tostring(i - 5), tostring(limit), tostring(retry)} end
  end
end
local spendLimit = tonumber(ARGV[12])
if spendLimit >= 0 then
  local spent = tonumber(redis.call('GET', KEYS[2]) or '0')
  if spent + hold > spendLimit then return {'SPEND', tostring(spent)} end
end
if tonumber(bal) < hold then return {'FUNDS', bal} end
local after = redis.call('DECRBY', KEYS[1], ARGV[2])
redis.call('INCRBY', KEYS[2], ARGV[2])
for i = 6, 11 do
  local add = 1
  if (i % 2) == 1 then add = est end
  redis.call('INCRBY', KEYS[i], add)
  redis.call('EXPIRE', KEYS[i], 120)
end
local expires = now + tonumber(ARGV[5])
redis.call('HSET', KEYS[4], 'c', ARGV[13], 'k', ARGV[14], 'amt', ARGV[2], 'tok', ARGV[3], 'exp', tostring(expires))
redis.call('PEXPIRE', KEYS[4], tonumber(ARGV[5]) + 86400000)
redis.call('ZADD', KEYS[3], expires, ARGV[1])
return {'OK', tostring(after)}
`;

/**
 * SETTLE: release the hold, charge the real cost to the balance and the key's spend, correct the
 * token counters, and append the usage event to the tenant's stream, all in one atomic step, so a
 * crash can never separate the charge from its record. Idempotent on the request id (a replay from
 * the spool, or a second call, changes nothing). If the hold is gone (expired and released by the
 * sweeper), the cost is charged all the same.
 *
 * KEYS: 1 balance, 2 key spend, 3 holds zset, 4 hold hash, 5 settled marker, 6 usage stream,
 *       7 key tok counter, 8 customer tok counter, 9 tenant tok counter (current minute)
 * ARGV: 1 request id, 2 cost units, 3 actual tokens, 4 event json, 5 settled marker ttl seconds
 * Returns: {'OK', balanceAfter, streamId} | {'DUP'}
 */
export const SETTLE_LUA = `
if redis.call('EXISTS', KEYS[5]) == 1 then return {'DUP'} end
local held = redis.call('HMGET', KEYS[4], 'amt', 'tok')
local cost = ARGV[2]
if held[1] then
  redis.call('INCRBY', KEYS[1], held[1])
  redis.call('DECRBY', KEYS[2], held[1])
  redis.call('DEL', KEYS[4])
  redis.call('ZREM', KEYS[3], ARGV[1])
  local delta = tonumber(ARGV[3]) - tonumber(held[2] or '0')
  if delta ~= 0 then
    for i = 7, 9 do
      if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], delta) end
    end
  end
end
-- A wallet missing from Redis is loaded from the ledger later, and then includes this charge
-- once it is metered; it is not created here.
local after = ''
if redis.call('EXISTS', KEYS[1]) == 1 then after = redis.call('DECRBY', KEYS[1], cost) end
redis.call('INCRBY', KEYS[2], cost)
local id = redis.call('XADD', KEYS[6], '*', 'e', ARGV[4])
redis.call('SET', KEYS[5], '1', 'EX', tonumber(ARGV[5]))
return {'OK', tostring(after), id}
`;
