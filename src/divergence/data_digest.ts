/**
 * Data digests: what a rack holds under a few keys, as of a log position,
 * digested from the values' content so racks can compare them.
 *
 * Content, not `DUMP` bytes nor `DEBUG DIGEST-VALUE`: `DUMP`'s encoding
 * differs with each Redis's config (listpack or hashtable, by
 * `hash-max-listpack-entries` ...) and version, and `DEBUG` is off by
 * default in Redis 7 and cannot run inside a script. The script below runs
 * on the applier's own connection while it stands at the position
 * (src/divergence/stops.ts), so every rack reads the same keys as of the same
 * op; it only reads.
 *
 * Per key: its type, its size, its expiry in log time (stored shifted,
 * src/determinism/expiry.ts; a key whose expiry the position's log time has
 * reached is absent, whether or not the sweeper removed it yet) and a SHA-1
 * of its content: a string's bytes; a list's elements in order; a sorted
 * set's members in order with their scores as numbers; a hash's fields and
 * values, and a set's members, in any order (a sum of per-element SHA-1s,
 * since Redis gives them in its own order and Lua sorts by the rack's
 * locale); a stream's entries, its last id and counters, and per group its
 * last-delivered id, pending entries (id, consumer, delivery count) and
 * consumers (name, pending) — not idle times, which each rack's clock gives,
 * nor a group's `entries-read`, an estimate Redis itself may lose (a
 * replica promoted by a failover, a read across deleted entries) and the
 * chaos checker leaves out for that reason.
 *
 * Bounded: a collection of more than `elementsMax` elements is digested by
 * its count and its first and last `elementsMax/2` elements in order (a hash
 * or set that large by its count alone); a string longer than
 * `stringBytesMax` by its length and both ends. The keys of one request may
 * read `budget` elements in all; the keys after that answer `?` and are
 * asked again in a later round. Each rack stops at the same key when their
 * data agree.
 */

import { encodeCommand } from "../resp/encoder.ts";
import { arrayItems, bulkPayload, frameText, isErrorFrame } from "../resp/frames.ts";
import type { CommandRunner } from "../redis/command_runner.ts";
import { EXPIRY_SHIFT_MS } from "../determinism/expiry.ts";
import type { DigestLimits } from "./wire.ts";
import { positionKey } from "../meta_keys.ts";

/** The limits a digest request carries by default. */
export const DIGEST_LIMITS: DigestLimits = {
  elementsMax: 1_000,
  // About 1-3 ms of the rack's Redis per round (a SHA-1 per element of a hash or set).
  budget: 1_000,
  stringBytesMax: 64 * 1024,
};

/** A key the budget left out of a request. */
export const NOT_DIGESTED = "?";

/** A key that does not exist (or has expired) at the position. */
export const ABSENT = "none";

/**
 * KEYS: the keys. ARGV: log time T, the expiry shift H, elementsMax, budget,
 * stringBytesMax, then (optional) the partition's position key, the position
 * it must hold and the db of the keys. Answers one text per key: `none`, `?`,
 * or `<type> <size> <expiry in log ms or -1> <digest>`; or the error
 * `PYLONMOVED` when the stored position is not the one asked for (another
 * applier of the rack, deposed or racing, moved it: the data is not as of
 * that position). It runs in the metadata db then, and SELECTs the keys' db.
 */
