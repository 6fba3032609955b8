import assert from "node:assert/strict";
import { lzfDecompress, RdbFormatError, type RdbItem, RdbSplitter } from "./rdb.ts";
import { crc64, writeCrc64 } from "./crc64.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** Builds RDB bytes by hand: what Redis writes, field by field. */
class Rdb {
  #parts: number[] = [];

  raw(...bytes: (number | Uint8Array)[]): this {
    for (const b of bytes) {
      if (typeof b === "number") this.#parts.push(b);
      else for (const x of b) this.#parts.push(x);
    }
    return this;
  }

  len(n: number): this {
    if (n < 64) return this.raw(n);
    if (n < 16384) return this.raw(0x40 | (n >> 8), n & 0xff);
    return this.raw(0x80, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  }

  str(s: string | Uint8Array): this {
    const bytes = typeof s === "string" ? text(s) : s;
    return this.len(bytes.length).raw(bytes);
  }

  bytes(): Uint8Array {
    return new Uint8Array(this.#parts);
  }

  /** Ends with EOF and the CRC of everything (or zero). */
  end(checksum: "crc" | "zero" | "wrong" = "crc"): Uint8Array {
    this.raw(0xff);
    const body = this.bytes();
    const out = new Uint8Array(body.length + 8);
    out.set(body);
    if (checksum !== "zero") {
      const crc = crc64(body);
      if (checksum === "wrong") crc.lo ^= 1;
      writeCrc64(crc, out, body.length);
    }
    return out;
  }
}

/** A small RDB with one of most shapes a splitter must walk. */
function sample(checksum: "crc" | "zero" | "wrong" = "crc"): Uint8Array {
  const expiry = new Uint8Array(8);
  new DataView(expiry.buffer).setBigInt64(0, 10_001_234_567_890n, true);
  const score = new Uint8Array(8);
  new DataView(score.buffer).setFloat64(0, 1.5, true);
  return new Rdb()
    .raw(text("REDIS0010"))
    .raw(0xfa).str("redis-ver").str("7.0.15")
    .raw(0xfa).str("redis-bits").raw(0xc0, 64) // an int-encoded aux value
    .raw(0xf5).str("#!lua name=lib\nredis.register_function('f', function() return 1 end)")
    .raw(0xfe).len(0)
    .raw(0xfb).len(5).len(1)
    .raw(0).str("plain").str("value")
    .raw(0xfc, expiry).raw(0).str("expiring").str("v")
    .raw(0xf8).len(12).raw(0).raw(0xc1, 0x39, 0x30).str("x") // key "12345", int16-encoded, idle
    .raw(0).raw(0xc3).len(5).len(10).raw(0x00, 0x61, 0xe0, 0x00, 0x00).str("lzf key") // "aaaaaaaaaa"
    .raw(4).str("hash").len(2).str("f1").str("v1").str("f2").str("v2")
    .raw(5).str("zset").len(1).str("m").raw(score)
    .raw(18).str("list").len(1).len(2).str("listpack-bytes")
    .raw(0xfe).len(3)
    .raw(19).str("stream")
    .len(1).str(new Uint8Array(16)).str("lp") // one listpack
    .len(3).len(1700000000000).len(2) // length, last id (a 64-bit length)
    .len(1700000000000).len(0).len(0).len(0).len(3) // first id, max deleted, entries added
    .len(1).str("group").len(1700000000000).len(1).len(2) // a group: last id, entries read
    .len(1).raw(new Uint8Array(16)).raw(new Uint8Array(8)).len(1) // global PEL: one entry
    .len(1).str("alice").raw(new Uint8Array(8)).len(1).raw(new Uint8Array(16)) // a consumer
    .end(checksum);
}

function all(splitter: RdbSplitter): RdbItem[] {
  const items: RdbItem[] = [];
  for (let item = splitter.next(); item !== undefined; item = splitter.next()) items.push(item);
  return items;
}

/** Items as comparable plain values (views copied). */
function plain(items: RdbItem[]): unknown[] {
  return items.map((item) =>
    item.kind === "key"
      ? { ...item, key: new TextDecoder().decode(item.key), body: [...item.body] }
      : item.kind === "function"
      ? { ...item, payload: [...item.payload] }
      : item
  );
}

Deno.test("RdbSplitter splits an RDB into its keys, functions and end", () => {
  const splitter = new RdbSplitter();
  splitter.push(sample());
  const items = all(splitter);
  assert.deepEqual(items.map((i) => i.kind), [
    "header",
    "aux",
    "aux",
    "function",
    "select",
    "resize",
    "key",
    "key",
    "key",
    "key",
    "key",
    "key",
    "key",
    "select",
    "key",
    "end",
  ]);
  assert.deepEqual(items[0], { kind: "header", version: 10 });
  assert.deepEqual(items[2], { kind: "aux", name: "redis-bits", value: "64" });
  const keys = items.filter((i) => i.kind === "key");
  assert.deepEqual(
    keys.map((k) => [k.db, new TextDecoder().decode(k.key), k.type, k.expireMs]),
    [
      [0, "plain", 0, undefined],
      [0, "expiring", 0, 10_001_234_567_890],
      [0, "12345", 0, undefined],
      [0, "aaaaaaaaaa", 0, undefined],
      [0, "hash", 4, undefined],
      [0, "zset", 5, undefined],
      [0, "list", 18, undefined],
      [3, "stream", 19, undefined],
    ],
  );
  // A value's body is its serialized form, without the key.
  assert.deepEqual([...keys[0]!.body], [5, ...text("value")]);
  const fn = items[3]!;
  assert.ok(fn.kind === "function" && fn.payload[0] === 0xf5);
  assert.deepEqual(items.at(-1), { kind: "end", checksum: "matched" });
  assert.ok(splitter.done);
  assert.equal(splitter.consumedBytes, sample().length);
});

Deno.test("RdbSplitter gives the same items whatever pieces the bytes arrive in", () => {
  const bytes = sample();
  const whole = new RdbSplitter();
  whole.push(bytes);
  const expected = plain(all(whole));
  for (const size of [1, 2, 3, 7, 64]) {
    const splitter = new RdbSplitter();
    const items: RdbItem[] = [];
    for (let at = 0; at < bytes.length; at += size) {
      splitter.push(bytes.slice(at, at + size));
      items.push(...all(splitter));
    }
    splitter.end();
    items.push(...all(splitter));
    assert.deepEqual(plain(items), expected, `pieces of ${size}`);
  }
});

Deno.test("RdbSplitter asks for a long string's whole length once its header arrived", () => {
  const big = new Uint8Array(100_000).fill(7);
  const bytes = new Rdb().raw(text("REDIS0010")).raw(0).str("k").len(big.length).bytes();
  const splitter = new RdbSplitter();
  splitter.push(bytes);
  assert.equal(splitter.next()?.kind, "header");
  assert.equal(splitter.next(), undefined);
  assert.ok(splitter.neededBytes >= 100_000, `needs ${splitter.neededBytes}`);
  splitter.push(big);
  const key = splitter.next();
  assert.ok(key?.kind === "key" && key.body.length === 100_005);
});

Deno.test("RdbSplitter waits for twice what it tried before walking a cut item again", () => {
  const rdb = new Rdb().raw(text("REDIS0010")).raw(4).str("h").len(10_000);
  for (let i = 0; i < 10_000; i++) rdb.str(`f${i}`).str("v");
  const bytes = rdb.end();
  const splitter = new RdbSplitter();
  splitter.push(bytes.slice(0, 9));
  assert.equal(splitter.next()?.kind, "header");
  splitter.push(bytes.slice(9, 20_009));
  assert.equal(splitter.next()?.kind, undefined);
  assert.ok(splitter.neededBytes >= 40_000, `needs ${splitter.neededBytes}`);
  splitter.push(bytes.slice(20_009, 30_000));
  assert.equal(splitter.next()?.kind, undefined, "not walked again before twice the bytes");
  splitter.push(bytes.slice(30_000, 50_000));
  assert.equal(splitter.next()?.kind, undefined);
  assert.ok(splitter.neededBytes >= 2 * 49_991, `needs ${splitter.neededBytes}`);
  splitter.push(bytes.slice(50_000));
  splitter.end();
  assert.equal(splitter.next()?.kind, "key");
  assert.equal(splitter.next()?.kind, "end");
});

Deno.test("RdbSplitter tries a cut item with what there is once the input ended", () => {
  const rdb = new Rdb().raw(text("REDIS0010")).raw(4).str("h").len(5_000);
  for (let i = 0; i < 5_000; i++) rdb.str(`f${i}`).str("v");
  const bytes = rdb.end();
  const splitter = new RdbSplitter();
  splitter.push(bytes.slice(0, 30_000));
  assert.equal(splitter.next()?.kind, "header");
  assert.equal(splitter.next()?.kind, undefined);
  splitter.push(bytes.slice(30_000));
  assert.equal(splitter.next()?.kind, undefined, "less than twice what was tried");
  splitter.end();
  assert.equal(splitter.next()?.kind, "key");
  assert.equal(splitter.next()?.kind, "end");
});

Deno.test("RdbSplitter refuses a wrong checksum, accepts none, and refuses bytes after the end", () => {
  const wrong = new RdbSplitter();
  wrong.push(sample("wrong"));
  assert.throws(() => all(wrong), /checksum/);
  const none = new RdbSplitter();
  none.push(sample("zero"));
  assert.deepEqual(all(none).at(-1), { kind: "end", checksum: "absent" });
  const extra = new RdbSplitter();
  const bytes = sample();
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  extra.push(longer);
  assert.throws(() => all(extra), /after the end/);
});

Deno.test("RdbSplitter refuses what it cannot carry, saying what", () => {
  const cases: [Uint8Array, RegExp][] = [
    [text("NOTANRDB0"), /does not start as an RDB/],
    [text("REDIS0099"), /RDB version 99/],
    [new Rdb().raw(text("REDIS0010")).raw(7).str("m").len(1).raw(0).end(), /module/],
    [new Rdb().raw(text("REDIS0010")).raw(0xf7).len(1).end(), /module data/],
    [new Rdb().raw(text("REDIS0012")).raw(24).str("h").end(), /field expiries/],
    [new Rdb().raw(text("REDIS0010")).raw(30).str("x").end(), /unknown RDB value type 30/],
  ];
  for (const [bytes, pattern] of cases) {
    const splitter = new RdbSplitter();
    splitter.push(bytes);
    assert.throws(
      () => all(splitter),
      (e: Error) => e instanceof RdbFormatError && pattern.test(e.message),
    );
  }
});

Deno.test("RdbSplitter refuses an item longer than its bound", () => {
  const splitter = new RdbSplitter({ itemBytesMax: 1_000 });
  splitter.push(new Rdb().raw(text("REDIS0010")).raw(0).str("k").len(5_000).bytes());
  assert.equal(splitter.next()?.kind, "header");
  assert.throws(() => splitter.next(), /spans more than 1000 bytes/);
});

Deno.test("lzfDecompress() expands literals and back references, and refuses corrupt input", () => {
  assert.equal(
    new TextDecoder().decode(lzfDecompress(new Uint8Array([0x00, 0x61, 0xe0, 0x00, 0x00]), 10)),
    "aaaaaaaaaa",
  );
  assert.equal(
    new TextDecoder().decode(
      lzfDecompress(new Uint8Array([0x02, 0x61, 0x62, 0x63, 0x20, 0x02]), 6),
    ),
    "abcabc",
  );
  assert.throws(() => lzfDecompress(new Uint8Array([0x20, 0x05]), 3), /corrupt LZF/);
  assert.throws(() => lzfDecompress(new Uint8Array([0x01, 0x61]), 2), /corrupt LZF/);
});
