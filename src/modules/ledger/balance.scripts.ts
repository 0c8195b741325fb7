/**
 * Lua scripts of the balance cache. Every key one script touches carries the tenant's hash tag
 * (`{t:<tenantId>}`), so they run unchanged on Redis Cluster; keys built inside a script (holds,
 * balances) are built from the same tag.
 */

/** INCRBY only if the balance is loaded: a credit never creates a balance from nothing (see BalanceService). */
export const INCRBY_IF_EXISTS = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return false`;

/**
 * Releases the holds of one tenant that expired before ARGV[1] (epoch ms), at most ARGV[2] of
 * them: each hold's amount goes back to its customer's balance (when that balance is loaded; an
 * unloaded balance is rebuilt from the ledger, which never saw the hold), then the hold is gone.
 * Layout (the proxy's hold/settle scripts): ZSET KEYS[1] = `{t}:holds` scored by expiry, members
 * request ids; HASH `{t}:hold:<requestId>` with c = customer id, k = key id, amt = nano-units;
 * the key's spend (`{t}:kspend:<k>`) gives the hold back too.
 *
 * A hold with a checkpoint (`cost` and `ev`, written by the api while a stream runs, see
 * CHECKPOINT_LUA in @app/billing) belongs to a stream whose api died before settling it: it is
 * settled here as SETTLE would, for what the stream had delivered: the checkpoint's cost charged
 * to the balance and the key's spend, its usage event appended to the usage stream, and the settled
 * marker set (ARGV[4] seconds), so the request is charged once whatever else happens to it.
 *
 * ARGV[3] is the tag prefix `{t:<tenantId>}:`.
 * Returns { holds released, units returned, checkpoints settled, units charged by them }.
 */
export const RELEASE_EXPIRED_HOLDS = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local released, units, settled, charged = 0, 0, 0, 0
for _, rid in ipairs(ids) do
  local hold = ARGV[3] .. 'hold:' .. rid
  local fields = redis.call('HMGET', hold, 'c', 'amt', 'k', 'cost', 'ev', 'bud')
  if fields[1] and fields[2] then
    -- the hold also counted against its periods' budgets (issue 26)
    if fields[6] then for name in string.gmatch(fields[6], '[^,]+') do redis.call('DECRBY', ARGV[3] .. name, fields[2]) end end
    local bal = ARGV[3] .. 'bal:' .. fields[1]
    local loaded = redis.call('EXISTS', bal) == 1
    if loaded then redis.call('INCRBY', bal, fields[2]) end
    -- the hold also counted against the key's spend limit
    if fields[3] then redis.call('DECRBY', ARGV[3] .. 'kspend:' .. fields[3], fields[2]) end
    units = units + tonumber(fields[2])
    released = released + 1
    local marker = ARGV[3] .. 'settled:' .. rid
    if fields[4] and fields[5] and redis.call('EXISTS', marker) == 0 then
      if loaded then redis.call('DECRBY', bal, fields[4]) end
      if fields[3] then redis.call('INCRBY', ARGV[3] .. 'kspend:' .. fields[3], fields[4]) end
      if fields[6] then for name in string.gmatch(fields[6], '[^,]+') do redis.call('INCRBY', ARGV[3] .. name, fields[4]) end end
      redis.call('XADD', ARGV[3] .. 'usage', '*', 'e', fields[5])
      redis.call('SET', marker, '1', 'EX', tonumber(ARGV[4]))
      settled = settled + 1
      charged = charged + tonumber(fields[4])
    end
  end
  redis.call('DEL', hold)
  redis.call('ZREM', KEYS[1], rid)
end
return { released, string.format('%.0f', units), settled, string.format('%.0f', charged) }`;

/**
 * One consistent picture of a tenant's wallets in Redis at a metering position, for
 * reconciliation. ARGV[1] is the tag prefix, ARGV[2] and ARGV[3] the position (the highest stream
 * entry id `<ms>-<seq>` whose usage PostgreSQL has, from metering_positions; 0 0 when none), then
 * the customer ids. KEYS[1] is the usage stream, KEYS[2] the dead-letter stream.
 *
 * Returns { wallets, uncertain }:
 * - wallets: per customer, its balance (or false when not loaded), the sum of its open holds, and
 *   the retail of its stream entries AFTER the position: those cannot be in the ledger read at that
 *   position (ids grow; the position only moves forward).
 * - uncertain: stream entries at or before the position (a batch committed but not yet deleted from
 *   the stream, or an entry redelivered out of order) and every dead letter, as
 *   {requestId, customerId, retail, 'live'|'dead'}: the caller asks PostgreSQL which of them are
 *   metered.
 * Sums are of integer nano-units, exact in Lua's doubles below 2^53.
 */
export const WALLET_SNAPSHOT = `
local prefix = ARGV[1]
local posMs, posSeq = tonumber(ARGV[2]), tonumber(ARGV[3])
local wanted = {}
for i = 4, #ARGV do wanted[ARGV[i]] = true end
local holds, unmetered, uncertain = {}, {}, {}
for _, rid in ipairs(redis.call('ZRANGE', prefix .. 'holds', 0, -1)) do
  local f = redis.call('HMGET', prefix .. 'hold:' .. rid, 'c', 'amt')
  if f[1] and f[2] then holds[f[1]] = (holds[f[1]] or 0) + tonumber(f[2]) end
end
local function afterPosition(id)
  local dash = string.find(id, '-', 1, true)
  local ms, seq = tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
  return ms > posMs or (ms == posMs and seq > posSeq)
end
for k, key in ipairs(KEYS) do
  for _, entry in ipairs(redis.call('XRANGE', key, '-', '+')) do
    local fields = entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'e' then
        local ok, e = pcall(cjson.decode, fields[i + 1])
        if ok and type(e) == 'table' and type(e.customerId) == 'string' and wanted[e.customerId] and e.retailUnits then
          if k == 1 and afterPosition(entry[1]) then
            unmetered[e.customerId] = (unmetered[e.customerId] or 0) + tonumber(e.retailUnits)
          elseif type(e.requestId) == 'string' then
            table.insert(uncertain, { e.requestId, e.customerId, tostring(e.retailUnits), k == 1 and 'live' or 'dead' })
          end
        end
      end
    end
  end
end
local wallets = {}
for i = 4, #ARGV do
  local c = ARGV[i]
  local bal = redis.call('GET', prefix .. 'bal:' .. c)
  table.insert(wallets, bal or false)
  table.insert(wallets, string.format('%.0f', holds[c] or 0))
  table.insert(wallets, string.format('%.0f', unmetered[c] or 0))
end
return { wallets, uncertain }`;
