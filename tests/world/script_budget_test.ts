/**
 * No op can take the world down (issue 24, part 8): scripts and functions
 * sent through one rack of a world of three, each looping for ever in its own
 * way, stop by themselves at their budget (`--script-time-max-ms`) at the
 * same point on every rack. The client gets Pylon's budget error; every rack
 * serves reads and applies new writes again within the budget plus a few
 * seconds, with no operator; writes a script made before it looped stay, on
 * every rack alike; each rack's Redis, read directly, ends equal. A call the
 * budget cannot count (a pattern that backtracks over a long string) shows
 * the racks paused with the reason until it ends, and the world applies on.
 */

import assert from "node:assert/strict";
import { RawClient, startRedis, startWorld, useKafka, waitFor } from "../harness/mod.ts";
import type { RespValue } from "../../src/resp/value.ts";
import { FrameClient, text } from "../determinism/racks.ts";
import { digests, info } from "./world.ts";

/**
 * A short budget keeps the test quick (the default is 2,000 ms), and leaves
 * room for a loaded test machine, where three racks' Redis share two cores.
 */
const BUDGET_MS = 500;
/** "Within the budget plus a few seconds". */
const RECOVERY_MS_MAX = BUDGET_MS + 5_000;

const decoder = new TextDecoder();

function errorText(value: RespValue): string {
  assert.equal(value.type, "error", `an error, got ${JSON.stringify(value)}`);
  return String((value as { value: string }).value);
}

function bulkText(value: RespValue): string | null {
  if (value.type !== "bulk") return `(${value.type})`;
  return value.value === null ? null : decoder.decode(value.value);
}

