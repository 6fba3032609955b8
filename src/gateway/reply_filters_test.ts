import assert from "node:assert/strict";
import { findCommand } from "../command/mod.ts";
import { filterExecReply, filterReply } from "./reply_filters.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const argv = (...words: string[]) => words.map(bytes);
const context = {
  info: () => ({ metaDb: 15, pylonSection: "# Pylon\r\nnode_id:n1\r\n" }),
};
const CONFIG_REPLY = "*4\r\n$11\r\nrequirepass\r\n$2\r\npw\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n";
const INFO_BODY =
  "# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\ndb15:keys=3,expires=0,avg_ttl=0\r\n";
const INFO_REPLY = `$${INFO_BODY.length}\r\n${INFO_BODY}\r\n`;

Deno.test("the table names each command's filter: CONFIG GET leaves out secrets, INFO the metadata db", () => {
  const config = findCommand("config|get")!;
  assert.equal(
    text(filterReply(config, argv("CONFIG", "GET", "*"), bytes(CONFIG_REPLY), 2, context)),
    "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n",
  );
  const info = text(filterReply(findCommand("info")!, argv("INFO"), bytes(INFO_REPLY), 2, context));
  assert.doesNotMatch(info, /db15/);
  assert.match(info, /# Pylon/);
  const get = findCommand("get")!;
  assert.equal(
    text(filterReply(get, argv("GET", "k"), bytes("$2\r\npw\r\n"), 2, context)),
    "$2\r\npw\r\n",
  );
});

Deno.test("inside EXEC each element is filtered as its command's reply alone", () => {
  const commands = [
    { command: findCommand("set")!, argv: argv("SET", "a", "1") },
    { command: findCommand("config|get")!, argv: argv("CONFIG", "GET", "*") },
    { command: findCommand("info")!, argv: argv("INFO", "keyspace") },
  ];
  const exec = bytes(`*3\r\n+OK\r\n${CONFIG_REPLY}${INFO_REPLY}`);
  const filtered = text(filterExecReply(commands, exec, 2, context));
  assert.doesNotMatch(filtered, /requirepass|pw\r\n|db15/);
  assert.match(filtered, /^\*3\r\n\+OK\r\n\*2\r\n\$9\r\nmaxmemory/);
  // Aborts and errors pass as they are; a reply that does not match its commands is never passed on.
  assert.equal(text(filterExecReply(commands, bytes("*-1\r\n"), 2, context)), "*-1\r\n");
  assert.equal(
    text(filterExecReply(commands, bytes("-EXECABORT x\r\n"), 2, context)),
    "-EXECABORT x\r\n",
  );
  assert.match(
    text(filterExecReply(commands, bytes(`*1\r\n${CONFIG_REPLY}`), 2, context)),
    /^-ERR Pylon could not match/,
  );
  // Nothing filtered: the bytes as Redis sent them.
  const plain = [commands[0]!];
  const same = bytes("*1\r\n+OK\r\n");
  assert.equal(filterExecReply(plain, same, 2, context), same);
});

Deno.test("TTL, PTTL, EXPIRETIME and PEXPIRETIME show the expiry as the client set it, without the shift", () => {
  const H = 10_000_000_000_000;
  const now = Date.now();
  const reply = (name: string, value: number) =>
    text(filterReply(findCommand(name)!, argv(name, "k"), bytes(`:${value}\r\n`), 2, context));
  // Redis computed these from a shifted expiry; the shift comes off.
  assert.equal(reply("pttl", H + 1500), ":1500\r\n");
  assert.equal(reply("ttl", H / 1000 + 2), ":2\r\n");
  assert.equal(reply("ttl", -1), ":-1\r\n");
  assert.equal(reply("pttl", -2), ":-2\r\n");
  // An expiry the log already reached (the sweeper handed it to Redis): expired, as Redis says.
  assert.equal(reply("pttl", 3), ":-2\r\n");
  assert.equal(reply("ttl", 0), ":-2\r\n");
  // Absolute forms: shifted back, and expired once this node's clock has passed them.
  const later = Math.floor(now / 1000) * 1000 + 3_600_000;
  assert.equal(
    text(
      filterReply(
        findCommand("pexpiretime")!,
        argv("PEXPIRETIME", "k"),
        bytes(`:${H + later}\r\n`),
        2,
        context,
      ),
    ),
    `:${later}\r\n`,
  );
  assert.equal(
    text(
      filterReply(
        findCommand("expiretime")!,
        argv("EXPIRETIME", "k"),
        bytes(`:${(H + later) / 1000}\r\n`),
        2,
        context,
      ),
    ),
    `:${later / 1000}\r\n`,
  );
  assert.equal(
    text(
      filterReply(
        findCommand("pexpiretime")!,
        argv("PEXPIRETIME", "k"),
        bytes(`:${H + 1000}\r\n`),
        2,
        context,
      ),
    ),
    ":-2\r\n",
  );
});
