/**
 * The two Lua scripts of the money path (DESIGN.md: at most two Redis round trips per request).
 *
 * Each call carries a batch: the requests of ONE tenant that reached the same step in the same turn
 * of the event loop (see BillingEngine). Items are processed one after the other, exactly as
 * separate calls would be, and each gets its own reply; an item that raises an error gets
 * {'ERR', message} and the others go on.
 *
 * Keys: KEYS[1] is the tenant's holds set, which routes the call; every other key is built in the
 * script from ARGV[1], the tenant's hash tag `{t:<tenantId>}` (the layout of redis-keys.ts), so all
 * of them hash to KEYS[1]'s slot and the scripts run unchanged on Redis Cluster (which refuses only
 * keys of another slot). Sending names instead of full keys keeps a request's share of the call
 * small.
 *
 * Amounts are integer nano-units. Redis stores them as 64-bit integers (INCRBY/DECRBY are exact);
 * Lua compares them as doubles, exact up to 2^53 nano-units (about nine million currency units per
 * wallet), which is far above any prepaid balance this platform holds.
 */

/** Number of ARGV entries per item of AUTHORIZE_LUA. */
export const AUTHORIZE_ITEM_ARGS = 19;

/**
 * AUTHORIZE: rate limits (requests and tokens per minute, per key, customer and tenant), concurrency
 * caps (a bulkhead per key and customer: a sorted set of leases scored by expiry, so a request whose
 * process died frees its slot when its lease runs out) and a hold of the worst-case cost on the
 * customer's balance and on the key's spend, all or nothing.
 *
 * KEYS: 1 the tenant's holds zset
 * ARGV: 1 hash tag, 2 hold ttl ms, then per item (AUTHORIZE_ITEM_ARGS):
 *       request id, customer id, key id, hold units, token estimate, now ms, minute,
 *       6 limits (key req, key tok, customer req, customer tok, tenant req, tenant tok; 0 = none),
 *       key spend limit units (-1 = none), key concurrency cap, customer concurrency cap (0 = none),
 *       lease ms, budgets ('name=limitUnits,...' with names relative to the hash tag, e.g.
 *       `bud:c:<customerId>:d:2026-12-03`; '' = none),
 *       hour and day windows ('name=limit,...' with names relative to the hash tag, e.g.
 *       `rl:c:<customerId>:req:h:<hourId>` or `rl:t:tok:d:2026-12-03`: ':tok:' counts the token
 *       estimate, else 1; ':d:' keeps the counter two days, else two hours; '' = none, and then the
 *       windows cost one string compare)
 * Returns per item: {'OK', balanceAfter, reqLimit, reqRemaining, tokLimit, tokRemaining, resetSeconds}
 *                   (the tightest per-minute scope of each kind after this request; limit '0' = no limit)
 *                 | {'NOBAL'} | {'DUP'} | {'RATE', index, limit, retryAfterSeconds} | {'WINDOW', name, limit}
 *                 | {'CONC', index (1 key, 2 customer), cap} | {'BUDGET', name, spent, limit} | {'FUNDS', balance} | {'SPEND', spent} | {'ERR', message}
 */
