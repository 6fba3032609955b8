/**
 * The Lua source of the wrapper that makes a script's calls deterministic
 * (see prologue.ts for how it is placed in front of a script and why).
 *
 * Written as readable Lua and pressed onto one line by prologue.ts, so: only
 * whole-line `--` comments, single-quoted strings without escapes of quotes,
 * `;` between statements where a line could start with `(`, and no long
 * strings. `@KEY_SPECS@` is replaced with the key positions of every command
 * (prologue.ts generates them from Redis's own command table).
 *
 * The wrapper is an expression: it evaluates to a table that stands for
 * `redis`. Inside it, the name `redis` is the real API, looked up at each use
 * (functions see a different `redis` at load time and at run time).
 */

/** The wrapper's core: defines the state, the helpers, the handlers and `W`, the stand-in for `redis`. */
export const WRAPPER_CORE = String.raw`
-- Constants. H: the expiry shift (expiry.ts). I64MAX/U64MAX: Redis's integer limits.
local H = 10000000000000
local I64MAX = '9223372036854775807'
local U64MAX = '18446744073709551615'
local SMAX = '9223372036854775'
local HALFMAX = '4611686018427387903'
local KS = '@KEY_SPECS@'
local PASS = {}
local sbyte, ssub, slower, sformat, sfind, smatch = string.byte, string.sub, string.lower, string.format, string.find, string.match
local floor, tsort, tconcat = math.floor, table.sort, table.concat
local unpack, select, type, tonumber, tostring, xpcall, error = unpack, select, type, tonumber, tostring, xpcall, error
local setmetatable, rawget, rawset, pairs, ipairs = setmetatable, rawget, rawset, pairs, ipairs
-- Per run: the op's partition and the log's partition count (src/command/partition.ts).
local PO, PC = 0, 1
-- Per run: the op's log time T (ms, number and decimal text), the random state, the script's
-- protocol (redis.setresp) and the names already checked for expiry in this run.
local T, Ts, rng, resp, checked = 0, '0', 1, 2, {}
local function istr(x) return sformat('%.0f', x) end
-- The script budget (script_budget.ts). __pylon_steps, __pylon_stop and __pylon_why are locals
-- of the prologue, before this core. __pylon_steps counts down: the code's own loops and functions
-- charge it, and so does each call; below zero every charge raises __pylon_why again with
-- __pylon_stop, Lua's error (a C function, so the error names the line that charged).
local BUDGET_RATE, CALL_STEPS, ELEMENT_STEPS = @STEPS_PER_MS@, @REDIS_CALL_STEPS@, @REPLY_ELEMENT_STEPS@
local opcall, oxpcall, oresume = pcall, xpcall, coroutine.resume
local function charge(n)
  __pylon_steps = __pylon_steps - n
  if __pylon_steps < 0 then __pylon_stop(__pylon_why) end
end
local function spent(...)
  if __pylon_steps < 0 then __pylon_stop(__pylon_why) end
  return ...
end
local function refuseCode(name)
  return function()
    error({ err = 'ERR Pylon refuses \'' .. name .. '\' in scripts: the code it makes would run outside the script budget' }, 0)
  end
end
-- What the prologue puts in place of the globals that could catch the budget error or run code
-- that was not charged.
local shadows = {
  pcall = function(...) return spent(opcall(...)) end,
  xpcall = function(...) return spent(oxpcall(...)) end,
  coroutine = setmetatable({ resume = function(...) return spent(oresume(...)) end },
    { __index = coroutine, __newindex = coroutine }),
  loadstring = refuseCode('loadstring'),
  load = refuseCode('load'),
}
-- A run begins: the op's T, seed and budget of steps, and whether a script or a function runs.
local function begin(t, s, b, kind)
  T = tonumber(t) or 0
  Ts = istr(T)
  rng = (tonumber(s) or 0) % 2147483646 + 1
  resp = 2
  checked = {}
  -- The budget argument may end ':own/count': the op's partition, when the log has several.
  local bs, po, pc = smatch(b or '', '^([0-9]+):([0-9]+)/([0-9]+)$')
  if bs then
    b = bs
    PO, PC = tonumber(po), tonumber(pc)
  else
    PO, PC = 0, 1
  end
  local budget = tonumber(b) or 0
  __pylon_steps = budget
  __pylon_stop = error
  __pylon_why = { err = 'ERR Pylon stopped the ' .. kind .. ': it ran past its budget of ' .. istr(budget / BUDGET_RATE) .. ' ms (' .. istr(budget) .. ' steps, script-time-max-ms), and every rack stops it at this same point; writes it made before stay' }
end
local function rp(...) return redis.pcall(...) end
local function isErr(r) return type(r) == 'table' and type(rawget(r, 'err')) == 'string' end
local function fail(msg) return { err = 'ERR ' .. msg } end
-- An argument as C's strcasecmp reads it: up to its first NUL, lowercase.
local function word(s)
  if type(s) ~= 'string' then return '' end
  local z = sfind(s, '\0', 1, true)
  if z then s = ssub(s, 1, z - 1) end
  return slower(s)
end
-- Expiry. A name is logically expired at T iff its stored time is below H or stored - H <= T;
-- deleting it is then always safe (log time only grows).
local function due(k)
  local t = rp('PEXPIRETIME', k)
  if type(t) == 'number' and t >= 0 and (t < H or t - H <= T) then
    rp('DEL', k)
    return true
  end
  return false
end
local function expireName(k)
  if checked[k] then return end
  checked[k] = true
  due(k)
end
local kcache = {}
local function spec(name)
  local s = kcache[name]
  if s == nil then
    local i, j = sfind(KS, ';' .. name .. '=', 1, true)
    s = false
    if i then
      local e = sfind(KS, ';', j + 1, true)
      s = ssub(KS, j + 1, e - 1)
    end
    kcache[name] = s
  end
  return s
end
-- Before every call: each argument that can name a key and is logically expired at T is
-- deleted. Key positions come from Redis's command table; unknown commands and those with
-- movable keys have every argument checked (conservative: deleting an expired key is safe).
-- A name checked once stays checked for the run: nothing the script does can make it expired
-- again without this wrapper deleting it at once.
local function preexpire(name, a)
  local s = spec(name)
  if s == 'S' then s = spec(name .. '|' .. word(a[2])) end
  local n = #a
  local f, l, st = 2, n, 1
  if s == '0' then return end
  if s and s ~= 'S' and s ~= 'M' then
    local x, y, z = smatch(s, '^([-0-9]+),([-0-9]+),([0-9]+)$')
    f, l, st = tonumber(x) + 1, tonumber(y), tonumber(z)
    if l < 0 then l = n + l + 1 else l = l + 1 end
    if st < 1 then st = 1 end
  end
  for i = f, l, st do
    local k = a[i]
    if k then expireName(k) end
  end
end
-- Several partitions: a script touches keys of its op's partition only, since each partition is
-- applied at its own pace and another's keys would be read at a point that differs per rack.
-- Redis Cluster's hash slot (CRC16/XMODEM of the key, or of its {hash tag}), then the partition.
local function slotOf(k)
  local i = sfind(k, '{', 1, true)
  if i then
    local j = sfind(k, '}', i + 1, true)
    if j and j > i + 1 then k = ssub(k, i + 1, j - 1) end
  end
  local crc = 0
  for c = 1, #k do
    crc = bit.bxor(crc, bit.lshift(sbyte(k, c), 8))
    for _ = 1, 8 do
      if bit.band(crc, 32768) ~= 0 then
        crc = bit.band(bit.bxor(bit.lshift(crc, 1), 4129), 65535)
      else
        crc = bit.band(bit.lshift(crc, 1), 65535)
      end
    end
  end
  return crc % 16384
end
local ACROSS = ';keys=1;scan=1;randomkey=1;dbsize=1;flushall=1;flushdb=1;swapdb=1;'
local function partitionRefusal(what)
  return fail('Pylon: this log has ' .. PC .. ' partitions and this script runs in partition ' .. PO .. ': ' .. what .. '; a script may touch the keys of one partition only (declare them in KEYS, as on Redis Cluster)')
end
local function ownPartition(name, a)
  if sfind(ACROSS, ';' .. name .. '=', 1, true) then
    return partitionRefusal(slower(name) .. ' reads or changes every partition')
  end
  if name == 'sort' or name == 'sort_ro' then
    for i = 3, #a - 1 do
      local w = word(a[i])
      if (w == 'by' and sfind(a[i + 1], '*', 1, true)) or (w == 'get' and a[i + 1] ~= '#') then
        return partitionRefusal('SORT reads other keys through BY and GET patterns')
      end
    end
  end
  local s = spec(name)
  if s == 'S' then s = spec(name .. '|' .. word(a[2])) end
  if s == '0' or s == false or s == nil then return nil end
  local keys = {}
  if s == 'M' or s == 'S' then
    local r = redis.pcall('COMMAND', 'GETKEYS', unpack(a))
    if type(r) ~= 'table' or r.err then return nil end
    keys = r
  else
    local x, y, z = smatch(s, '^([-0-9]+),([-0-9]+),([0-9]+)$')
    local f, l, st = tonumber(x) + 1, tonumber(y), tonumber(z)
    local n = #a
    if l < 0 then l = n + l + 1 else l = l + 1 end
    if st < 1 then st = 1 end
    for i = f, l, st do
      if a[i] then keys[#keys + 1] = a[i] end
    end
  end
  for _, k in ipairs(keys) do
    local p = floor(slotOf(k) * PC / 16384)
    if p ~= PO then
      return partitionRefusal('key ' .. sformat('%q', k) .. ' is in partition ' .. p)
    end
  end
  return nil
end
local GROUP_OF = ';expire=E;pexpire=E;expireat=E;pexpireat=E;set=E;getex=E;setex=E;psetex=E;restore=E;ttl=E;pttl=E;expiretime=E;pexpiretime=E;spop=R;srandmember=R;zrandmember=R;hrandfield=R;randomkey=R;keys=R;dbsize=R;smembers=R;sinter=R;sunion=R;sdiff=R;hkeys=R;hvals=R;hgetall=R;sort=R;sort_ro=R;xadd=S;xreadgroup=S;xclaim=S;xautoclaim=S;xpending=S;object=X;xinfo=X;memory=X;dump=X;scan=X;sscan=X;hscan=X;zscan=X;pubsub=X;migrate=X;lastsave=X;'
-- The handlers, and the helpers only they use, are built at the first call that needs them.
local lib
local function buildLib()
-- Bytewise order (memcmp), never the locale's: Lua's < on strings is strcoll.
local function lt(a, b)
  local la, lb = #a, #b
  local n = la
  if lb < n then n = lb end
  local i = 1
  while i <= n do
    if i + 15 <= n and ssub(a, i, i + 15) == ssub(b, i, i + 15) then
      i = i + 16
    else
      local x, y = sbyte(a, i), sbyte(b, i)
      if x ~= y then return x < y end
      i = i + 1
    end
  end
  return la < lb
end
local function firstLt(p, q) return lt(p[1], q[1]) end
-- The op's random source: Park-Miller (48271), exact in doubles, seeded by the op.
local function draw(n)
  rng = (rng * 48271) % 2147483647
  if n <= 2147483646 then return rng % n end
  local x = (rng - 1) / 2147483646
  rng = (rng * 48271) % 2147483647
  x = x + (rng - 1) / 2147483646 / 2147483646
  local r = floor(x * n)
  if r >= n then r = n - 1 end
  return r
end
-- math.random and math.randomseed for functions (scripts keep Redis's own, which the applier
-- reseeds per op): Lua 5.1's argument rules, drawn from the op's random source.
local function trunc(x) if x < 0 then return -floor(-x) end return floor(x) end
local function mathRandom(m, n)
  rng = (rng * 48271) % 2147483647
  local r = (rng - 1) / 2147483646
  if m == nil then return r end
  m = trunc(tonumber(m) or error('bad argument #1 to \'random\' (number expected)', 2))
  if n == nil then
    if m < 1 then error('bad argument #1 to \'random\' (interval is empty)', 2) end
    return floor(r * m) + 1
  end
  n = trunc(tonumber(n) or error('bad argument #2 to \'random\' (number expected)', 2))
  if m > n then error('bad argument #2 to \'random\' (interval is empty)', 2) end
  return floor(r * (n - m + 1)) + m
end
local function mathRandomseed(x)
  rng = trunc(tonumber(x) or 0) % 2147483646 + 1
end
-- Decimal strings of any size, non-negative, without leading zeros.
local function dcmp(a, b)
  if #a ~= #b then if #a < #b then return -1 end return 1 end
  for i = 1, #a do
    local x, y = sbyte(a, i), sbyte(b, i)
    if x ~= y then if x < y then return -1 end return 1 end
  end
  return 0
end
local function dadd(a, b)
  local out, carry, i, j = {}, 0, #a, #b
  while i > 0 or j > 0 or carry > 0 do
    local s = carry
    if i > 0 then s = s + sbyte(a, i) - 48 end
    if j > 0 then s = s + sbyte(b, j) - 48 end
    out[#out + 1] = s % 10
    carry = floor(s / 10)
    i = i - 1
    j = j - 1
  end
  local k, m = 1, #out
  while k < m do
    out[k], out[m] = out[m], out[k]
    k = k + 1
    m = m - 1
  end
  return tconcat(out)
end
-- Redis's string2ll: value (a double, exact below 2^53), sign ('-' or ''), digits; nil if invalid.
local function int64(s)
  if type(s) ~= 'string' then return nil end
  local n = #s
  if n == 0 or n > 20 then return nil end
  if s == '0' then return 0, '', '0' end
  local neg, d = false, s
  if sbyte(s, 1) == 45 then
    neg = true
    d = ssub(s, 2)
  end
  if not sfind(d, '^[1-9][0-9]*$') then return nil end
  if #d > 19 then return nil end
  if #d == 19 and dcmp(d, neg and '9223372036854775808' or I64MAX) > 0 then return nil end
  if neg then return tonumber(s), '-', d end
  return tonumber(s), '', d
end
-- Digits of a seconds value made ms; nil where Redis calls the value invalid (beyond LLONG_MAX/1000).
local function secondsToMs(d)
  if d == '0' then return d end
  if #d > 16 or (#d == 16 and dcmp(d, SMAX) > 0) then return nil end
  return d .. '000'
end
-- The stored (shifted) time for a time of sign and ms digits, relative to T or absolute; nil:
-- leave the request as it is (Redis refuses it, or the shifted absolute time leaves its range).
-- A relative time beyond the range is stored as INT64_MAX (a logical expiry 317 years early).
local function shifted(sign, d, relative)
  local base = H
  if relative then base = T + H end
  if sign == '-' then return istr(base - tonumber(d)) end
  if #d <= 15 then return istr(base + tonumber(d)) end
  if relative and dcmp(dadd(d, Ts), I64MAX) > 0 then return nil end
  local s = dadd(d, istr(base))
  if dcmp(s, I64MAX) > 0 then
    if relative then return I64MAX end
    return nil
  end
  return s
end
local function copy(a)
  local b = {}
  for i = 1, #a do b[i] = a[i] end
  return b
end
-- After a call that set an expiry: a key whose new expiry is at or before T goes, as Redis
-- deletes a key given an expiry in the past.
local function after(r, k)
  if not isErr(r) then due(k) end
  return r
end
local function call(b) return rp(unpack(b)) end
-- Handlers are built per group, at the first call of one of its commands: a run builds
-- only what it uses (building closures is most of what the wrapper costs a script).
local function groupE()
-- The EXPIRE family: conditions checked as Redis does, the time made absolute from T (relative
-- forms) and shifted by H; sent as PEXPIREAT.
local function expireFlagsOk(a)
  local nx, xx, gt, lt_ = false, false, false, false
  for i = 4, #a do
    local o = word(a[i])
    if o == 'nx' then nx = true
    elseif o == 'xx' then xx = true
    elseif o == 'gt' then gt = true
    elseif o == 'lt' then lt_ = true
    else return false end
  end
  if nx and (xx or gt or lt_) then return false end
  if gt and lt_ then return false end
  return true
end
local function hExpire(a, seconds, relative)
  if #a < 3 or not expireFlagsOk(a) then return PASS end
  local v, sign, d = int64(a[3])
  if not v then return PASS end
  if seconds then d = secondsToMs(d) end
  if not d then return PASS end
  local st = shifted(sign, d, relative)
  if not st then return PASS end
  local b = { 'PEXPIREAT', a[2], st }
  for i = 4, #a do b[#b + 1] = a[i] end
  return after(call(b), a[2])
end
-- SET and GETEX options as Redis's parseExtendedStringArgumentsOrReply reads them: the
-- expiry option that counts, the index of its value, and every expiry token and value.
local function stringOptions(a, isSet)
  local nx, xx, keepttl, persist, exp, at, toks = false, false, false, false, nil, nil, {}
  local j = 3
  if isSet then j = 4 end
  while j <= #a do
    local o = word(a[j])
    local hasNext = j < #a
    if isSet and o == 'nx' and not xx then nx = true
    elseif isSet and o == 'xx' and not nx then xx = true
    elseif isSet and o == 'get' then
    elseif isSet and o == 'keepttl' and not persist and not exp then keepttl = true
    elseif not isSet and o == 'persist' and not exp and not keepttl then persist = true
    elseif (o == 'ex' or o == 'px' or o == 'exat' or o == 'pxat') and not keepttl and not persist and (not exp or exp == o) and hasNext then
      exp = o
      at = j + 1
      toks[j] = true
      toks[j + 1] = true
      j = j + 1
    else
      return nil
    end
    j = j + 1
  end
  return exp, at, toks
end
local function hString(a, isSet)
  if #a < 2 or (isSet and #a < 3) then return PASS end
  local exp, at, toks = stringOptions(a, isSet)
  if not exp then return PASS end
  local v, sign, d = int64(a[at])
  if not v or sign == '-' or d == '0' then return PASS end
  if exp == 'ex' or exp == 'exat' then d = secondsToMs(d) end
  if not d then return PASS end
  local st = shifted('', d, exp == 'ex' or exp == 'px')
  if not st then return PASS end
  local b = {}
  for i = 1, #a do if not toks[i] then b[#b + 1] = a[i] end end
  b[#b + 1] = 'PXAT'
  b[#b + 1] = st
  return after(call(b), a[2])
end
local function hSetex(a, seconds)
  if #a ~= 4 then return PASS end
  local v, sign, d = int64(a[3])
  if not v or sign == '-' or d == '0' then return PASS end
  if seconds then d = secondsToMs(d) end
  if not d then return PASS end
  local st = shifted('', d, true)
  if not st then return PASS end
  return after(call({ 'SET', a[2], a[4], 'PXAT', st }), a[2])
end
local function hRestore(a)
  if #a < 4 then return PASS end
  local abs, idle, freq, toks = false, false, false, {}
  local j = 5
  while j <= #a do
    local o = word(a[j])
    local more = #a - j
    if o == 'replace' then
    elseif o == 'absttl' then
      abs = true
      toks[j] = true
    elseif o == 'idletime' and more >= 1 and not freq then
      j = j + 1
      local v, sign = int64(a[j])
      if not v or sign == '-' then return PASS end
      idle = true
    elseif o == 'freq' and more >= 1 and not idle then
      j = j + 1
      local v, sign = int64(a[j])
      if not v or sign == '-' or v > 255 then return PASS end
      freq = true
    else
      return PASS
    end
    j = j + 1
  end
  local v, sign, d = int64(a[3])
  if not v or sign == '-' or d == '0' then return PASS end
  local st = shifted('', d, not abs)
  if not st then return PASS end
  local b = { a[1], a[2], st }
  for i = 4, #a do if not toks[i] then b[#b + 1] = a[i] end end
  b[#b + 1] = 'ABSTTL'
  return after(call(b), a[2])
end
-- TTL readers answer from the stored time relative to T, as Redis computes them.
local function hTtl(a, name)
  if #a ~= 2 then return PASS end
  local t = rp('PEXPIRETIME', a[2])
  if type(t) ~= 'number' or t < 0 then return t end
  if t < H or t - H <= T then return -2 end
  local e = t - H
  if name == 'pexpiretime' then return e end
  if name == 'expiretime' then return floor((t + 500) / 1000) - H / 1000 end
  if name == 'pttl' then return e - T end
  return floor((e - T + 500) / 1000)
end
return {
    ['expire'] = function(a) return hExpire(a, true, true) end,
    ['pexpire'] = function(a) return hExpire(a, false, true) end,
    ['expireat'] = function(a) return hExpire(a, true, false) end,
    ['pexpireat'] = function(a) return hExpire(a, false, false) end,
    ['set'] = function(a) return hString(a, true) end,
    ['getex'] = function(a) return hString(a, false) end,
    ['setex'] = function(a) return hSetex(a, true) end,
    ['psetex'] = function(a) return hSetex(a, false) end,
    ['restore'] = hRestore,
    ['ttl'] = function(a) return hTtl(a, 'ttl') end,
    ['pttl'] = function(a) return hTtl(a, 'pttl') end,
    ['expiretime'] = function(a) return hTtl(a, 'expiretime') end,
    ['pexpiretime'] = function(a) return hTtl(a, 'pexpiretime') end,
}
end
local function hTime(a)
  if #a ~= 1 then return PASS end
  return { istr(floor(T / 1000)), istr((T % 1000) * 1000) }
end
local function groupR()
-- Random choices: every member read, in bytewise order (or the sorted set's own order), and
-- chosen by the op's random source. O(N) for a key of N members (O(N log N) to sort), per call.
local function typeOf(k)
  local r = rp('TYPE', k)
  if type(r) == 'table' then return r.ok end
  return nil
end
local function sortedMembers(r)
  local m = {}
  if type(r) ~= 'table' then return m end
  if type(r.set) == 'table' then
    for x in pairs(r.set) do m[#m + 1] = x end
  else
    for i = 1, #r do m[i] = r[i] end
  end
  tsort(m, lt)
  return m
end
-- Pairs {field, value} of a flat RESP2 array, a RESP3 map or a RESP3 array of pairs.
local function pairsOf(r)
  local p = {}
  if type(r) ~= 'table' then return p end
  if type(r.map) == 'table' then
    for k, v in pairs(r.map) do p[#p + 1] = { k, v } end
  elseif type(r[1]) == 'table' then
    for i = 1, #r do p[i] = { r[i][1], r[i][2] } end
  else
    for i = 1, #r - 1, 2 do p[#p + 1] = { r[i], r[i + 1] } end
  end
  return p
end
-- k distinct indexes of 1..n, in the order drawn (a partial Fisher-Yates shuffle).
local function pickIndexes(n, k)
  local idx = {}
  for i = 1, n do idx[i] = i end
  for i = 1, k do
    local j = i + draw(n - i + 1)
    idx[i], idx[j] = idx[j], idx[i]
  end
  local out = {}
  for i = 1, k do out[i] = idx[i] end
  return out
end
-- Which indexes a count asks for: all in order when it covers the whole key, k distinct ones,
-- or |count| draws with repeats for a negative count.
local function chosen(n, c)
  if c < 0 then
    local out = {}
    for i = 1, -c do out[i] = draw(n) + 1 end
    return out
  end
  if c >= n then
    local out = {}
    for i = 1, n do out[i] = i end
    return out
  end
  return pickIndexes(n, c)
end
local function asSet(list)
  if resp ~= 3 then return list end
  local s = {}
  for i = 1, #list do s[list[i]] = true end
  return { set = s }
end
local function chunkedCall(head, list)
  for i = 1, #list, 1000 do
    local b = copy(head)
    for j = i, i + 999 do
      if list[j] == nil then break end
      b[#b + 1] = list[j]
    end
    rp(unpack(b))
  end
end
-- A count Redis reads with getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX): value or nil.
local function rangeCount(s)
  local v, sign, d = int64(s)
  if not v or (sign == '-' and d == '9223372036854775808') then return nil end
  return v, d
end
local function hSpop(a)
  if #a == 2 then
    if typeOf(a[2]) ~= 'set' then return PASS end
    local m = sortedMembers(rp('SMEMBERS', a[2]))
    local x = m[draw(#m) + 1]
    rp('SREM', a[2], x)
    return x
  end
  if #a ~= 3 then return PASS end
  local c, sign = int64(a[3])
  if not c or sign == '-' or c == 0 or typeOf(a[2]) ~= 'set' then return PASS end
  local m = sortedMembers(rp('SMEMBERS', a[2]))
  local out = {}
  for i, x in ipairs(chosen(#m, c)) do out[i] = m[x] end
  chunkedCall({ 'SREM', a[2] }, out)
  return asSet(out)
end
local function hSrandmember(a)
  if #a == 2 then
    if typeOf(a[2]) ~= 'set' then return PASS end
    local m = sortedMembers(rp('SMEMBERS', a[2]))
    return m[draw(#m) + 1]
  end
  if #a ~= 3 then return PASS end
  local c = rangeCount(a[3])
  if not c or c == 0 or typeOf(a[2]) ~= 'set' then return PASS end
  local m = sortedMembers(rp('SMEMBERS', a[2]))
  local out = {}
  for i, x in ipairs(chosen(#m, c)) do out[i] = m[x] end
  return out
end
-- ZRANDMEMBER and HRANDFIELD: members with their scores or values, Redis's reply shapes.
local function randomPairs(a, kind, option, read)
  if #a == 2 then
    if typeOf(a[2]) ~= kind then return PASS end
    local p = read(a[2])
    return p[draw(#p) + 1][1]
  end
  if #a ~= 3 and #a ~= 4 then return PASS end
  local c, d = rangeCount(a[3])
  if not c then return PASS end
  local with = #a == 4
  if with and word(a[4]) ~= option then return PASS end
  if with and (#d > 19 or (#d == 19 and dcmp(d, HALFMAX) > 0)) then return PASS end
  if c == 0 or typeOf(a[2]) ~= kind then return PASS end
  local p = read(a[2])
  local out = {}
  local idx = chosen(#p, c)
  if kind == 'zset' and c >= #p then
    -- The whole sorted set, as Redis gives it: from the highest score down.
    for i = 1, #p do idx[i] = #p + 1 - i end
  end
  for _, i in ipairs(idx) do
    local e = p[i]
    if not with then out[#out + 1] = e[1]
    elseif resp == 3 then out[#out + 1] = { e[1], e[2] }
    else
      out[#out + 1] = e[1]
      out[#out + 1] = e[2]
    end
  end
  return out
end
local function zsetPairs(k) return pairsOf(rp('ZRANGE', k, '0', '-1', 'WITHSCORES')) end
local function hashPairs(k)
  local p = pairsOf(rp('HGETALL', k))
  tsort(p, firstLt)
  return p
end
-- Names in the db that are not logically expired at T (those that are are deleted), sorted.
local function liveKeys(pattern)
  local r = rp('KEYS', pattern)
  if type(r) ~= 'table' or isErr(r) then return r end
  local out = {}
  for i = 1, #r do
    local k = r[i]
    if checked[k] or not due(k) then out[#out + 1] = k end
    checked[k] = true
  end
  tsort(out, lt)
  return out
end
local function hRandomkey(a)
  if #a ~= 1 then return PASS end
  local ks = liveKeys('*')
  if #ks == 0 then
    if resp == 3 then return nil end
    return false
  end
  return ks[draw(#ks) + 1]
end
local function hKeys(a)
  if #a ~= 2 then return PASS end
  return liveKeys(a[2])
end
local function hDbsize(a)
  if #a ~= 1 then return PASS end
  return #liveKeys('*')
end
-- Replies in the order of a hash table: put in bytewise order (a RESP3 set or map rebuilt in
-- that order, so its Lua table, and the reply made from it, is the same on every rack).
local function sortedReply(a)
  local r = call(a)
  if type(r) ~= 'table' or isErr(r) then return r end
  if type(r.set) == 'table' then
    local s = {}
    for _, x in ipairs(sortedMembers(r)) do s[x] = true end
    return { set = s }
  end
  tsort(r, lt)
  return r
end
local function hHgetall(a)
  if #a ~= 2 then return PASS end
  local r = call(a)
  if type(r) ~= 'table' or isErr(r) then return r end
  local p = pairsOf(r)
  tsort(p, firstLt)
  if type(r.map) == 'table' then
    local m = {}
    for _, e in ipairs(p) do m[e[1]] = e[2] end
    return { map = m }
  end
  local out = {}
  for _, e in ipairs(p) do
    out[#out + 1] = e[1]
    out[#out + 1] = e[2]
  end
  return out
end
-- SORT reads keys its BY and GET patterns name through each element: those are checked for
-- expiry too, before Redis sorts (O(N) per pattern). Redis then sorts as it does.
local function hSort(a)
  if #a < 2 then return PASS end
  local patterns = {}
  local j = 3
  while j <= #a do
    local o = word(a[j])
    if (o == 'by' or o == 'get') and j < #a then
      patterns[#patterns + 1] = a[j + 1]
      j = j + 1
    elseif o == 'limit' and j + 2 <= #a then
      j = j + 2
    elseif o == 'store' and j < #a then
      j = j + 1
    end
    j = j + 1
  end
  local derive = {}
  for _, pattern in ipairs(patterns) do
    local z = sfind(pattern, '\0', 1, true)
    if z then pattern = ssub(pattern, 1, z - 1) end
    local star = sfind(pattern, '*', 1, true)
    if pattern ~= '#' and star then
      local tail = ssub(pattern, star + 1)
      local arrow = sfind(tail, '->', 1, true)
      if arrow and arrow + 2 <= #tail then tail = ssub(tail, 1, arrow - 1) end
      derive[#derive + 1] = { ssub(pattern, 1, star - 1), tail }
    end
  end
  if #derive == 0 then return PASS end
  local kind = typeOf(a[2])
  local r
  if kind == 'list' then r = rp('LRANGE', a[2], '0', '-1')
  elseif kind == 'set' then r = rp('SMEMBERS', a[2])
  elseif kind == 'zset' then r = rp('ZRANGE', a[2], '0', '-1')
  else return PASS end
  local members = sortedMembers(r)
  for _, d in ipairs(derive) do
    for _, m in ipairs(members) do expireName(d[1] .. m .. d[2]) end
  end
  return PASS
end
local function hHvals(a)
  if #a ~= 2 then return PASS end
  local r = rp('HGETALL', a[2])
  if type(r) ~= 'table' or isErr(r) then return r end
  local p = pairsOf(r)
  tsort(p, firstLt)
  local out = {}
  for i, e in ipairs(p) do out[i] = e[2] end
  return out
end
return {
    ['spop'] = hSpop,
    ['srandmember'] = hSrandmember,
    ['zrandmember'] = function(a) return randomPairs(a, 'zset', 'withscores', zsetPairs) end,
    ['hrandfield'] = function(a) return randomPairs(a, 'hash', 'withvalues', hashPairs) end,
    ['randomkey'] = hRandomkey,
    ['keys'] = hKeys,
    ['dbsize'] = hDbsize,
    ['smembers'] = sortedReply,
    ['sinter'] = sortedReply,
    ['sunion'] = sortedReply,
    ['sdiff'] = sortedReply,
    ['hkeys'] = sortedReply,
    ['hvals'] = hHvals,
    ['hgetall'] = hHgetall,
    ['sort'] = hSort,
    ['sort_ro'] = hSort,
}
end
local function groupS()
-- Streams. Entry ids by the op's time; delivery times recorded as T; idle times measured as
-- T minus the recorded delivery time, read exactly (see bracket).
local function clockMs(t) return tonumber(t[1]) * 1000 + floor(tonumber(t[2]) / 1000) end
-- Redis reports a pending entry's idle time as (its clock) - (delivery time). Reading Redis's
-- clock (TIME) before and after, and retrying until both fall in the same millisecond, gives
-- that clock exactly, so the delivery time is exact. Cost: 3 calls per read, rarely more.
local function bracket(f)
  for _ = 1, 1000 do
    local x = rp('TIME')
    local r = f()
    local y = rp('TIME')
    if isErr(x) then return nil, x end
    if isErr(y) then return nil, y end
    local t = clockMs(x)
    if t == clockMs(y) then return t, r end
  end
  return nil, fail('Pylon could not read delivery times exactly: the clock of this rack\'s Redis moved during each of 1000 tries')
end
-- Delivery times are set to T; Redis sets one later than its clock to its clock instead, so a
-- rack whose clock is behind the op's log time refuses before changing anything.
local function clockBehind()
  local x = rp('TIME')
  if isErr(x) then return x end
  local now = clockMs(x)
  if now < T then
    return fail('Pylon cannot record delivery time ' .. Ts .. ' on this rack yet: its Redis clock reads ' .. istr(now))
  end
  return nil
end
local function lastId(k)
  local r = rp('XINFO', 'STREAM', k)
  if isErr(r) then
    if sfind(r.err, 'no such key', 1, true) then return '0', '0' end
    return nil
  end
  local v
  if type(r.map) == 'table' then
    v = r.map['last-generated-id']
  else
    for i = 1, #r - 1, 2 do if r[i] == 'last-generated-id' then v = r[i + 1] end end
  end
  if type(v) ~= 'string' then return nil end
  return smatch(v, '^([0-9]+)%-([0-9]+)$')
end
-- XADD with '*': the id Redis gives at time T (T-0, or the last id's next when it is not
-- older than T); every other form is Redis's own (an explicit or <ms>-* id does not use the clock).
local function hXadd(a)
  local n, i = #a, 3
  while i <= n do
    local o = word(a[i])
    local more = n - i
    if o == '*' then break end
    if (o == 'maxlen' or o == 'minid') and more > 0 then
      if more >= 2 and (word(a[i + 1]) == '~' or word(a[i + 1]) == '=') then i = i + 1 end
      i = i + 2
    elseif o == 'limit' and more > 0 then
      i = i + 2
    elseif o == 'nomkstream' then
      i = i + 1
    else
      return PASS
    end
  end
  if i > n then return PASS end
  local ms, seq = lastId(a[2])
  if not ms then return PASS end
  local id
  if dcmp(ms, Ts) < 0 then id = Ts .. '-0'
  elseif seq ~= U64MAX then id = ms .. '-' .. dadd(seq, '1')
  elseif ms ~= U64MAX then id = dadd(ms, '1') .. '-0'
  else return PASS end
  local b = copy(a)
  b[i] = id
  return call(b)
end
local function stamp(k, g, c, ids)
  if #ids == 0 then return end
  for i = 1, #ids, 1000 do
    local b = { 'XCLAIM', k, g, c, '0' }
    for j = i, i + 999 do
      if ids[j] == nil then break end
      b[#b + 1] = ids[j]
    end
    b[#b + 1] = 'TIME'
    b[#b + 1] = Ts
    b[#b + 1] = 'JUSTID'
    rp(unpack(b))
  end
end
-- XREADGROUP: Redis's own delivery, then each entry delivered stamped with delivery time T
-- (XCLAIM .. TIME T JUSTID: the same consumer, no delivery counted).
local function hXreadgroup(a)
  local g, c
  local i = 2
  while i <= #a do
    local o = word(a[i])
    local more = #a - i
    if (o == 'block' or o == 'count') and more > 0 then
      i = i + 1
    elseif o == 'group' and more >= 2 then
      g = a[i + 1]
      c = a[i + 2]
      i = i + 2
    elseif o ~= 'noack' then
      break
    end
    i = i + 1
  end
  if not g then return PASS end
  local late = clockBehind()
  if late then return late end
  local r = call(a)
  if type(r) ~= 'table' or isErr(r) then return r end
  local streams = r
  if type(r.map) == 'table' then
    streams = {}
    for k, v in pairs(r.map) do streams[#streams + 1] = { k, v } end
    tsort(streams, firstLt)
  end
  for _, s in ipairs(streams) do
    local ids = {}
    if type(s[2]) == 'table' then
      for _, e in ipairs(s[2]) do if e[2] then ids[#ids + 1] = e[1] end end
    end
    stamp(s[1], g, c, ids)
  end
  return r
end
local function exists(k, lo, hi)
  local r = rp('XRANGE', k, lo, hi, 'COUNT', '1')
  if type(r) == 'table' and not isErr(r) and r[1] then return r[1][1] end
  return nil
end
-- XCLAIM decided at T: each id's delivery time read exactly; the ids Redis would skip at T (in
-- the PEL, present, idle below min-idle-time) are left out, the rest claimed with min-idle 0
-- and delivery time T (or the one given by IDLE/TIME, as Redis bounds it, at T).
local function hXclaim(a)
  local n = #a
  if n < 6 then return PASS end
  local minidle = int64(a[5])
  if not minidle then return PASS end
  if minidle < 0 then minidle = 0 end
  if isErr(rp('XPENDING', a[2], a[3])) then return PASS end
  local ids, info = {}, {}
  local j = 6
  while j <= n do
    local x = a[j]
    if x == '' or sbyte(x, 1) == 40 or word(x) == '-' or word(x) == '+' then break end
    local hi = x
    if not sfind(x, '-', 1, true) then hi = x .. '-0' end
    local now, r = bracket(function() return rp('XPENDING', a[2], a[3], x, hi, '1') end)
    if not now then return r end
    if isErr(r) then break end
    local e = r[1]
    if e then
      info[#ids + 1] = { id = e[1], pel = true, dt = now - e[3], ok = exists(a[2], e[1], e[1]) ~= nil }
    else
      local id = exists(a[2], x, hi)
      info[#ids + 1] = { id = id, pel = false, ok = id ~= nil }
    end
    ids[#ids + 1] = x
    j = j + 1
  end
  if #ids == 0 then return PASS end
  local dtime, force, opts = nil, false, {}
  while j <= n do
    local o = word(a[j])
    local more = n - j
    if o == 'force' then
      force = true
      opts[#opts + 1] = a[j]
    elseif o == 'justid' then
      opts[#opts + 1] = a[j]
    elseif (o == 'idle' or o == 'time' or o == 'retrycount') and more > 0 then
      local v = int64(a[j + 1])
      if not v then return PASS end
      if o == 'idle' then dtime = T - v
      elseif o == 'time' then dtime = v
      else
        opts[#opts + 1] = a[j]
        opts[#opts + 1] = a[j + 1]
      end
      j = j + 1
    elseif o == 'lastid' and more > 0 then
      opts[#opts + 1] = a[j]
      opts[#opts + 1] = a[j + 1]
      j = j + 1
    else
      return PASS
    end
    j = j + 1
  end
  if dtime == nil or dtime < 0 or dtime > T then dtime = T end
  local keep, state = {}, {}
  for i, x in ipairs(ids) do
    local e = info[i]
    local s = e
    if e.id then
      s = state[e.id] or e
      state[e.id] = s
    end
    if not s.ok then
      keep[#keep + 1] = x
      s.pel = false
    elseif s.pel then
      if minidle == 0 or T - s.dt >= minidle then
        keep[#keep + 1] = x
        s.dt = dtime
      end
    elseif force then
      keep[#keep + 1] = x
      s.pel = true
      s.dt = dtime
    else
      keep[#keep + 1] = x
    end
  end
  local late = clockBehind()
  if late then return late end
  local b = { 'XCLAIM', a[2], a[3], a[4], '0' }
  if #keep == 0 then b[#b + 1] = '0-0' end
  for _, x in ipairs(keep) do b[#b + 1] = x end
  for _, x in ipairs(opts) do b[#b + 1] = x end
  b[#b + 1] = 'TIME'
  b[#b + 1] = istr(dtime)
  return call(b)
end
-- XAUTOCLAIM decided at T: the PEL from start read with exact delivery times, Redis's scan
-- (attempts = COUNT x 10, deleted entries counted) simulated at T, then the chosen ids claimed
-- (and deleted ones cleared) by one XCLAIM with delivery time T; the reply built as Redis's.
local function hXautoclaim(a)
  local n = #a
  if n < 6 then return PASS end
  local minidle = int64(a[5])
  if not minidle then return PASS end
  if minidle < 0 then minidle = 0 end
  local count, justid = 100, false
  local j = 7
  while j <= n do
    local o = word(a[j])
    local more = n - j
    if o == 'count' and more > 0 then
      local v, sign, d = int64(a[j + 1])
      if not v or sign == '-' or v < 1 or #d > 18 or (#d == 18 and dcmp(d, '576460752303423487') > 0) then return PASS end
      count = v
      j = j + 1
    elseif o == 'justid' then
      justid = true
    else
      return PASS
    end
    j = j + 1
  end
  if isErr(rp('XPENDING', a[2], a[3])) then return PASS end
  local attempts = count * 10
  local want = attempts + 1
  if want > 1e15 then want = 1e15 end
  local now, r = bracket(function() return rp('XPENDING', a[2], a[3], a[6], '+', istr(want)) end)
  if not now then return r end
  if type(r) ~= 'table' or isErr(r) then return PASS end
  local list, deleted, visited, c, att = {}, {}, 0, count, attempts
  for i = 1, #r do
    if att == 0 or c == 0 then break end
    att = att - 1
    visited = i
    local id = r[i][1]
    if not exists(a[2], id, id) then
      deleted[#deleted + 1] = id
      list[#list + 1] = id
      c = c - 1
    elseif minidle == 0 or T - (now - r[i][3]) >= minidle then
      list[#list + 1] = id
      c = c - 1
    end
  end
  local cursor = '0-0'
  if r[visited + 1] then cursor = r[visited + 1][1] end
  local got = {}
  if #list > 0 then
    local late = clockBehind()
    if late then return late end
    local b = { 'XCLAIM', a[2], a[3], a[4], '0' }
    for _, x in ipairs(list) do b[#b + 1] = x end
    b[#b + 1] = 'TIME'
    b[#b + 1] = Ts
    if justid then b[#b + 1] = 'JUSTID' end
    got = call(b)
    if isErr(got) then return got end
  end
  return { cursor, got, deleted }
end
-- XPENDING's extended form: idle times as T minus the exact delivery time, the IDLE filter
-- decided at T (the range is read whole for it: O(entries in range)).
local function hXpending(a)
  local n = #a
  if n < 6 or n > 9 then return PASS end
  local si, minidle = 4, 0
  if word(a[4]) == 'idle' then
    minidle = int64(a[5])
    if not minidle or n < 8 then return PASS end
    si = 6
  end
  local count = int64(a[si + 2])
  if not count then return PASS end
  if count < 0 then count = 0 end
  local b = { 'XPENDING', a[2], a[3], a[si], a[si + 1], a[si + 2] }
  if minidle ~= 0 then b[6] = I64MAX end
  if si + 3 <= n then b[7] = a[si + 3] end
  local now, r = bracket(function() return call(b) end)
  if not now then return r end
  if type(r) ~= 'table' or isErr(r) then return r end
  local out = {}
  for _, e in ipairs(r) do
    if #out >= count then break end
    local idle = T - (now - e[3])
    if minidle == 0 or idle >= minidle then
      if idle < 0 then idle = 0 end
      out[#out + 1] = { e[1], e[2], idle, e[4] }
    end
  end
  return out
end
return {
    ['xadd'] = hXadd,
    ['xreadgroup'] = hXreadgroup,
    ['xclaim'] = hXclaim,
    ['xautoclaim'] = hXautoclaim,
    ['xpending'] = hXpending,
}
end
local function groupX()
-- What differs from rack to rack and cannot be made the same is refused, naming the command.
local function refuse(what, why)
  return fail('Pylon refuses \'' .. what .. '\' in scripts: ' .. why)
end
local OBJECT_WHY = {
  encoding = 'how a value is encoded differs from rack to rack (each Redis converts on its own history)',
  freq = 'access frequencies are counted by each rack\'s Redis on its own clock',
  idletime = 'idle times are measured by each rack\'s own clock',
  refcount = 'reference counts depend on each rack\'s Redis internals',
}
local function hObject(a)
  local sub = word(a[2])
  local why = OBJECT_WHY[sub]
  if why then return refuse('OBJECT ' .. string.upper(sub), why) end
  return PASS
end
local function hXinfo(a)
  local sub = word(a[2])
  if sub == 'consumers' then
    return refuse('XINFO CONSUMERS', 'its idle times are measured by each rack\'s own clock')
  end
  if sub == 'stream' then
    for i = 4, #a do
      if word(a[i]) == 'full' then
        return refuse('XINFO STREAM FULL', 'its consumers\' seen-times come from each rack\'s own clock')
      end
    end
  end
  return PASS
end
local function hMemory(a)
  if word(a[2]) == 'help' then return PASS end
  return refuse('MEMORY', 'it measures this rack\'s memory, which differs from rack to rack')
end
local function refused(what, why) return function() return refuse(what, why) end end
local SCAN_WHY = 'its cursor and order follow this rack\'s hash tables, which differ from rack to rack'
return {
    ['object'] = hObject,
    ['xinfo'] = hXinfo,
    ['memory'] = hMemory,
    ['dump'] = refused('DUMP', 'its bytes follow how this rack\'s Redis encodes the value, which differs from rack to rack'),
    ['scan'] = refused('SCAN', SCAN_WHY),
    ['sscan'] = refused('SSCAN', SCAN_WHY),
    ['hscan'] = refused('HSCAN', SCAN_WHY),
    ['zscan'] = refused('ZSCAN', SCAN_WHY),
    ['pubsub'] = refused('PUBSUB', 'it counts this rack\'s subscribers'),
    ['migrate'] = refused('MIGRATE', 'it moves keys to a Redis outside the log'),
    ['lastsave'] = refused('LASTSAVE', 'each rack saves at its own times'),
}
end
return { groups = { E = groupE, R = groupR, S = groupS, X = groupX }, hTime = hTime,
  mathRandom = mathRandom, mathRandomseed = mathRandomseed }
end
local function needLib()
  if not lib then lib = buildLib() end
  return lib
end
local loaded, hcache = {}, {}
local function handlerFor(name)
  local h = hcache[name]
  if h ~= nil then return h end
  h = false
  if name == 'time' then h = needLib().hTime end
  local i, j = sfind(GROUP_OF, ';' .. name .. '=', 1, true)
  if i then
    local g = ssub(GROUP_OF, j + 1, j + 1)
    local t = loaded[g]
    if not t then
      t = needLib().groups[g]()
      loaded[g] = t
    end
    h = t[name] or false
  end
  hcache[name] = h
  return h
end
local function runOne(...)
  local n = select('#', ...)
  if n == 0 then return redis.pcall(...) end
  local args = { ... }
  local a = {}
  for i = 1, n do
    local v = args[i]
    local t = type(v)
    if t == 'number' then v = sformat('%.17g', v)
    elseif t ~= 'string' then return redis.pcall(...) end
    a[i] = v
  end
  local name = slower(a[1])
  if PC > 1 then
    local refused = ownPartition(name, a)
    if refused then return refused end
  end
  preexpire(name, a)
  -- SET and GETEX without options set no expiry: no handler to build.
  local h = not ((name == 'set' and n == 3) or (name == 'getex' and n == 2)) and handlerFor(name)
  if h then
    local r = h(a)
    if r ~= PASS then return r end
  end
  return redis.pcall(...)
end
-- Each call is charged before it runs (its arguments) and after (the length of a table it returns).
local function run(...)
  charge(CALL_STEPS + select('#', ...))
  local r = runOne(...)
  if type(r) == 'table' then charge(#r * ELEMENT_STEPS) end
  return r
end
-- Errors must name the script's own line, as Redis's handler finds it: the frame that called
-- the function that raised, when that function is a C function. A Lua function called in a
-- tail position ('return redis.call(...)') would replace the script's frame, so 'call' and
-- 'setresp' are C functions: coroutine.wrap's, running this code in a coroutine and raising
-- its error in the script's frame. One coroutine serves every call until one raises (a
-- coroutine that raised is dead; 'redis.call' then gives a new one).
local function pack(...) return { n = select('#', ...), ... } end
-- Redis's pcall turns an error table into its text; xpcall with this handler keeps the table.
local function same(e) return e end
local callF, callDead
local function newCall()
  local dead = {}
  local f = coroutine.wrap(function(...)
    local args = pack(...)
    while true do
      local ok, r = xpcall(function() return run(unpack(args, 1, args.n)) end, same)
      if not ok or isErr(r) then
        dead[1] = true
        error(r, 0)
      end
      args = pack(coroutine.yield(r))
    end
  end)
  return f, dead
end
local function setrespF()
  return coroutine.wrap(function(...)
    local v = pack(...)
    local ok, e = xpcall(function() return redis.setresp(unpack(v, 1, v.n)) end, same)
    if not ok then error(e, 0) end
    resp = tonumber((...))
  end)
end
local function pcallF(...) return run(...) end
local W = setmetatable({}, {
  __index = function(_, k)
    local v = redis[k]
    if v == nil then return nil end
    if k == 'call' then
      if not callF or callDead[1] then callF, callDead = newCall() end
      return callF
    end
    if k == 'pcall' then return pcallF end
    if k == 'setresp' then return setrespF() end
    return v
  end,
  -- Assignments go to the real table, whose protection raises Redis's own error at the script's line.
  __newindex = redis,
})
`;