Deno.test("no script or function op takes a world of three racks down; the racks end equal", async (t) => {
  await using kafka = await useKafka();
  await using world = await startWorld({
    brokers: kafka.brokers,
    racks: 3,
    // Replies wait as long as the slowest step here takes, not the default 10 s.
    args: ["--script-time-max-ms", String(BUDGET_MS), "--write-timeout-ms", "120000"],
  });
  await Promise.all(world.racks.map((rack) => rack.pylon.waitApplying()));
  const clients = await Promise.all(world.racks.map((rack) => RawClient.connect(rack.pylon.port)));
  /** What every rack's own Redis holds under `key`, read directly (not through Pylon). */
  const everyRackHolds = async (key: string): Promise<string[]> =>
    await Promise.all(world.racks.map(async (rack) => (await world.master(rack)).call("GET", key)));
  try {
    /**
     * From `startedAt` until every rack has applied a write made through it
     * after the script, and every rack's node reads every such write: ms.
     */
    const everyRackServes = async (label: string, startedAt: number): Promise<number> => {
      await Promise.all(clients.map(async (client, i) => {
        assert.deepEqual(await client.call("SET", `${label}:${i}`, String(i)), {
          type: "simple",
          value: "OK",
        });
      }));
      await waitFor(`every rack to read every write after ${label}`, async () => {
        for (const client of clients) {
          for (let i = 0; i < clients.length; i++) {
            if (bulkText(await client.call("GET", `${label}:${i}`)) !== String(i)) return undefined;
          }
        }
        return true;
      }, { timeoutMs: 60_000, intervalMs: 20 });
      return performance.now() - startedAt;
    };

    await t.step(
      "EVAL 'while true do end' 0: the client gets the budget error, every rack serves again",
      async () => {
        const startedAt = performance.now();
        const reply = errorText(await clients[0]!.call("EVAL", "while true do end", "0"));
        const replyMs = performance.now() - startedAt;
        assert.match(
          reply,
          new RegExp(`^ERR Pylon stopped the script: it ran past its budget of ${BUDGET_MS} ms`),
        );
        assert.match(reply, /every rack stops it at this same point/);
        assert.match(reply, /script: [0-9a-f]{40}, on @user_script:1\.$/);
        const servedMs = await everyRackServes("after-loop", startedAt);
        console.log(
          `while true do end: the client had the budget error after ${Math.round(replyMs)} ms; ` +
            `every rack served reads and applied new writes ${
              Math.round(servedMs)
            } ms after it was sent ` +
            `(budget ${BUDGET_MS} ms)`,
        );
        assert.ok(
          servedMs < RECOVERY_MS_MAX,
          `every rack served again after ${Math.round(servedMs)} ms`,
        );
      },
    );

    await t.step(
      "a script that SETs a key then loops: the key stays on every rack, the client gets the error",
      async () => {
        const startedAt = performance.now();
        const reply = errorText(
          await clients[1]!.call(
            "EVAL",
            "redis.call('SET', KEYS[1], ARGV[1])\nlocal n = 0\nwhile true do\n  n = n + 1\nend",
            "1",
            "wrote-then-looped",
            "written",
          ),
        );
        assert.match(reply, /^ERR Pylon stopped the script: .* on @user_script:3\.$/);
        const servedMs = await everyRackServes("after-write-loop", startedAt);
        assert.ok(
          servedMs < RECOVERY_MS_MAX,
          `every rack served again after ${Math.round(servedMs)} ms`,
        );
        assert.deepEqual(await everyRackHolds("wrote-then-looped"), [
          "written",
          "written",
          "written",
        ]);
        console.log(`SET then loop: every rack served again after ${Math.round(servedMs)} ms`);
      },
    );

    await t.step("pcall around an endless loop does not swallow the budget error", async () => {
      const reply = errorText(
        await clients[2]!.call(
          "EVAL",
          "local ok = pcall(function() while true do end end)\n" +
            "redis.call('SET', KEYS[1], tostring(ok))\nreturn ok",
          "1",
          "after-pcall",
        ),
      );
      assert.match(reply, /^ERR Pylon stopped the script: /);
      // Nested: a loop of pcalls of loops is stopped at its first charge after the budget.
      const nested = errorText(
        await clients[0]!.call(
          "EVAL",
          "while true do pcall(function() while true do end end) end",
          "0",
        ),
      );
      assert.match(nested, /^ERR Pylon stopped the script: /);
      await everyRackServes("after-pcall", performance.now());
      assert.deepEqual(
        await everyRackHolds("after-pcall"),
        ["", "", ""],
        "nothing ran after the stop",
      );
    });

    await t.step(
      "endless recursion, and a coroutine that loops, stop at the budget too",
      async () => {
        const recursion = errorText(
          await clients[1]!.call(
            "EVAL",
            "local function f(n) return f(n + 1) end\nreturn f(1)",
            "0",
          ),
        );
        assert.match(recursion, /^ERR Pylon stopped the script: .* on @user_script:1\.$/);
        const coroutine = errorText(
          await clients[1]!.call(
            "EVAL",
            "local co = coroutine.create(function() while true do end end)\nreturn {coroutine.resume(co)}",
            "0",
          ),
        );
        assert.match(coroutine, /^ERR Pylon stopped the script: /);
        await everyRackServes("after-recursion", performance.now());
      },
    );

    await t.step(
      "a function (FCALL) that writes then loops stops at the budget; its write stays everywhere",
      async () => {
        const library = "#!lua name=spinner\n" +
          "redis.register_function('spin', function(keys, args)\n" +
          "  redis.call('SET', keys[1], args[1])\n" +
          "  while true do end\n" +
          "end)\n" +
          "redis.register_function{function_name = 'args', flags = {'no-writes'},\n" +
          "  callback = function(keys, args) return args end}\n" +
          "redis.register_function{function_name = 'spin_ro', flags = {'no-writes'},\n" +
          "  callback = function() while true do end end}\n";
        const loaded = await clients[0]!.call("FUNCTION", "LOAD", library);
        assert.equal(bulkText(loaded), "spinner");
        const startedAt = performance.now();
        const reply = errorText(await clients[2]!.call("FCALL", "spin", "1", "spun", "before"));
        assert.match(
          reply,
          new RegExp(`^ERR Pylon stopped the function: it ran past its budget of ${BUDGET_MS} ms`),
        );
        assert.match(reply, /on @user_function:4\.$/);
        const servedMs = await everyRackServes("after-fcall", startedAt);
        assert.ok(
          servedMs < RECOVERY_MS_MAX,
          `every rack served again after ${Math.round(servedMs)} ms`,
        );
        assert.deepEqual(await everyRackHolds("spun"), ["before", "before", "before"]);
        // FUNCTION LIST shows the client's code, without the prologue and the charges.
        await using frames = await FrameClient.connect(world.racks[1]!.pylon.port);
        const list = decoder.decode(
          await frames.call("FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "spinner"),
        );
        assert.ok(list.includes(`$${library.length}\r\n${library}\r\n`), list.slice(0, 400));
        assert.ok(!list.includes("__pylon"));
        // FCALL_RO is a read: it runs on the reading rack alone, with the client's args and the
        // node's budget (a read-only function that loops is stopped as well).
        for (const client of clients) {
          const read = await client.call("FCALL_RO", "args", "0", "a", "b");
          assert.deepEqual([...(read as { value: RespValue[] }).value].map(bulkText), ["a", "b"]);
          assert.match(
            errorText(await client.call("FCALL_RO", "spin_ro", "0")),
            /^ERR Pylon stopped the function: /,
          );
        }
      },
    );

    await t.step(
      "code naming the budget's reserved names is refused; SCRIPT KILL is refused with the way out",
      async () => {
        const refused = errorText(
          await clients[0]!.call("EVAL", "local __pylon_steps = 1e18 while true do end", "0"),
        );
        assert.match(
          refused,
          /is refused by Pylon: the code names a name reserved for Pylon's script budget/,
        );
        const kill = errorText(await clients[0]!.call("SCRIPT", "KILL"));
        assert.match(
          kill,
          /stop by themselves once they run past their budget \(--script-time-max-ms\)/,
        );
      },
    );

    await t.step("ordinary scripts answer byte for byte what a plain Redis answers", async () => {
      await using twin = await startRedis();
      await using direct = await FrameClient.connect(twin.port);
      await using viaPylon = await FrameClient.connect(world.racks[1]!.pylon.port);
      const scripts: string[][] = [
        [
          "EVAL",
          "local t = {} for i = 1, 3 do t[i] = redis.call('INCR', KEYS[1]) end return t",
          "1",
          "twin:n",
        ],
        [
          "EVAL",
          "local s = 0 for _, v in ipairs(ARGV) do s = s + tonumber(v) end return s",
          "0",
          "1",
          "2",
          "3",
        ],
        [
          "EVAL",
          "local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end return fib(20)",
          "0",
        ],
        ["EVAL", "local i = 0 repeat i = i + 1 until i >= 1000 return i", "0"],
        ["EVAL", "local ok, e = pcall(function() error('boom') end) return {tostring(ok), e}", "0"],
        ["EVAL", "return redis.call('GET', KEYS[1])", "1", "twin:n"],
        ["EVAL", "\nlocal x = 1\nreturn x + nil", "0"],
      ];
      for (const argv of scripts) {
        const [mine, theirs] = [await viaPylon.call(...argv), await direct.call(...argv)];
        assert.equal(text(mine), text(theirs), argv[1]);
      }
    });

    await t.step(
      "a call the budget cannot count shows the racks paused with the reason, then the world applies on",
      async () => {
        // One pattern search that backtracks over a long string: a single C call, seconds long.
        const find = "string.find(string.rep('a', tonumber(ARGV[1])), '.-b')";
        const probeStarted = performance.now();
        await clients[0]!.call("EVAL_RO", `return tostring(${find})`, "0", "12000");
        const oneMs = performance.now() - probeStarted;
        // Enough calls to outlast the budget plus the applier's 5 s of grace by half again (three racks
        // running it at once on one machine make each call slower still).
        const calls = Math.max(2, Math.ceil(1.5 * (BUDGET_MS + 5_000) / Math.max(oneMs, 1)));
        const startedAt = performance.now();
        await clients[1]!.command(
          "EVAL",
          `for i = 1, tonumber(ARGV[2]) do ${find} end\nredis.call('SET', KEYS[1], 'done')`,
          "1",
          "slow-call",
          "12000",
          String(calls),
        );
        const paused = await waitFor("a rack to show the overrun", async () => {
          for (const rack of world.racks) {
            const fields = await info(rack).catch(() => undefined);
            const reason = fields?.get("partition_0_last_error") ?? "";
            if (
              /past its budget: it is inside one call the script budget does not count/.test(reason)
            ) {
              return `${rack.name}: ${fields?.get("partition_0")}`;
            }
          }
          return undefined;
        }, { timeoutMs: 120_000, intervalMs: 200 });
        assert.match(paused, /paused/);
        // Its reply (nil), or the write's timeout if it outlasts --write-timeout-ms: it ends by itself.
        const reply = await clients[1]!.read(300_000);
        if (reply.type === "error") {
          assert.match(errorText(reply), /did not get this write's reply within/);
        } else {
          assert.deepEqual(reply, { type: "bulk", value: null });
        }
        await waitFor(
          "the slow script to end on every rack",
          async () => (await everyRackHolds("slow-call")).every((v) => v === "done") || undefined,
          { timeoutMs: 300_000, intervalMs: 500 },
        );
        const servedMs = await everyRackServes("after-slow-call", startedAt);
        assert.deepEqual(await everyRackHolds("slow-call"), ["done", "done", "done"]);
        for (const rack of world.racks) {
          assert.notEqual((await info(rack)).get("partition_0"), "paused", rack.name);
        }
        console.log(
          `a ${calls}-call backtracking search (${
            Math.round(oneMs)
          } ms each): overrun shown (${paused}); ` +
            `every rack served again ${Math.round(servedMs)} ms after it was sent`,
        );
      },
    );
  } finally {
    for (const client of clients) await client[Symbol.asyncDispose]();
  }
  const [first, ...rest] = await digests(world);
  for (const [i, digest] of rest.entries()) {
    assert.equal(digest, first, `rack${i + 1}'s DEBUG DIGEST equals rack0's`);
  }
});