export const AUTHORIZE_LUA = `
local tag = ARGV[1]
local ttl = tonumber(ARGV[2])
local function authorize(b)
  local rid, cust, key = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local holdArg, estArg = ARGV[b + 4], ARGV[b + 5]
  local now, minute = tonumber(ARGV[b + 6]), ARGV[b + 7]
  local holdKey = tag .. ':hold:' .. rid
  if redis.call('EXISTS', tag .. ':settled:' .. rid) == 1 or redis.call('EXISTS', holdKey) == 1 then return {'DUP'} end
  local balKey = tag .. ':bal:' .. cust
  local bal = redis.call('GET', balKey)
  if not bal then return {'NOBAL'} end
  local hold = tonumber(holdArg)
  local est = tonumber(estArg)
  local retry = 60 - math.floor((now / 1000) % 60)
  local rate = {
    tag .. ':rl:k:' .. key .. ':req:' .. minute, tag .. ':rl:k:' .. key .. ':tok:' .. minute,
    tag .. ':rl:c:' .. cust .. ':req:' .. minute, tag .. ':rl:c:' .. cust .. ':tok:' .. minute,
    tag .. ':rl:t:req:' .. minute, tag .. ':rl:t:tok:' .. minute,
  }
  local cur = {}
  for i = 1, 6 do
    local limit = tonumber(ARGV[b + 7 + i])
    if limit > 0 then
      local add = 1
      if (i % 2) == 0 then add = est end
      cur[i] = tonumber(redis.call('GET', rate[i]) or '0')
      if cur[i] + add > limit then return {'RATE', tostring(i), tostring(limit), tostring(retry)} end
    end
  end
  -- Hour and day windows, only when the request has any.
  local wins, winAdds, winTok = ARGV[b + 19], nil, nil
  if wins ~= '' then
    wins, winAdds, winTok = {}, {}, {}
    for name, limit in string.gmatch(ARGV[b + 19], '([^=,]+)=(%d+)') do
      local add = 1
      if string.find(name, ':tok:', 1, true) then add = est; winTok[#winTok + 1] = name end
      if tonumber(redis.call('GET', tag .. ':' .. name) or '0') + add > tonumber(limit) then return {'WINDOW', name, limit} end
      wins[#wins + 1] = name
      winAdds[#winAdds + 1] = add
    end
  end
  local slots = { tag .. ':cc:k:' .. key, tag .. ':cc:c:' .. cust }
  for i = 1, 2 do
    local cap = tonumber(ARGV[b + 14 + i])
    if cap > 0 then
      redis.call('ZREMRANGEBYSCORE', slots[i], '-inf', now)
      if redis.call('ZCARD', slots[i]) >= cap then return {'CONC', tostring(i), tostring(cap)} end
    end
  end
  local spendKey = tag .. ':kspend:' .. key
  local spendLimit = tonumber(ARGV[b + 14])
  if spendLimit >= 0 then
    local spent = tonumber(redis.call('GET', spendKey) or '0')
    if spent + hold > spendLimit then return {'SPEND', tostring(spent)} end
  end
  -- Budgets of the current periods: spent (charges and open holds) plus this hold within each.
  local buds = {}
  for name, limit in string.gmatch(ARGV[b + 18], '([^=,]+)=(%d+)') do
    local spent = tonumber(redis.call('GET', tag .. ':' .. name) or '0')
    if spent + hold > tonumber(limit) then return {'BUDGET', name, string.format('%.0f', spent), limit} end
    buds[#buds + 1] = name
  end
  if tonumber(bal) < hold then return {'FUNDS', bal} end
  local after = redis.call('DECRBY', balKey, holdArg)
  for _, name in ipairs(buds) do
    redis.call('INCRBY', tag .. ':' .. name, holdArg)
    -- A period's counter outlives the longest period (a month) and then goes.
    redis.call('EXPIRE', tag .. ':' .. name, 3456000)
  end
  redis.call('INCRBY', spendKey, holdArg)
  for i = 1, 6 do
    local add = 1
    if (i % 2) == 0 then add = est end
    -- A counter gets its expiry when this minute creates it.
    if redis.call('INCRBY', rate[i], add) == add then redis.call('EXPIRE', rate[i], 120) end
  end
  if winAdds then
    for i, name in ipairs(wins) do
      -- An hour's counter lives two hours, a day's two days, from the request that creates it.
      if redis.call('INCRBY', tag .. ':' .. name, winAdds[i]) == winAdds[i] then
        if string.find(name, ':d:', 1, true) then redis.call('EXPIRE', tag .. ':' .. name, 172800) else redis.call('EXPIRE', tag .. ':' .. name, 7200) end
      end
    end
  end
  local lease = tonumber(ARGV[b + 17])
  for i = 1, 2 do
    if tonumber(ARGV[b + 14 + i]) > 0 then
      redis.call('ZADD', slots[i], now + lease, rid)
      redis.call('PEXPIRE', slots[i], lease + 60000)
    end
  end
  local expires = now + ttl
  redis.call('HSET', holdKey, 'c', cust, 'k', key, 'amt', holdArg, 'tok', estArg, 'exp', tostring(expires))
  if #buds > 0 then redis.call('HSET', holdKey, 'bud', table.concat(buds, ',')) end
  -- The token windows the estimate went on: settlement corrects exactly these.
  if winTok and #winTok > 0 then redis.call('HSET', holdKey, 'rw', table.concat(winTok, ',')) end
  redis.call('PEXPIRE', holdKey, ttl + 86400000)
  redis.call('ZADD', KEYS[1], expires, rid)
  -- What is left after this request in the tightest scope of each kind (the x-ratelimit headers).
  local info = {'0', '0', '0', '0'}
  for i = 1, 6 do
    local limit = tonumber(ARGV[b + 7 + i])
    if limit > 0 then
      local add = 1
      local j = 1
      if (i % 2) == 0 then add = est; j = 3 end
      local rem = limit - cur[i] - add
      if info[j] == '0' or rem < tonumber(info[j + 1]) then info[j] = ARGV[b + 7 + i]; info[j + 1] = string.format('%d', rem) end
    end
  end
  return {'OK', tostring(after), info[1], info[2], info[3], info[4], tostring(retry)}
end
local out = {}
for b = 2, #ARGV - 1, ${AUTHORIZE_ITEM_ARGS} do
  local ok, reply = pcall(authorize, b)
  if ok then out[#out + 1] = reply else out[#out + 1] = {'ERR', tostring(type(reply) == 'table' and reply.err or reply)} end
end
return out
`;

