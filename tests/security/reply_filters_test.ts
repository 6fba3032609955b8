/**
 * Replies Pylon rewrites or filters (src/gateway/reply_filters.ts) are
 * rewritten on every path a reply can take, not only on the path of a
 * command sent alone: `CONFIG GET` of each parameter holding a password, and
 * `INFO` (Pylon's metadata db left out, the Pylon section added), each sent
 * alone, inside MULTI/EXEC, inside a watched transaction, forwarded to a peer
 * rack, and from scripts; `CLIENT LIST` alone lists Pylon's own clients and
 * is refused inside MULTI rather than answered by the rack's Redis. The
 * secrets are planted in the rack's Redis, and each reply is searched for
 * them as bytes.
 */

import assert from "node:assert/strict";
import { waitHealthyPeer } from "../world/world.ts";
import {
  RawClient,
  type RedisServer,
  startPylon,
  startRedis,
  startWorld,
  useKafka,
  waitFor,
} from "../harness/mod.ts";
import type { RespValue } from "../../src/resp/value.ts";

/** The secret parameters, each set to a value no reply may hold. */
const SECRETS: Record<string, string> = {
  masterauth: "planted-masterauth",
  masteruser: "planted-masteruser",
  "tls-key-file-pass": "planted-tls-key-pass",
  "tls-client-key-file-pass": "planted-tls-client-pass",
};
const REDIS_PASSWORD = "planted-s3cret";
const PLANTED = [REDIS_PASSWORD, ...Object.values(SECRETS)];
const SECRET_NAMES = ["requirepass", ...Object.keys(SECRETS)];

/** Every byte of a reply, as text (bulk payloads included). */
function text(reply: RespValue): string {
  return JSON.stringify(
    reply,
    (_, v) =>
      v instanceof Uint8Array ? new TextDecoder().decode(v) : typeof v === "bigint" ? String(v) : v,
  );
}

function assertNoSecret(reply: RespValue, what: string): void {
  const shown = text(reply);
  for (const secret of PLANTED) assert.ok(!shown.includes(secret), `${what} shows '${secret}'`);
  for (const name of SECRET_NAMES) {
    assert.ok(!shown.includes(`"${name}"`), `${what} names '${name}'`);
  }
}

/** The INFO text of a reply (a bulk or verbatim string). */
function infoText(reply: RespValue): string {
  const value = (reply as { value: unknown }).value;
  assert.ok(value instanceof Uint8Array, `INFO reply: ${text(reply)}`);
  return new TextDecoder().decode(value);
}

