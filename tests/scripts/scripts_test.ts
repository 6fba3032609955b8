/**
 * Scripts and functions as ops. EVAL, EVALSHA and FCALL are logged and
 * applied on every rack, answering the reply Redis gave; SCRIPT LOAD|FLUSH
 * and FUNCTION LOAD|DELETE|FLUSH|RESTORE are world ops. Generated workloads
 * are compared with a twin Redis used directly, and every rack's data with
 * the twin's at the end. Scripts cannot reach Pylon's metadata, cannot make
 * racks diverge (TIME and random commands refused alike everywhere,
 * math.random reseeded per op), and EVALSHA survives a Redis restart.
 */

import assert from "node:assert/strict";
import { SeededRandom } from "../../src/random.ts";
import { RawClient, shown, startPylon, startRedis, startWorld, useKafka } from "../harness/mod.ts";
import { digests, waitConverged } from "../world/world.ts";

/** Script bodies the workload draws from: replies of every kind, errors, writes. */
const SCRIPTS = [
  "return redis.call('INCRBY', KEYS[1], ARGV[1])",
  "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])",
  "return redis.call('RPUSH', KEYS[1], ARGV[1])",
  "return {redis.call('HSET', KEYS[1], 'f', ARGV[1]), redis.call('HGETALL', KEYS[1])}",
  "return redis.pcall('LPUSH', KEYS[1], ARGV[1])",
  "return redis.error_reply('MYERR ' .. ARGV[1])",
  "return redis.status_reply('FINE')",
  "return 3.7",
  "return {1, 2, {3, 'x'}, false, 5}",
  "return (",
  "redis.setresp(3); return redis.call('HGETALL', KEYS[1])",
  "local n = redis.call('INCR', KEYS[1]); if n % 2 == 0 then redis.call('DEL', KEYS[2]) end; return n",
  "return redis.call('EXISTS', KEYS[1], KEYS[2])",
  "#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])",
];

const LIBRARY = "#!lua name=lib\n" +
  "redis.register_function('bump', function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end)\n" +
  "redis.register_function{function_name='peek', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}";

/** A seeded sequence of script requests over a few keys in one hash slot. */
function workload(seed: number, count: number): string[][] {
  const rng = new SeededRandom(seed);
  const random = () => rng.next();
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const keys = ["{s}a", "{s}b", "{s}c", "{s}d"];
  const value = () => pick(["1", "7", "-3", "x", "2.5", "hello world"]);
  const requests: string[][] = [["FUNCTION", "LOAD", LIBRARY]];
  for (let i = 0; i < count; i++) {
    const script = pick(SCRIPTS);
    switch (Math.floor(random() * 6)) {
      case 0:
        requests.push(["SCRIPT", "LOAD", script]);
        break;
      case 1:
        requests.push(["EVALSHA", "sha:" + script, "2", pick(keys), pick(keys), value()]);
        break;
      case 2:
        requests.push(["FCALL", pick(["bump", "peek", "nofunc"]), "1", pick(keys), value()]);
        break;
      case 3:
        requests.push(["SCRIPT", "EXISTS", "sha:" + script, "0000"]);
        break;
      default:
        requests.push(["EVAL", script, "2", pick(keys), pick(keys), value()]);
    }
  }
  requests.push(["FUNCTION", "DELETE", "lib"], ["FCALL", "bump", "1", "{s}a", "1"]);
  requests.push(["SCRIPT", "FLUSH"], ["EVALSHA", "sha:" + SCRIPTS[0], "1", "{s}a", "1"]);
  return requests;
}

/** `sha:<body>` stands for the body's sha1, as a client computes it. */
async function resolve(argv: string[]): Promise<string[]> {
  return await Promise.all(argv.map(async (arg) => {
    if (!arg.startsWith("sha:")) return arg;
    const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(arg.slice(4)));
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  }));
}