/** Number of ARGV entries per item of SETTLE_LUA. */
export const SETTLE_ITEM_ARGS = 8;

/**
 * SETTLE: release the hold, charge the real cost to the balance and the key's spend, correct the
 * token counters (the minute's, and the hour and day windows the hold lists in 'rw'), and append the usage event to the tenant's stream, all in one step per item, so a
 * crash can never separate the charge from its record. Idempotent on the request id (a replay from
 * the spool, or a second call, changes nothing). If the hold is gone (expired and released by the
 * sweeper), the cost is charged all the same.
 *
 * KEYS: 1 the tenant's holds zset
 * ARGV: 1 hash tag, 2 settled marker ttl seconds, then per item (SETTLE_ITEM_ARGS):
 *       request id, customer id, key id, cost units, actual tokens, minute, event json,
 *       budget counters of the request's periods ('name,name', '' = none: charged when the hold is
 *       gone; while it is there, the hold's own list is used)
 * Returns per item: {'OK', balanceAfter, streamId} | {'DUP'} | {'ERR', message}
 */
export const SETTLE_LUA = `
local tag = ARGV[1]
local markerTtl = tonumber(ARGV[2])
local function settle(b)
  local rid, cust, key, cost = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  local settledKey = tag .. ':settled:' .. rid
  if redis.call('EXISTS', settledKey) == 1 then return {'DUP'} end
  local balKey = tag .. ':bal:' .. cust
  local spendKey = tag .. ':kspend:' .. key
  local holdKey = tag .. ':hold:' .. rid
  local held = redis.call('HMGET', holdKey, 'amt', 'tok', 'bud', 'rw')
  -- The budgets of the periods the request was admitted in (a request crossing midnight counts
  -- in the day it started): the hold comes off them and the cost goes on.
  local buds = held[3] or ARGV[b + 8]
  for name in string.gmatch(buds, '[^,]+') do
    if held[1] then redis.call('DECRBY', tag .. ':' .. name, held[1]) end
    redis.call('INCRBY', tag .. ':' .. name, cost)
    redis.call('EXPIRE', tag .. ':' .. name, 3456000)
  end
  if held[1] then
    redis.call('INCRBY', balKey, held[1])
    redis.call('DECRBY', spendKey, held[1])
    redis.call('DEL', holdKey)
    redis.call('ZREM', KEYS[1], rid)
    -- The request's concurrency slots (absent when no cap applied: ZREM of nothing is a no-op).
    redis.call('ZREM', tag .. ':cc:k:' .. key, rid)
    redis.call('ZREM', tag .. ':cc:c:' .. cust, rid)
    local delta = tonumber(ARGV[b + 5]) - tonumber(held[2] or '0')
    if delta ~= 0 then
      local minute = ARGV[b + 6]
      local counters = { tag .. ':rl:k:' .. key .. ':tok:' .. minute, tag .. ':rl:c:' .. cust .. ':tok:' .. minute, tag .. ':rl:t:tok:' .. minute }
      for i = 1, 3 do
        if redis.call('EXISTS', counters[i]) == 1 then redis.call('INCRBY', counters[i], delta) end
      end
      -- The hour and day windows the request was admitted in (the ones it started in).
      if held[4] then
        for name in string.gmatch(held[4], '[^,]+') do
          if redis.call('EXISTS', tag .. ':' .. name) == 1 then redis.call('INCRBY', tag .. ':' .. name, delta) end
        end
      end
    end
  end
  -- A wallet missing from Redis is loaded from the ledger later, and then includes this charge
  -- once it is metered; it is not created here.
  local after = ''
  if redis.call('EXISTS', balKey) == 1 then after = redis.call('DECRBY', balKey, cost) end
  redis.call('INCRBY', spendKey, cost)
  local id = redis.call('XADD', tag .. ':usage', '*', 'e', ARGV[b + 7])
  redis.call('SET', settledKey, '1', 'EX', markerTtl)
  return {'OK', tostring(after), id}
end
local out = {}
for b = 2, #ARGV - 1, ${SETTLE_ITEM_ARGS} do
  local ok, reply = pcall(settle, b)
  if ok then out[#out + 1] = reply else out[#out + 1] = {'ERR', tostring(type(reply) == 'table' and reply.err or reply)} end
end
return out
`;