/**
 * EVAL: the op's T, seed and budget, the last three ARGV entries, taken off
 * so the body sees the client's ARGV. Evaluates to the stand-in for `redis`
 * and the shadows of `pcall`, `xpcall`, `coroutine`, `loadstring`, `load`.
 */
export const EVAL_ENTRY = String.raw`
local A = ARGV
local n = #A
begin(A[n - 2], A[n - 1], A[n], 'script')
A[n] = nil
A[n - 1] = nil
A[n - 2] = nil
return W, shadows.pcall, shadows.xpcall, shadows.coroutine, shadows.loadstring, shadows.load
`;

/**
 * Functions: the library's code runs once, at FUNCTION LOAD, where Redis gives
 * it only `redis.register_function`, `redis.log` and the version (no
 * `string`, `setmetatable`, `type`, `error`...). So the core is built at the
 * first call of a function, and `redis` is a plain table until then; each
 * callback registered is wrapped to take T, the seed and the budget off its
 * args before the client's callback runs. `math` is shadowed too:
 * `math.random` draws from the op's random source (a function's Lua state
 * cannot be reseeded by the applier as a script's is). So are `pcall`,
 * `xpcall`, `coroutine`, `loadstring`, `load` and `_G`, as in scripts (the
 * script budget, script_budget.ts); until the first call they only lead to
 * the core, which is not there yet (as the globals are not, at load).
 *
 * The library's own code (its top level, while FUNCTION LOAD runs it) has a
 * budget of its own (LIBRARY_LOAD_STEPS); with no `error` to raise at load time,
 * its stop calls a nil local whose name says what happened. The core's text
 * is spliced in at `@CORE@`.
 */
