import assert from "node:assert/strict";
import {
  classifyExecItemError,
  classifyQueuedError,
  classifyRedisError,
  errorTable,
} from "./redis_errors.ts";

Deno.test("an op's own errors are its reply; a rack's conditions are not", () => {
  const op = [
    "WRONGTYPE Operation against a key holding the wrong kind of value",
    "ERR value is not an integer or out of range",
    "ERR increment or decrement would overflow",
    "ERR syntax error",
    "BUSYKEY Target key name already exists.",
    "NOGROUP No such key 's' or consumer group 'g'",
    "EXECABORT Transaction discarded because of previous errors.",
  ];
  const rack = [
    "OOM command not allowed when used memory > 'maxmemory'.",
    "READONLY You can't write against a read only replica.",
    "LOADING Redis is loading the dataset in memory",
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist",
    "NOREPLICAS Not enough good replicas to write.",
    "NOPERM this user has no permissions to run the 'set' command",
    "ERR max number of clients reached",
    "ERR DB index is out of range",
    "ERR unknown command 'lmpop', with args beginning with: ",
    "SOMETHINGNEW an error this build does not know",
  ];
  for (const text of op) assert.equal(classifyRedisError(text), "op", text);
  for (const text of rack) assert.equal(classifyRedisError(text), "rack", text);
});

Deno.test("every listed prefix has a reason", () => {
  const table = errorTable();
  assert.ok(table.length >= 25);
  for (const [prefix, kind, why] of table) {
    assert.match(prefix, /^[A-Z]+$/);
    assert.ok(kind === "op" || kind === "rack");
    assert.ok(why.length > 10, prefix);
  }
});

Deno.test("queued, EXEC as a whole, and inside EXEC: what is the rack's", () => {
  assert.equal(
    classifyQueuedError("ERR wrong number of arguments for 'pexpireat' command"),
    "rack",
  );
  assert.equal(classifyQueuedError("ERR unknown subcommand 'x'. Try OBJECT HELP."), "rack");
  assert.equal(classifyQueuedError("ERR Command not allowed inside a transaction"), "op");
  assert.equal(
    classifyRedisError(
      "EXECABORT Transaction discarded because of: -OOM command not allowed when used memory",
    ),
    "rack",
  );
  assert.equal(
    classifyRedisError("EXECABORT Transaction discarded because of previous errors."),
    "op",
  );
  const suffix = " script: 653db1ceb7ef061910af88dc7ebf80737358169d, on @user_script:1.";
  assert.equal(
    classifyExecItemError(`ERR Script killed by user with SCRIPT KILL...${suffix}`, true),
    "rack",
  );
  assert.equal(
    classifyExecItemError(`OOM command not allowed when used memory${suffix}`, true),
    "rack",
  );
  assert.equal(classifyExecItemError("OOM command not allowed when used memory", true), "op");
  assert.equal(classifyExecItemError(`WRONGTYPE Operation against a key${suffix}`, true), "op");
  assert.equal(classifyExecItemError("MYERR my own", true), "op");
  assert.equal(classifyExecItemError("ERR DB index is out of range", false), "op");
  assert.equal(
    classifyExecItemError("ERR string exceeds maximum allowed size (proto-max-bulk-len)", false),
    "op",
  );
  assert.equal(
    classifyExecItemError("READONLY You can't write against a read only replica.", false),
    "rack",
  );
});