/**
 * CHECKPOINT: what a stream has delivered so far, kept on its hold while the stream runs, so that
 * an api that dies mid-stream still leaves the charge behind: when the hold expires, the sweeper
 * (RELEASE_EXPIRED_HOLDS) settles the checkpoint's event instead of only releasing the hold. Each
 * checkpoint also moves the hold's expiry forward, so a live stream's hold never expires under it.
 * Does nothing when the hold is gone (settled, or released).
 *
 * KEYS: 1 the tenant's holds zset
 * ARGV: 1 hash tag, 2 request id, 3 new expiry (epoch ms), 4 cost units so far, 5 event json
 * Returns 1 when the checkpoint was kept, 0 when there is no hold.
 */
export const CHECKPOINT_LUA = `
local holdKey = ARGV[1] .. ':hold:' .. ARGV[2]
if redis.call('EXISTS', holdKey) == 0 then return 0 end
redis.call('HSET', holdKey, 'exp', ARGV[3], 'cost', ARGV[4], 'ev', ARGV[5])
redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[2])
return 1
`;

/**
 * RENEW: keeps the leases of requests still in flight alive, so that a request that outlives
 * INFERENCE_HOLD_TTL_SECONDS or INFERENCE_CONCURRENCY_LEASE_SECONDS (a long stream, a slow model, an
 * upstream that thinks before its first token) is neither released by the expired-holds sweeper nor
 * has its concurrency slot taken over. Only moves expiries forward and only for what still exists:
 * a hold that was settled or released, or a slot given back, is never brought back.
 *
 * KEYS: 1 the tenant's holds zset
 * ARGV: 1 hash tag, 2 hold ttl ms, 3 lease ms, 4 now ms, then per request: request id, key id, customer id
 * Returns the number of holds renewed.
 */
export const RENEW_LUA = `
local tag = ARGV[1]
local ttl, lease, now = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local renewed = 0
for i = 5, #ARGV - 2, 3 do
  local rid, key, cust = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local holdKey = tag .. ':hold:' .. rid
  local exp = redis.call('HGET', holdKey, 'exp')
  if exp then
    local expires = now + ttl
    if expires > tonumber(exp) then
      redis.call('HSET', holdKey, 'exp', tostring(expires))
      redis.call('ZADD', KEYS[1], 'XX', 'GT', expires, rid)
      redis.call('PEXPIRE', holdKey, ttl + 86400000)
    end
    renewed = renewed + 1
  end
  local slots = { tag .. ':cc:k:' .. key, tag .. ':cc:c:' .. cust }
  for j = 1, 2 do
    if redis.call('ZADD', slots[j], 'XX', 'GT', 'CH', now + lease, rid) == 1 then redis.call('PEXPIRE', slots[j], lease + 60000) end
  end
end
return renewed
`;