export const DIGEST_SCRIPT = `#!lua flags=no-writes
local t = tonumber(ARGV[1])
local h = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local budget = tonumber(ARGV[4])
local strcap = tonumber(ARGV[5])
local half = math.floor(cap / 2)
if ARGV[6] then
  local at = redis.call('GET', ARGV[6])
  if at ~= ARGV[7] then return redis.error_reply('PYLONMOVED position ' .. tostring(at)) end
  redis.call('SELECT', ARGV[8])
end
local function enc(v)
  if v == false or v == nil then return '~' end
  if type(v) == 'number' then return ':' .. string.format('%.0f', v) end
  if type(v) == 'table' then
    if v.ok then return '+' .. v.ok end
    if v.err then return '-' .. v.err end
    local parts = {}
    for i, x in ipairs(v) do parts[i] = enc(x) end
    return '*' .. #parts .. ':' .. table.concat(parts)
  end
  return #v .. ':' .. v
end
local function ordered(items)
  local parts = {}
  for i, v in ipairs(items) do parts[i] = enc(v) end
  return redis.sha1hex(table.concat(parts))
end
local sha1hex, sub, tonum = redis.sha1hex, string.sub, tonumber
local function unordered(items, step)
  local a, b = 0, 0
  for i = 1, #items, step do
    local x
    if step == 2 then x = sha1hex(#items[i] .. ':' .. items[i] .. items[i + 1])
    else x = sha1hex(items[i]) end
    a = (a + tonum(sub(x, 1, 13), 16)) % 4503599627370496
    b = (b + tonum(sub(x, 14, 26), 16)) % 4503599627370496
  end
  return string.format('%013x%013x', a, b)
end
local function fields(flat)
  local f = {}
  for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
  return f
end
local function scored(flat)
  for i = 2, #flat, 2 do
    local n = tonumber(flat[i])
    if n then flat[i] = string.format('%.17g', n) end
  end
  return ordered(flat)
end
local out = {}
for i, key in ipairs(KEYS) do
  if budget <= 0 then
    out[i] = '?'
  else
    local ty = redis.call('TYPE', key)['ok']
    local at = redis.call('PEXPIRETIME', key)
    if ty == 'none' or (at ~= -1 and (at < h or at - h <= t)) then
      out[i] = 'none'
      budget = budget - 1
    else
      local n, d = 0, '-'
      local cost = 1
      if ty == 'string' then
        n = redis.call('STRLEN', key)
        if n <= strcap then
          d = redis.sha1hex(redis.call('GET', key))
        else
          local k = math.floor(strcap / 2)
          d = redis.sha1hex(redis.call('GETRANGE', key, 0, k - 1) .. redis.call('GETRANGE', key, -k, -1)) .. '+'
        end
        cost = 1 + math.floor(math.min(n, strcap) / 1024)
      elseif ty == 'hash' then
        n = redis.call('HLEN', key)
        if n <= cap then d = unordered(redis.call('HGETALL', key), 2) else d = 'count' end
        cost = 1 + math.min(n, cap)
      elseif ty == 'set' then
        n = redis.call('SCARD', key)
        if n <= cap then d = unordered(redis.call('SMEMBERS', key), 1) else d = 'count' end
        cost = 1 + math.min(n, cap)
      elseif ty == 'list' then
        n = redis.call('LLEN', key)
        if n <= cap then d = ordered(redis.call('LRANGE', key, 0, -1))
        else d = ordered(redis.call('LRANGE', key, 0, half - 1)) .. ordered(redis.call('LRANGE', key, -half, -1)) .. '+' end
        cost = 1 + math.min(n, cap)
      elseif ty == 'zset' then
        n = redis.call('ZCARD', key)
        if n <= cap then d = scored(redis.call('ZRANGE', key, 0, -1, 'WITHSCORES'))
        else d = scored(redis.call('ZRANGE', key, 0, half - 1, 'WITHSCORES')) .. scored(redis.call('ZRANGE', key, -half, -1, 'WITHSCORES')) .. '+' end
        cost = 1 + math.min(n, cap)
      elseif ty == 'stream' then
        n = redis.call('XLEN', key)
        local parts = {}
        if n <= cap then parts[1] = ordered(redis.call('XRANGE', key, '-', '+'))
        else parts[1] = ordered(redis.call('XRANGE', key, '-', '+', 'COUNT', half)) .. ordered(redis.call('XREVRANGE', key, '+', '-', 'COUNT', half)) end
        local info = fields(redis.call('XINFO', 'STREAM', key))
        parts[2] = enc({info['last-generated-id'] or false, info['max-deleted-entry-id'] or false, info['entries-added'] or false})
        cost = 1 + math.min(n, cap)
        for _, g in ipairs(redis.call('XINFO', 'GROUPS', key)) do
          local gf = fields(g)
          local pending = {}
          for j, e in ipairs(redis.call('XPENDING', key, gf['name'], '-', '+', cap)) do pending[j] = {e[1], e[2], e[4]} end
          local consumers = {}
          for j, c in ipairs(redis.call('XINFO', 'CONSUMERS', key, gf['name'])) do
            local cf = fields(c)
            consumers[j] = {cf['name'], cf['pending'] or false}
          end
          cost = cost + #pending + #consumers
          table.insert(parts, enc({gf['name'], gf['last-delivered-id'] or false, gf['pending'] or false, pending, consumers}))
        end
        d = ordered(parts)
      end
      budget = budget - cost
      local expiry = -1
      if at ~= -1 then expiry = at - h end
      out[i] = ty .. ' ' .. string.format('%.0f', n) .. ' ' .. string.format('%.0f', expiry) .. ' ' .. d
    end
  end
end
return out`;