Deno.test("generated scripts and functions on two racks reply as a twin Redis does, and every rack's data equals the twin's", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2 });
  await using twin = await startRedis();
  const clients = await Promise.all(world.racks.map((rack) => RawClient.connect(rack.pylon.port)));
  const direct = await RawClient.connect(twin.port);
  let compared = 0;
  try {
    for (const protocol of ["2", "3"]) {
      for (const client of [...clients, direct]) await client.call(...["HELLO", protocol]);
      const requests = workload(Number(protocol) * 1000 + 7, 150);
      for (const [i, request] of requests.entries()) {
        const argv = await resolve(request);
        // Alternate racks: each reply is the accepting rack's, after every earlier op.
        const via = clients[i % clients.length]!;
        const [got, expected] = [await via.call(...argv), await direct.call(...argv)];
        assert.equal(shown(got), shown(expected), `RESP${protocol} #${i}: ${argv.join(" ")}`);
        compared++;
      }
    }
  } finally {
    for (const client of [...clients, direct]) client.close();
  }
  await waitConverged(world.racks);
  const expected = await twin.call("DEBUG", "DIGEST");
  const racks = await digests(world);
  assert.deepEqual(racks, racks.map(() => expected), "every rack's data equals the twin's");
  console.log(
    `scripts: ${compared} script requests replied as on Redis; 2 racks equal to the twin`,
  );
});

Deno.test("scripts cannot make racks diverge: TIME, random commands and math.random answer the same everywhere", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2 });
  const [a, b] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  await using onA = await RawClient.connect(a.pylon.port);
  await using onB = await RawClient.connect(b.pylon.port);
  await onA.call(...["SADD", "set", "1", "2", "3", "4", "5", "6", "7", "8"]);
  // Each script writes what it was answered: the racks' data then shows whether they agreed.
  for (
    const [body, key] of [
      [
        "local t = redis.call('TIME') redis.call('SET', KEYS[1], t[1] .. '.' .. t[2]) return t",
        "t",
      ],
      [
        "local m = redis.call('SRANDMEMBER', 'set', 3) redis.call('RPUSH', KEYS[1], unpack(m)) return m",
        "r",
      ],
      ["local m = redis.call('SPOP', 'set') redis.call('SET', KEYS[1], m) return m", "p"],
      ["local k = redis.call('RANDOMKEY') redis.call('SET', KEYS[1], k) return k", "k"],
    ]
  ) {
    const reply = await onB.call(...["EVAL", body!, "1", key!]);
    assert.notEqual(reply.type, "error", `${body}: ${shown(reply)}`);
  }
  const drawn = await onA.call(...[
    "EVAL",
    "local r = math.random(1000000000); redis.call('SET', KEYS[1], r); return r",
    "1",
    "drawn",
  ]);
  assert.equal(drawn.type, "integer");
  // Metadata out of reach: SELECT is refused to scripts.
  const select = await onA.call(...["EVAL", "redis.call('SELECT', 15); return 1", "0"]);
  assert.match(shown(select), /can't run this command/);
  // Functions draw math.random from the op's seed too: loaded, called, the same on every rack.
  const loaded = await onA.call(...[
    "FUNCTION",
    "LOAD",
    "#!lua name=r\nredis.register_function('r', function(keys) " +
    "local n = math.random(1000000) redis.call('SET', keys[1], n) return n end)",
  ]);
  assert.deepEqual(loaded, { type: "bulk", value: new TextEncoder().encode("r") });
  const called = await onB.call(...["FCALL", "r", "1", "fdrawn"]);
  assert.equal(called.type, "integer", shown(called));
  await waitConverged(world.racks);
  for (const rack of world.racks) {
    const master = await world.master(rack);
    assert.equal(await master.call("GET", "drawn"), String((drawn as { value: bigint }).value));
    assert.equal(await master.call("GET", "fdrawn"), String((called as { value: bigint }).value));
    assert.equal(await master.call("SCARD", "set"), "7", `rack ${rack.name}: SPOP popped one`);
  }
  const [first, second] = await digests(world);
  assert.equal(first, second, "both racks' data equal");
});

Deno.test("EVALSHA finds its script after the rack's Redis restarted (Redis itself forgets it)", async () => {
  await using redis = await startRedis({ appendonly: "everysec" });
  await using pylon = await startPylon({ redis: { url: redis.url } });
  await using client = await RawClient.connect(pylon.port);
  const body = "return redis.call('INCR', KEYS[1])";
  const sha = shown(await client.call(...["SCRIPT", "LOAD", body])).match(/[0-9a-f]{40}/)![0];
  assert.equal(
    shown(await client.call(...["EVALSHA", sha, "1", "n"])),
    shown({ type: "integer", value: 1n }),
  );
  await redis.restart();
  assert.match(await redis.call("EVALSHA", sha, "1", "n").catch((e) => String(e)), /NOSCRIPT/);
  await pylon.waitApplying();
  const again = await client.call(...["EVALSHA", sha, "1", "n"]);
  assert.equal(shown(again), shown({ type: "integer", value: 2n }), "run from the body Pylon kept");
  assert.equal(await redis.call("GET", "n"), "2");
});
