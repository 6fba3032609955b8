import assert from "node:assert/strict";
import { AclError, AclUser, sha256 } from "./acl.ts";
import { findCommand } from "../command/mod.ts";
import { Users, WORLD_USER } from "./users.ts";

const enc = (...args: string[]) => args.map((a) => new TextEncoder().encode(a));
const cmd = (name: string) => findCommand(name)!;

Deno.test("command rules apply in order, by name, subcommand and category", () => {
  const user = new AclUser("u").apply(["on", "+@all", "-@dangerous", "+flushall", "-client|kill"]);
  assert.ok(user.mayRun(cmd("get")));
  assert.ok(!user.mayRun(cmd("keys")), "KEYS is @dangerous");
  assert.ok(user.mayRun(cmd("flushall")), "a later +flushall wins");
  assert.ok(!user.mayRun(cmd("client|kill")));
  assert.ok(user.mayRun(cmd("client|setname")));
  const reader = new AclUser("r").apply(["on", "+@read"]);
  assert.ok(reader.mayRun(cmd("get")) && !reader.mayRun(cmd("set")));
  assert.ok(!new AclUser("nobody").mayRun(cmd("ping")), "a new user may run nothing");
});

Deno.test("key patterns check the access each key needs", () => {
  const user = new AclUser("u").apply(["on", "+@all", "~app:*", "%R~shared:*"]);
  assert.ok(user.mayAccessKeys(cmd("get"), enc("get", "app:1")));
  assert.ok(user.mayAccessKeys(cmd("get"), enc("get", "shared:1")), "read-only pattern, a read");
  assert.ok(!user.mayAccessKeys(cmd("set"), enc("set", "shared:1", "v")), "no write to shared:*");
  assert.ok(!user.mayAccessKeys(cmd("get"), enc("get", "other")));
  assert.ok(
    user.mayAccessKeys(cmd("lmove"), enc("lmove", "app:a", "app:b", "LEFT", "RIGHT")),
  );
  assert.ok(!user.mayAccessKeys(cmd("copy"), enc("copy", "shared:1", "other")));
});

Deno.test("passwords are kept as SHA-256 and checked; off users never authenticate", () => {
  const user = new AclUser("u").apply(["on", ">secret", `#${sha256("other")}`]);
  assert.ok(user.checkPassword("secret") && user.checkPassword("other"));
  assert.ok(!user.checkPassword("nope"));
  assert.ok(!user.describe().includes("secret"), "ACL LIST shows hashes only");
  user.apply(["off"]);
  assert.ok(!user.checkPassword("secret"));
  assert.throws(() => new AclUser("x").apply(["bogus"]), AclError);
  assert.throws(() => new AclUser("x").apply(["(~a +get)"]), /selectors are not supported/);
});

Deno.test("the default user, requirepass, configured users and the world user", () => {
  const open = new Users({ requirepass: undefined, users: [], worldSecret: undefined });
  assert.equal(open.authRequired, false);
  const users = new Users({
    requirepass: "pw",
    users: ["app on >apw ~app:* +@read"],
    worldSecret: "0123456789abcdef",
  });
  assert.ok(users.authRequired);
  assert.equal(users.authenticate("default", "pw")?.name, "default");
  assert.equal(users.authenticate("app", "apw")?.name, "app");
  assert.equal(users.authenticate("app", "pw"), undefined);
  assert.equal(users.authenticate(WORLD_USER, "0123456789abcdef")?.name, WORLD_USER);
  assert.throws(
    () => new Users({ requirepass: undefined, users: [`${WORLD_USER} on`], worldSecret: "x" }),
    /reserved/,
  );
});
