import assert from "node:assert/strict";
import { infoIncludesPylon, rewriteInfo } from "./info_rewrite.ts";

const bulk = (s: string) =>
  new TextEncoder().encode(`$${new TextEncoder().encode(s).length}\r\n${s}\r\n`);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const KEYSPACE =
  "# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\ndb15:keys=4,expires=0,avg_ttl=0\r\n";
const PYLON = "# Pylon\r\nnode_id:n1\r\n";

Deno.test("INFO hides the metadata db and appends the Pylon section, in Redis's framing", () => {
  const out = text(rewriteInfo(bulk(`# Server\r\nredis_version:7.0.15\r\n\r\n${KEYSPACE}`), {
    metaDb: 15,
    pylonSection: PYLON,
  }));
  const body =
    "# Server\r\nredis_version:7.0.15\r\n\r\n# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\n\r\n" +
    PYLON;
  assert.equal(out, `$${body.length}\r\n${body}\r\n`);
});

Deno.test("INFO keyspace alone: only the metadata line goes; RESP3 verbatim stays verbatim", () => {
  const verbatim = new TextEncoder().encode(`=${4 + KEYSPACE.length}\r\ntxt:${KEYSPACE}\r\n`);
  const out = text(rewriteInfo(verbatim, { metaDb: 15, pylonSection: undefined }));
  const body = "txt:# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\n";
  assert.equal(out, `=${body.length}\r\n${body}\r\n`);
  assert.equal(
    text(
      rewriteInfo(bulk("# Keyspace\r\ndb150:keys=1\r\n"), { metaDb: 15, pylonSection: undefined }),
    ),
    text(bulk("# Keyspace\r\ndb150:keys=1\r\n")),
    "db150 is not db15",
  );
  const error = new TextEncoder().encode("-ERR nope\r\n");
  assert.equal(rewriteInfo(error, { metaDb: 15, pylonSection: PYLON }), error);
});

Deno.test("which INFO arguments include the Pylon section", () => {
  assert.ok(infoIncludesPylon([]));
  assert.ok(infoIncludesPylon(["ALL"]));
  assert.ok(infoIncludesPylon(["server", "pylon"]));
  assert.ok(!infoIncludesPylon(["keyspace"]));
});

Deno.test("rewriteInfo shows the keyspace's average TTL without the shift expiries are stored with", () => {
  const body =
    "# Keyspace\r\ndb0:keys=3,expires=2,avg_ttl=10000000005000\r\ndb1:keys=1,expires=0,avg_ttl=0\r\n";
  const reply = new TextEncoder().encode(`$${body.length}\r\n${body}\r\n`);
  const shown = new TextDecoder().decode(
    rewriteInfo(reply, { metaDb: 15, pylonSection: undefined }),
  );
  assert.match(shown, /db0:keys=3,expires=2,avg_ttl=5000\r\n/);
  assert.match(shown, /db1:keys=1,expires=0,avg_ttl=0\r\n/);
});
