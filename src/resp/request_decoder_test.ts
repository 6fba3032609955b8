import assert from "node:assert/strict";
import { encodeCommand } from "./encoder.ts";
import { ProtocolError } from "./protocol_error.ts";
import { type Argv, RequestDecoder } from "./request_decoder.ts";
import { SeededRandom } from "../random.ts";

const text = (s: string) => new TextEncoder().encode(s);
const show = (argv: Argv) => argv.map((a) => new TextDecoder().decode(a));

function decodeAll(decoder: RequestDecoder): string[][] {
  const out: string[][] = [];
  for (let argv = decoder.next(); argv !== undefined; argv = decoder.next()) out.push(show(argv));
  return out;
}

function decode(input: string, limits = {}): string[][] {
  const decoder = new RequestDecoder(limits);
  decoder.push(text(input));
  return decodeAll(decoder);
}

function protocolError(input: string, message: string, limits = {}): void {
  assert.throws(
    () => decode(input, limits),
    (e: unknown) => e instanceof ProtocolError && e.message === message,
    `expected "${message}" for ${JSON.stringify(input.slice(0, 40))}`,
  );
}

Deno.test("RequestDecoder decodes pipelined multibulk requests in order", () => {
  assert.deepEqual(decode("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n"), [["GET", "k"], [
    "PING",
  ]]);
});

Deno.test("RequestDecoder decodes inline requests with Redis's quoting rules", () => {
  assert.deepEqual(decode("PING\r\n"), [["PING"]]);
  assert.deepEqual(decode("set  k   v\n"), [["set", "k", "v"]]);
  assert.deepEqual(decode("SET \"a b\" 'c d'\r\n"), [["SET", "a b", "c d"]]);
  assert.deepEqual(decode('ECHO "\\x41\\n\\t\\"q"\r\n'), [["ECHO", 'A\n\t"q']]);
  assert.deepEqual(decode("ECHO 'it\\'s'\r\n"), [["ECHO", "it's"]]);
  assert.deepEqual(decode('ECHO ""\r\n'), [["ECHO", ""]]);
});

Deno.test("RequestDecoder skips empty requests as Redis does", () => {
  assert.deepEqual(decode("\r\n\n*0\r\n*-1\r\nPING\r\n"), [["PING"]]);
});

Deno.test("RequestDecoder is binary-safe: CR, LF and NUL inside bulks", () => {
  const payload = new Uint8Array([0, 13, 10, 255, 36, 42]);
  const decoder = new RequestDecoder();
  decoder.push(encodeCommand(["SET", payload, "x"]));
  const argv = decoder.next();
  assert.deepEqual(argv?.[1], payload);
  assert.equal(decoder.next(), undefined);
});

Deno.test("RequestDecoder refuses every malformed header with Redis's wording", () => {
  protocolError("*abc\r\n", "Protocol error: invalid multibulk length");
  protocolError("*1\r\n$abc\r\n", "Protocol error: invalid bulk length");
  protocolError("*1\r\n$-1\r\n", "Protocol error: invalid bulk length");
  protocolError("*1\r\n$+3\r\nabc\r\n", "Protocol error: invalid bulk length");
  protocolError("*1\r\n$ 3\r\nabc\r\n", "Protocol error: invalid bulk length");
  protocolError("*1\r\n:3\r\n", "Protocol error: expected '$', got ':'");
  protocolError("*2\r\n$1\r\na\r\nfoo\r\n", "Protocol error: expected '$', got 'f'");
  protocolError('GET "unterminated\r\n', "Protocol error: unbalanced quotes in request");
  protocolError('GET "a"b\r\n', "Protocol error: unbalanced quotes in request");
});

Deno.test("RequestDecoder refuses declared lengths past its limits", () => {
  protocolError("*1\r\n$99999999999\r\n", "Protocol error: invalid bulk length");
  protocolError("*1\r\n$537000000\r\n", "Protocol error: invalid bulk length"); // > 512 MiB
  protocolError("*2000000\r\n", "Protocol error: invalid multibulk length");
  protocolError("*99999999999999999999\r\n", "Protocol error: invalid multibulk length");
  protocolError(
    "*3\r\n$10\r\n0123456789\r\n$10\r\n",
    "Protocol error: request larger than 15 bytes (query buffer limit)",
    {
      bufferedBytesMax: 15,
    },
  );
});

Deno.test("RequestDecoder refuses endless lines instead of buffering them", () => {
  const long = "x".repeat(70 * 1024);
  protocolError(long, "Protocol error: too big inline request");
  protocolError(`*${long}`, "Protocol error: too big mbulk count string");
  protocolError(`*1\r\n$${long}`, "Protocol error: too big bulk count string");
});