export const FUNCTION_PROLOGUE_SOURCE = String.raw`
local __pylon_steps, __pylon_stop, __pylon_why = @LOAD_STEPS@, function() local Pylon_stopped_the_library_code_at_its_load_budget; Pylon_stopped_the_library_code_at_its_load_budget() end;
local redis, math, pcall, xpcall, coroutine, loadstring, load, _G = (function()
  local core
  local R = { log = redis.log, LOG_DEBUG = redis.LOG_DEBUG, LOG_VERBOSE = redis.LOG_VERBOSE,
    LOG_NOTICE = redis.LOG_NOTICE, LOG_WARNING = redis.LOG_WARNING,
    REDIS_VERSION = redis.REDIS_VERSION, REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM }
  local M, C, G = {}, {}, {}
  local function P(...) return core.shadows.pcall(...) end
  local function X(...) return core.shadows.xpcall(...) end
  local function L(...) return core.shadows.loadstring(...) end
  local function D(...) return core.shadows.load(...) end
  local function enter(args)
    if not core then
      core = (function()
        @CORE@
        return { W = W, begin = begin, shadows = shadows,
          random = function(...) return needLib().mathRandom(...) end,
          randomseed = function(...) return needLib().mathRandomseed(...) end }
      end)()
      R.register_function = nil
      setmetatable(R, getmetatable(core.W))
      M.random = core.random
      M.randomseed = core.randomseed
      setmetatable(M, { __index = math, __newindex = math })
      C.resume = core.shadows.coroutine.resume
      setmetatable(C, { __index = coroutine, __newindex = coroutine })
      G.redis, G.math, G.pcall, G.xpcall, G.coroutine, G.loadstring, G.load, G._G = R, M, P, X, C, L, D, G
      setmetatable(G, { __index = _G, __newindex = _G, __metatable = getmetatable(_G) })
    end
    local n = #args
    core.begin(args[n - 2], args[n - 1], args[n], 'function')
    args[n] = nil
    args[n - 1] = nil
    args[n - 2] = nil
  end
  local function wrap(cb)
    if cb == nil then return nil end
    return function(keys, args)
      enter(args)
      return cb(keys, args)
    end
  end
  R.register_function = function(a, b, c)
    if c ~= nil then return redis.register_function(a, b, c) end
    if b ~= nil then return redis.register_function(a, wrap(b)) end
    if a == nil then return redis.register_function() end
    return redis.register_function({ function_name = a.function_name, callback = wrap(a.callback),
      flags = a.flags, description = a.description })
  end
  return R, M, P, X, C, L, D, G
end)();
`;