function assertInfoRewritten(reply: RespValue, what: string, metaDb: number): void {
  const info = infoText(reply);
  assert.match(info, /# Keyspace/, `${what}: the keyspace section`);
  assert.doesNotMatch(info, new RegExp(`^db${metaDb}:`, "m"), `${what}: Pylon's metadata db`);
  // The Pylon section belongs to the default sections, as Redis's own do.
  if (!/keyspace/.test(what)) assert.match(info, /# Pylon/, `${what}: the Pylon section`);
  else assert.doesNotMatch(info, /# Pylon/, `${what}: no Pylon section`);
}

/** `EXEC`'s reply to a transaction of one command: that command's reply. */
async function inTransaction(
  client: RawClient,
  argv: string[],
  watch: boolean,
): Promise<RespValue> {
  if (watch) {
    assert.deepEqual(await client.call("WATCH", "watched"), { type: "simple", value: "OK" });
  }
  assert.deepEqual(await client.call("MULTI"), { type: "simple", value: "OK" });
  assert.deepEqual(await client.call(...argv), { type: "simple", value: "QUEUED" });
  const exec = await client.call("EXEC");
  assert.equal(exec.type, "array", `EXEC of ${argv.join(" ")}: ${text(exec)}`);
  const items = (exec as { value: RespValue[] }).value;
  assert.equal(items.length, 1);
  return items[0]!;
}

async function plantSecrets(redis: RedisServer): Promise<void> {
  for (const [name, value] of Object.entries(SECRETS)) {
    assert.equal(await redis.call("CONFIG", "SET", name, value), "OK", name);
  }
}

Deno.test("CONFIG GET and INFO are filtered alone, inside MULTI, inside a watched MULTI, and from scripts", async () => {
  await using redis = await startRedis({ password: REDIS_PASSWORD });
  await plantSecrets(redis);
  await using pylon = await startPylon({
    redis: { url: redis.url },
    env: { PYLON_REDIS_PASSWORD: REDIS_PASSWORD },
  });
  await using client = await RawClient.connect(pylon.port);
  // Data in db 0 and Pylon's metadata in db 15: both show in Redis's own keyspace section.
  assert.deepEqual(await client.call("SET", "watched", "1"), { type: "simple", value: "OK" });
  assert.match(await redis.call("INFO", "keyspace"), /^db15:/m, "Redis has the metadata db");

  for (const protocol of ["2", "3"]) {
    await client.call("HELLO", protocol);
    for (const parameter of [...SECRET_NAMES, "*", "*pass*", "*auth*", "master*"]) {
      const argv = ["CONFIG", "GET", parameter];
      const alone = await client.call(...argv);
      assertNoSecret(alone, `${argv.join(" ")} alone, RESP${protocol}`);
      for (const watch of [false, true]) {
        const what = `${argv.join(" ")} in ${watch ? "a watched " : ""}MULTI, RESP${protocol}`;
        const queued = await inTransaction(client, argv, watch);
        assertNoSecret(queued, what);
        // The same parameters as alone (values of `*` change: counters, ports).
        if (parameter !== "*") assert.deepEqual(queued, alone, what);
      }
    }
    for (const argv of [["INFO"], ["INFO", "keyspace"], ["INFO", "everything"]]) {
      assertInfoRewritten(await client.call(...argv), `${argv.join(" ")} alone`, 15);
      for (const watch of [false, true]) {
        assertInfoRewritten(
          await inTransaction(client, argv, watch),
          `${argv.join(" ")} in ${watch ? "a watched " : ""}MULTI, RESP${protocol}`,
          15,
        );
      }
    }
  }

  // Scripts cannot reach the filtered commands: CONFIG is not allowed in scripts, INFO is denied.
  for (const script of ["EVAL_RO", "EVAL"]) {
    for (const body of ["return redis.call('CONFIG','GET','*')", "return redis.call('INFO')"]) {
      const reply = await client.call(script, body, "0");
      assert.equal(reply.type, "error", `${script} ${body}: ${text(reply)}`);
      assertNoSecret(reply, `${script} ${body}`);
      assert.doesNotMatch(text(reply), /db15:/);
    }
  }

  // CLIENT LIST is Pylon's own: alone it lists this connection; in MULTI it is refused.
  const list = infoText(await client.call("CLIENT", "LIST"));
  assert.match(list, /cmd=client\|list/);
  assert.equal(list.trim().split("\n").length, 1, "only Pylon's client, not Redis's connections");
  await client.call("MULTI");
  const queued = await client.call("CLIENT", "LIST");
  assert.equal(queued.type, "error");
  assert.match(text(queued), /refused by Pylon inside MULTI/);
  assert.match(text(await client.call("EXEC")), /EXECABORT/);
});

Deno.test("CONFIG GET and INFO forwarded to a peer rack, alone and in MULTI, are filtered the same", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2 });
  const [a, b] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  await plantSecrets(await world.master(b!));
  await plantSecrets(await world.master(a!));
  await waitHealthyPeer(a!);
  await (a!.redis as RedisServer).kill();
  await waitFor(
    "rack0 to notice its Redis is gone",
    async () => /upstream_healthy:0/.test(await a!.pylon.call("PYLON", "INFO")) ? true : undefined,
  );
  await using client = await RawClient.connect(a!.pylon.port);
  for (const parameter of [...SECRET_NAMES, "*", "*pass*", "master*"]) {
    const argv = ["CONFIG", "GET", parameter];
    const alone = await client.call(...argv);
    assert.notEqual(alone.type, "error", `${argv.join(" ")} forwarded: ${text(alone)}`);
    assertNoSecret(alone, `${argv.join(" ")} forwarded`);
    // Written while this rack cannot apply: the transaction goes to rack1.
    assertNoSecret(
      await inTransaction(client, argv, false),
      `${argv.join(" ")} forwarded in MULTI`,
    );
  }
  for (const argv of [["INFO"], ["INFO", "keyspace"]]) {
    assertInfoRewritten(await client.call(...argv), `${argv.join(" ")} forwarded`, 15);
    assertInfoRewritten(
      await inTransaction(client, argv, false),
      `${argv.join(" ")} forwarded in MULTI`,
      15,
    );
  }
  const info = await a!.pylon.call("PYLON", "INFO");
  assert.ok(Number(/reads_forwarded:(\d+)/.exec(info)![1]) > 0, "the reads went to rack1");
  assert.ok(Number(/writes_forwarded:(\d+)/.exec(info)![1]) > 0, "the transactions went to rack1");
});
