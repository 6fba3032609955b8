import assert from "node:assert/strict";
import {
  clientLibraryCode,
  FUNCTION_PROLOGUE,
  libraryCode,
  readScriptRequest,
  restoreFunctionReply,
  wrapFcall,
  wrapFunctionLoad,
  wrapFunctionRestore,
} from "./functions.ts";
import { crc64, readFunctionPayload, writeFunctionPayload } from "../command/function_payload.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const argv = (...words: string[]) => words.map((w) => te.encode(w));
const words = (args: Uint8Array[]) => args.map((a) => td.decode(a));

Deno.test("the function prologue is one line that goes after the library's shebang", () => {
  assert.ok(!FUNCTION_PROLOGUE.includes("\n"));
  assert.ok(FUNCTION_PROLOGUE.startsWith("local __pylon_steps, __pylon_stop, __pylon_why = "));
  const code = "#!lua name=lib\nredis.register_function('f', function() return 1 end)\n";
  const wrapped = td.decode(libraryCode(te.encode(code)));
  assert.equal(
    wrapped,
    "#!lua name=lib\n" + FUNCTION_PROLOGUE + "redis.register_function('f', function() " +
      "__pylon_steps = __pylon_steps - 6 if __pylon_steps < 0 then __pylon_stop(__pylon_why) end  " +
      "return 1 end)\n",
  );
  assert.equal(td.decode(clientLibraryCode(te.encode(wrapped))), code);
});

Deno.test("libraryCode() loads a library that fails, naming why, in place of one naming a reserved name", () => {
  const code = "#!lua name=lib\nlocal __pylon_steps = 1e18\n";
  const wrapped = td.decode(libraryCode(te.encode(code)));
  assert.ok(wrapped.startsWith("#!lua name=lib\n" + FUNCTION_PROLOGUE));
  assert.ok(!wrapped.includes("1e18"));
  assert.ok(wrapped.includes("Pylon_refuses_library_code_naming_a_name_reserved"));
});

Deno.test("libraryCode() leaves code without a shebang line as it is, for Redis's error", () => {
  for (const code of ["return 1", "#!lua name=x", ""]) {
    const bytes = te.encode(code);
    assert.equal(libraryCode(bytes), bytes);
  }
});

Deno.test("wrapFunctionLoad() wraps LOAD and LOAD REPLACE only", () => {
  const code = "#!lua name=l\nreturn 1";
  assert.equal(
    words(wrapFunctionLoad(argv("FUNCTION", "LOAD", code)))[2],
    td.decode(libraryCode(te.encode(code))),
  );
  assert.equal(
    words(wrapFunctionLoad(argv("function", "load", "replace", code)))[3],
    td.decode(libraryCode(te.encode(code))),
  );
  assert.deepEqual(words(wrapFunctionLoad(argv("FUNCTION", "LOAD", "BOGUS", code))), [
    "FUNCTION",
    "LOAD",
    "BOGUS",
    code,
  ]);
  assert.deepEqual(words(wrapFunctionLoad(argv("FUNCTION", "DELETE", "l"))), [
    "FUNCTION",
    "DELETE",
    "l",
  ]);
});

Deno.test("wrapFcall() appends T, the seed and the budget only where numkeys is valid", () => {
  const context = { logTimeMs: 1_700_000_000_000, seed: "42", budgetSteps: 77 };
  assert.deepEqual(words(wrapFcall(argv("FCALL", "f", "1", "k", "a"), context)), [
    "FCALL",
    "f",
    "1",
    "k",
    "a",
    "1700000000000",
    "42",
    "77",
  ]);
  assert.deepEqual(words(wrapFcall(argv("fcall_ro", "f", "0"), context)), [
    "fcall_ro",
    "f",
    "0",
    "1700000000000",
    "42",
    "77",
  ]);
  for (const numkeys of ["2", "-1", "x", "01"]) {
    assert.deepEqual(words(wrapFcall(argv("FCALL", "f", numkeys, "k"), context)), [
      "FCALL",
      "f",
      numkeys,
      "k",
    ]);
  }
});