Deno.test("RequestDecoder waits for incomplete requests and resumes", () => {
  const decoder = new RequestDecoder();
  decoder.push(text("*2\r\n$3\r\nGE"));
  assert.equal(decoder.next(), undefined);
  assert.equal(decoder.midRequest, true);
  decoder.push(text("T\r\n$1\r"));
  assert.equal(decoder.next(), undefined);
  decoder.push(text("\nk\r\n"));
  assert.deepEqual(show(decoder.next()!), ["GET", "k"]);
  assert.equal(decoder.midRequest, false);
});

Deno.test("RequestDecoder gives the same requests for every way of chunking a stream", () => {
  const random = new SeededRandom(20261121);
  for (let round = 0; round < 200; round++) {
    const requests: (string | Uint8Array)[][] = [];
    const parts: Uint8Array[] = [];
    for (let i = random.int(1, 20); i > 0; i--) {
      if (random.chance(0.2)) {
        const words = Array.from({ length: random.int(1, 4) }, () => `w${random.int(0, 999)}`);
        requests.push(words);
        parts.push(text(words.join(" ") + (random.chance(0.5) ? "\r\n" : "\n")));
      } else {
        const argv = Array.from(
          { length: random.int(1, 6) },
          () => random.bytes(random.int(0, 300)),
        );
        requests.push(argv);
        parts.push(encodeCommand(argv));
      }
    }
    const stream = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      stream.set(p, at);
      at += p.length;
    }
    const decoder = new RequestDecoder();
    const decoded: Argv[] = [];
    for (let offset = 0; offset < stream.length;) {
      const size = random.chance(0.3) ? 1 : random.int(1, 700);
      decoder.push(stream.subarray(offset, offset + size));
      offset += size;
      for (let argv = decoder.next(); argv !== undefined; argv = decoder.next()) decoded.push(argv);
    }
    assert.equal(decoded.length, requests.length, `round ${round}`);
    for (let i = 0; i < requests.length; i++) {
      const expected = requests[i]!.map((a) => typeof a === "string" ? text(a) : a);
      assert.deepEqual(
        decoded[i]!.map((a) => [...a]),
        expected.map((a) => [...a]),
        `round ${round} request ${i}`,
      );
    }
  }
});

Deno.test("RequestDecoder assembles an 8 MiB bulk sent in 1 KiB chunks", () => {
  const size = 8 * 1024 * 1024;
  const payload = new Uint8Array(size).fill(7);
  const stream = encodeCommand(["ECHO", payload]);
  const decoder = new RequestDecoder();
  for (let offset = 0; offset < stream.length; offset += 1024) {
    decoder.push(stream.subarray(offset, offset + 1024));
    if (offset + 1024 < stream.length) assert.equal(decoder.next(), undefined);
  }
  const argv = decoder.next();
  assert.equal(argv?.[1]?.length, size);
});

Deno.test("RequestDecoder.raw is the request's exact bytes when they arrived in one view", () => {
  const random = new SeededRandom(99);
  let viewed = 0;
  for (let round = 0; round < 200; round++) {
    const requests = Array.from(
      { length: random.int(1, 10) },
      () =>
        encodeCommand(
          Array.from({ length: random.int(1, 4) }, () => random.bytes(random.int(0, 50))),
        ),
    );
    const stream = new Uint8Array(requests.reduce((n, r) => n + r.length, 0));
    let at = 0;
    for (const r of requests) {
      stream.set(r, at);
      at += r.length;
    }
    const decoder = new RequestDecoder();
    let index = 0;
    for (let offset = 0; offset < stream.length;) {
      const size = random.int(1, 200);
      decoder.push(stream.subarray(offset, offset + size));
      offset += size;
      for (let argv = decoder.next(); argv !== undefined; argv = decoder.next()) {
        const raw = decoder.raw;
        if (raw !== undefined) {
          assert.deepEqual([...raw], [...requests[index]!], `round ${round} request ${index}`);
          viewed++;
        }
        index++;
      }
    }
    assert.equal(index, requests.length);
  }
  assert.ok(viewed > 200, `many requests arrive whole (${viewed})`);
});

Deno.test("RequestDecoder.raw is undefined for inline requests", () => {
  const decoder = new RequestDecoder();
  decoder.push(text("GET k\r\n*1\r\n$4\r\nPING\r\n"));
  assert.deepEqual(show(decoder.next()!), ["GET", "k"]);
  assert.equal(decoder.raw, undefined);
  assert.deepEqual(show(decoder.next()!), ["PING"]);
  assert.equal(new TextDecoder().decode(decoder.raw), "*1\r\n$4\r\nPING\r\n");
});