/**
 * The commands that digest `keys` of `db` at log time `logTimeMs`: SELECT,
 * then the script (its answer is the last reply).
 */
export function digestCommands(options: DigestOptions): Uint8Array[] {
  const { db, keys, logTimeMs, limits, at } = options;
  return [
    encodeCommand(["SELECT", String(at?.metaDb ?? db)]),
    encodeCommand([
      "EVAL",
      DIGEST_SCRIPT,
      String(keys.length),
      ...keys,
      String(logTimeMs),
      String(EXPIRY_SHIFT_MS),
      String(limits.elementsMax),
      String(limits.budget),
      String(limits.stringBytesMax),
      ...(at === undefined ? [] : [positionKey(at.partition), String(at.position), String(db)]),
    ]),
  ];
}

/** What to digest, and where the stored position must stand (checked in the same script). */
export interface DigestOptions {
  db: number;
  keys: readonly Uint8Array[];
  logTimeMs: number;
  limits: DigestLimits;
  at?: { metaDb: number; partition: number; position: number };
}

/** Reads the script's answer (one text per key); throws on an error or a malformed answer. */
export function parseDigests(frame: Uint8Array, keys: number): string[] {
  if (isErrorFrame(frame)) throw new Error(`the digest script failed: ${frameText(frame)}`);
  const items = arrayItems(frame) ?? [];
  if (items.length !== keys) {
    throw new Error(`the digest script answered ${items.length} digests for ${keys} keys`);
  }
  return items.map((item) => new TextDecoder().decode(bulkPayload(item) ?? new Uint8Array()));
}

/** Digests `options.keys` on `connection` (which it may leave in another db). */
export async function digestKeys(
  connection: CommandRunner,
  options: DigestOptions,
): Promise<string[]> {
  const [selected, reply] = await connection.run(digestCommands(options));
  if (isErrorFrame(selected!)) throw new Error(`SELECT: ${frameText(selected!)}`);
  return parseDigests(reply!, options.keys.length);
}

const UNITS: Record<string, string> = {
  string: "bytes",
  hash: "fields",
  set: "members",
  zset: "members",
  list: "elements",
  stream: "entries",
};

/** A key's digest for a message: `hash of 3 fields, no expiry, digest 1a2b3c4d5e6f`. */
export function describeDigest(digest: string): string {
  if (digest === ABSENT) return "no such key";
  if (digest === NOT_DIGESTED) return "not read";
  const [type, size, expiry, hash] = digest.split(" ");
  const unit = UNITS[type ?? ""] ?? "elements";
  const at = new Date(Number(expiry));
  const expires = expiry === "-1" || expiry === undefined
    ? "no expiry"
    : `expires at ${Number.isNaN(at.getTime()) ? expiry : at.toISOString()}`;
  return `${type} of ${size} ${unit}, ${expires}, digest ${(hash ?? "").slice(0, 12)}`;
}