Deno.test("wrapFunctionRestore() wraps each library of a readable payload, and leaves a broken one to Redis", () => {
  const code = te.encode("#!lua name=l\nreturn 1");
  const payload = writeFunctionPayload({ libraries: [code], rdbVersion: 10 });
  const restored = wrapFunctionRestore([
    ...argv("FUNCTION", "RESTORE"),
    payload,
    te.encode("REPLACE"),
  ])!;
  assert.equal(
    td.decode(readFunctionPayload(restored[2]!)!.libraries[0]!),
    td.decode(libraryCode(code)),
  );
  assert.equal(td.decode(restored[3]!), "REPLACE");
  const broken = payload.slice();
  broken[0]! ^= 1;
  assert.equal(wrapFunctionRestore([...argv("FUNCTION", "RESTORE"), broken])![2], broken);
});

Deno.test("wrapFunctionRestore() refuses a valid payload it cannot read", () => {
  // An old-format library (opcode 246) under a correct footer.
  const payload = new Uint8Array(13);
  payload.set([246, 1, 0x61]);
  const footer = new DataView(payload.buffer, 3, 10);
  footer.setUint16(0, 10, true);
  footer.setBigUint64(2, crc64(payload.subarray(0, 5)), true);
  assert.equal(wrapFunctionRestore([...argv("FUNCTION", "RESTORE"), payload]), undefined);
});

Deno.test("restoreFunctionReply() shows FUNCTION LIST's library_code and FUNCTION DUMP's libraries as the client's", () => {
  const code = "#!lua name=l\nreturn 1";
  const wrapped = td.decode(libraryCode(te.encode(code)));
  const bulk = (s: string) => `$${te.encode(s).length}\r\n${s}\r\n`;
  const list2 = `*1\r\n*8\r\n${bulk("library_name")}${bulk("l")}${bulk("engine")}${bulk("LUA")}${
    bulk("functions")
  }*0\r\n${bulk("library_code")}${bulk(wrapped)}`;
  const expected2 = `*1\r\n*8\r\n${bulk("library_name")}${bulk("l")}${bulk("engine")}${
    bulk("LUA")
  }${bulk("functions")}*0\r\n${bulk("library_code")}${bulk(code)}`;
  assert.equal(
    td.decode(restoreFunctionReply(argv("FUNCTION", "LIST", "WITHCODE"), 2, te.encode(list2))),
    expected2,
  );
  const list3 = `*1\r\n%4\r\n${bulk("library_name")}${bulk("l")}${bulk("engine")}${bulk("LUA")}${
    bulk("functions")
  }*0\r\n${bulk("library_code")}${bulk(wrapped)}`;
  const expected3 = `*1\r\n%4\r\n${bulk("library_name")}${bulk("l")}${bulk("engine")}${
    bulk("LUA")
  }${bulk("functions")}*0\r\n${bulk("library_code")}${bulk(code)}`;
  assert.equal(
    td.decode(restoreFunctionReply(argv("FUNCTION", "LIST", "WITHCODE"), 3, te.encode(list3))),
    expected3,
  );
  const payload = writeFunctionPayload({ libraries: [te.encode(wrapped)], rdbVersion: 10 });
  const dump = new Uint8Array([...te.encode(`$${payload.length}\r\n`), ...payload, 13, 10]);
  const shown = restoreFunctionReply(argv("FUNCTION", "DUMP"), 2, dump);
  const inner = shown.subarray(shown.indexOf(10) + 1, shown.length - 2);
  assert.equal(td.decode(readFunctionPayload(inner)!.libraries[0]!), code);
  const error = te.encode("-ERR nope\r\n");
  assert.equal(restoreFunctionReply(argv("FUNCTION", "LIST"), 2, error), error);
});

Deno.test("readScriptRequest() gives FCALL_RO of a read T, seed 0 and the budget; other requests stay", async () => {
  const { encodeCommand } = await import("../resp/encoder.ts");
  const context = { logTimeMs: 5, seed: "0", budgetSteps: 9 };
  assert.equal(
    td.decode(readScriptRequest(encodeCommand(["fcall_ro", "f", "1", "k", "a"]), context)),
    td.decode(encodeCommand(["fcall_ro", "f", "1", "k", "a", "5", "0", "9"])),
  );
  const evalRo = encodeCommand(["EVAL_RO", "return 1", "0"]);
  assert.equal(readScriptRequest(evalRo, context), evalRo);
});
