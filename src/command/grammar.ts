/**
 * A command's argument grammar, read from Redis's own `COMMAND DOCS`
 * (`arguments`), loosened where Redis's parsers accept more than the docs
 * say, so that checking a request against it never refuses what Redis runs:
 *
 *  - Consecutive optional arguments that start with a token (`NX`, `LIMIT
 *    offset count`, `[ASC|DESC]`) form one run: they may come in any order,
 *    be repeated, and alternatives of a one-of may be combined, as Redis's
 *    option loops allow (`SET k v EX 1 NX`, `EXPIRE k 1 XX GT`). Redis
 *    refuses some of these combinations itself, at apply time.
 *  - Tokens compare ignoring ASCII case, and like C's `strcasecmp`.
 *  - Where the docs are wrong about a command, or say `string` where Redis
 *    parses a form of its own (stream ids, score and lex bounds, BITFIELD
 *    types), {@linkcode GRAMMAR_OVERRIDES} replaces its arguments, with the
 *    reason; the forms are Pylon's argument types (see {@linkcode Form}).
 *  - A `numkeys` argument says how many keys follow ({@linkcode keyCountLayout}).
 */

import type { RawArgDoc } from "./raw.ts";
import type { CommandSpec } from "./types.ts";

/**
 * Argument types Pylon adds to Redis's where Redis parses a form of its own,
 * each as lenient as Redis's parser (see src/command/bytes.ts).
 */
export type Form =
  /** `<ms>[-<seq>]`, `<ms>-*`, or `-`/`+` (`streamGenericParseIDOrReply`). */
  | "stream-id"
  /** `[(]<float>` (`zslParseRange`). */
  | "score-bound"
  /** `[x`, `(x`, `+`, `-` (`zslParseLexRangeItem`). */
  | "lex-bound"
  /** `i1`..`i64`, `u1`..`u63`. */
  | "bitfield-type"
  /** A non-negative integer, `#` before it allowed (BITFIELD). */
  | "bitfield-offset"
  /** A non-negative integer (SETBIT). */
  | "bit-offset"
  /** `0` or `1`. */
  | "bit";

const FORMS: ReadonlySet<string> = new Set<Form>([
  "stream-id",
  "score-bound",
  "lex-bound",
  "bitfield-type",
  "bitfield-offset",
  "bit-offset",
  "bit",
]);

/** What one request argument must be. */
export type ArgCheck =
  /** The token, ignoring ASCII case (lowercase here). */
  | { readonly kind: "token"; readonly word: string }
  /** A 64-bit integer as Redis's `string2ll` reads it (`integer`, `unix-time`). */
  | { readonly kind: "integer" }
  /** Text some float parser of Redis accepts (`double`). */
  | { readonly kind: "double" }
  /** One of Pylon's forms. */
  | { readonly kind: "form"; readonly form: Form }
  /** Anything (`string`, `key`, `pattern`). */
  | { readonly kind: "any" };

/** A pattern over request arguments: a regular expression whose symbols are whole arguments. */
export type Pattern =
  | { readonly kind: "arg"; readonly check: ArgCheck }
  | { readonly kind: "seq"; readonly items: readonly Pattern[] }
  | { readonly kind: "alt"; readonly options: readonly Pattern[] }
  | { readonly kind: "optional"; readonly item: Pattern }
  /** `min` 0 is `*`, 1 is `+`. */
  | { readonly kind: "repeat"; readonly item: Pattern; readonly min: 0 | 1 };

const ANY: Pattern = { kind: "arg", check: { kind: "any" } };
const INTEGER: Pattern = { kind: "arg", check: { kind: "integer" } };
const DOUBLE: Pattern = { kind: "arg", check: { kind: "double" } };

function tokenPattern(token: string): Pattern {
  return { kind: "arg", check: { kind: "token", word: token.toLowerCase() } };
}

function seq(items: Pattern[]): Pattern {
  return items.length === 1 ? items[0]! : { kind: "seq", items };
}

function has(arg: RawArgDoc, flag: string): boolean {
  return arg.flags?.includes(flag) ?? false;
}

/** The value an argument takes, without its token and flags. */
function valuePattern(arg: RawArgDoc): Pattern {
  switch (arg.type) {
    case "pure-token":
      if (arg.token === undefined) throw new Error(`Pure token '${arg.name}' has no token`);
      return tokenPattern(arg.token);
    case "oneof":
      return { kind: "alt", options: (arg.arguments ?? []).map(argumentPattern) };
    case "block":
      return sequencePattern(arg.arguments ?? []);
    case "integer":
    case "unix-time":
      return INTEGER;
    case "double":
      return DOUBLE;
    case "string":
    case "key":
    case "pattern":
      return ANY;
    default:
      if (FORMS.has(arg.type)) {
        return { kind: "arg", check: { kind: "form", form: arg.type as Form } };
      }
      // An argument type this Redis version does not have: accept anything.
      return ANY;
  }
}

/** One argument with its token and `multiple` flags, not its `optional` flag. */
function requiredPattern(arg: RawArgDoc): Pattern {
  const value = valuePattern(arg);
  const token = arg.type === "pure-token" || arg.token === undefined
    ? undefined
    : tokenPattern(arg.token);
  if (!has(arg, "multiple")) return token === undefined ? value : seq([token, value]);
  if (token === undefined) return { kind: "repeat", item: value, min: 1 };
  if (has(arg, "multiple_token")) return { kind: "repeat", item: seq([token, value]), min: 1 };
  return seq([token, { kind: "repeat", item: value, min: 1 }]);
}

/** One argument as the docs describe it. */
function argumentPattern(arg: RawArgDoc): Pattern {
  const pattern = requiredPattern(arg);
  return has(arg, "optional") ? { kind: "optional", item: pattern } : pattern;
}

/** Whether an argument always starts with a token, so Redis's option loops can recognise it anywhere. */
export function startsWithToken(arg: RawArgDoc): boolean {
  if (arg.token !== undefined) return true;
  const children = arg.arguments ?? [];
  if (arg.type === "oneof") return children.length > 0 && children.every(startsWithToken);
  if (arg.type === "block") {
    const first = children[0];
    return first !== undefined && !has(first, "optional") && startsWithToken(first);
  }
  return false;
}

/** A sequence of sibling arguments, runs of optional token-led ones loosened (see the module doc). */
function sequencePattern(args: readonly RawArgDoc[]): Pattern {
  const items: Pattern[] = [];
  let run: Pattern[] = [];
  const endRun = () => {
    if (run.length > 0) {
      items.push({ kind: "repeat", item: { kind: "alt", options: run }, min: 0 });
      run = [];
    }
  };
  for (const arg of args) {
    if (has(arg, "optional") && startsWithToken(arg)) {
      run.push(requiredPattern(arg));
    } else {
      endRun();
      items.push(argumentPattern(arg));
    }
  }
  endRun();
  return seq(items);
}

// --- Overrides -----------------------------------------------------------------

/** A grammar override: the arguments Redis really parses, and why the docs' differ. */
export interface GrammarOverride {
  /** One line: where Redis's parser accepts more than `COMMAND DOCS` says. */
  readonly reason: string;
  /** The arguments after the command name (and subcommand), in `COMMAND DOCS` form. */
  readonly arguments: readonly RawArgDoc[];
}

type Options = { token?: string; flags?: string[] };

function arg(name: string, type: string, options: Options = {}): RawArgDoc {
  const doc: RawArgDoc = { name, type };
  if (options.token !== undefined) doc.token = options.token;
  if (options.flags !== undefined) doc.flags = options.flags;
  return doc;
}

function group(
  name: string,
  type: "oneof" | "block",
  args: RawArgDoc[],
  options: Options = {},
): RawArgDoc {
  return { ...arg(name, type, options), arguments: args };
}

const OPTIONAL = ["optional"];

function optionalToken(token: string): RawArgDoc {
  return arg(token.toLowerCase(), "pure-token", { token, flags: OPTIONAL });
}

/** A one-of of pure tokens. */
function tokens(name: string, words: string[], options: Options = {}): RawArgDoc {
  const choices = words.map((word) => arg(word.toLowerCase(), "pure-token", { token: word }));
  return group(name, "oneof", choices, options);
}

function unit(): RawArgDoc {
  return tokens("unit", ["M", "KM", "FT", "MI"]);
}

/** GEORADIUS[BYMEMBER]'s options after the unit; ANY stands alone in Redis's loop. */
function georadiusOptions(): RawArgDoc[] {
  return [
    optionalToken("WITHCOORD"),
    optionalToken("WITHDIST"),
    optionalToken("WITHHASH"),
    arg("count", "integer", { token: "COUNT", flags: OPTIONAL }),
    optionalToken("ANY"),
    tokens("order", ["ASC", "DESC"], { flags: OPTIONAL }),
    arg("key", "key", { token: "STORE", flags: OPTIONAL }),
    arg("key", "key", { token: "STOREDIST", flags: OPTIONAL }),
  ];
}

/**
 * XADD's and XTRIM's trimming options: LIMIT is an option of its own in
 * Redis's loop, MAXLEN takes an integer and MINID a stream id.
 */
function trimOptions(): RawArgDoc[] {
  const strategy = (token: string, threshold: string) =>
    group(token.toLowerCase(), "block", [
      arg(token.toLowerCase(), "pure-token", { token }),
      tokens("operator", ["=", "~"], { flags: OPTIONAL }),
      arg("threshold", threshold),
    ]);
  return [
    group("trim", "oneof", [strategy("MAXLEN", "integer"), strategy("MINID", "stream-id")], {
      flags: OPTIONAL,
    }),
    arg("count", "integer", { token: "LIMIT", flags: OPTIONAL }),
  ];
}

/** A ZRANGE bound: an index, a score bound or a lex bound (which one depends on BYSCORE/BYLEX). */
function rangeBound(name: string): RawArgDoc {
  return group(name, "oneof", [
    arg("index", "integer"),
    arg("score", "score-bound"),
    arg("lex", "lex-bound"),
  ]);
}

/** A stream id, or `$` for the last one. */
function idOrLast(): RawArgDoc {
  return group("id", "oneof", [
    arg("id", "stream-id"),
    arg("new_id", "pure-token", { token: "$" }),
  ]);
}

function scoreIncrement(): RawArgDoc[] {
  return [arg("key", "key"), arg("increment", "double"), arg("member", "string")];
}

function storeWithWeights(): RawArgDoc[] {
  return [
    arg("destination", "key"),
    arg("numkeys", "integer"),
    arg("key", "key", { flags: ["multiple"] }),
    arg("weight", "double", { token: "WEIGHTS", flags: ["optional", "multiple"] }),
    tokens("aggregate", ["SUM", "MIN", "MAX"], { token: "AGGREGATE", flags: OPTIONAL }),
  ];
}

/**
 * Where Redis 7.0's parsers accept more than its `COMMAND DOCS` say, the
 * arguments they really take. Each one is proved against a real Redis in
 * tests/command/syntax_test.ts.
 */
export const GRAMMAR_OVERRIDES: Readonly<Record<string, GrammarOverride>> = {
  "zincrby": {
    reason: "the increment is parsed as a float (ZINCRBY z 1.5 m); the docs say integer",
    arguments: scoreIncrement(),
  },
  "zunionstore": {
    reason: "weights are parsed as floats (WEIGHTS 0.5 2); the docs say integer",
    arguments: storeWithWeights(),
  },
  "zinterstore": {
    reason: "weights are parsed as floats (WEIGHTS 0.5 2); the docs say integer",
    arguments: storeWithWeights(),
  },
  "zremrangebyscore": {
    reason:
      "score bounds take '(' for exclusive bounds, white space, even nothing; the docs say double",
    arguments: [arg("key", "key"), arg("min", "score-bound"), arg("max", "score-bound")],
  },
  "zremrangebylex": {
    reason: "lex bounds must start with '[' or '(' or be '+' or '-'; the docs say string",
    arguments: [arg("key", "key"), arg("min", "lex-bound"), arg("max", "lex-bound")],
  },
  "zrangestore": {
    reason:
      "min and max are indices, score bounds or lex bounds as BYSCORE/BYLEX say; the docs say string",
    arguments: [
      arg("dst", "key"),
      arg("src", "key"),
      rangeBound("min"),
      rangeBound("max"),
      tokens("sortby", ["BYSCORE", "BYLEX"], { flags: OPTIONAL }),
      optionalToken("REV"),
      group("offset_count", "block", [arg("offset", "integer"), arg("count", "integer")], {
        token: "LIMIT",
        flags: OPTIONAL,
      }),
    ],
  },
  "bitop": {
    reason: "the operation is one of AND, OR, XOR, NOT; the docs say string",
    arguments: [
      tokens("operation", ["AND", "OR", "XOR", "NOT"]),
      arg("destkey", "key"),
      arg("key", "key", { flags: ["multiple"] }),
    ],
  },
  "setbit": {
    reason: "the offset is not negative and the value is 0 or 1; the docs say integer",
    arguments: [arg("key", "key"), arg("offset", "bit-offset"), arg("value", "bit")],
  },
  "bitfield": {
    reason:
      "OVERFLOW may stand alone or come last, types are i1..i64/u1..u63, offsets take a '#'; the docs tie OVERFLOW to a write",
    arguments: [
      arg("key", "key"),
      group("operation", "oneof", [
        group("get", "block", [
          arg("encoding", "bitfield-type"),
          arg("offset", "bitfield-offset"),
        ], { token: "GET" }),
        group("set", "block", [
          arg("encoding", "bitfield-type"),
          arg("offset", "bitfield-offset"),
          arg("value", "integer"),
        ], { token: "SET" }),
        group("incrby", "block", [
          arg("encoding", "bitfield-type"),
          arg("offset", "bitfield-offset"),
          arg("increment", "integer"),
        ], { token: "INCRBY" }),
        tokens("overflow", ["WRAP", "SAT", "FAIL"], { token: "OVERFLOW" }),
      ], { flags: ["optional", "multiple"] }),
    ],
  },
  "georadius": {
    reason: "ANY is an option of its own (ANY COUNT 5 is valid); the docs nest it in COUNT",
    arguments: [
      arg("key", "key"),
      arg("longitude", "double"),
      arg("latitude", "double"),
      arg("radius", "double"),
      unit(),
      ...georadiusOptions(),
    ],
  },
  "georadiusbymember": {
    reason:
      "ANY is an option of its own (ANY COUNT 5 is valid); radius and unit are not read at all when the key is missing",
    arguments: [
      arg("key", "key"),
      arg("member", "string"),
      arg("radius", "string"),
      arg("unit", "string"),
      ...georadiusOptions(),
    ],
  },
  "geosearchstore": {
    reason:
      "every option after the source key comes in any order (BYRADIUS before FROMMEMBER, COUNT first); the docs fix FROM then BY",
    arguments: [
      arg("destination", "key"),
      arg("source", "key"),
      arg("member", "string", { token: "FROMMEMBER", flags: OPTIONAL }),
      group("fromlonlat", "block", [arg("longitude", "double"), arg("latitude", "double")], {
        token: "FROMLONLAT",
        flags: OPTIONAL,
      }),
      group("circle", "block", [arg("radius", "double", { token: "BYRADIUS" }), unit()], {
        flags: OPTIONAL,
      }),
      group("box", "block", [
        arg("width", "double", { token: "BYBOX" }),
        arg("height", "double"),
        unit(),
      ], { flags: OPTIONAL }),
      tokens("order", ["ASC", "DESC"], { flags: OPTIONAL }),
      arg("count", "integer", { token: "COUNT", flags: OPTIONAL }),
      optionalToken("ANY"),
      optionalToken("STOREDIST"),
    ],
  },
  "xadd": {
    reason:
      "LIMIT may come before MAXLEN/MINID (LIMIT 10 MAXLEN ~ 5), ids are stream ids; the docs nest LIMIT last and say string",
    arguments: [
      arg("key", "key"),
      optionalToken("NOMKSTREAM"),
      ...trimOptions(),
      group("id_or_auto", "oneof", [
        arg("auto_id", "pure-token", { token: "*" }),
        arg("id", "stream-id"),
      ]),
      group("field_value", "block", [arg("field", "string"), arg("value", "string")], {
        flags: ["multiple"],
      }),
    ],
  },
  "xtrim": {
    reason:
      "LIMIT may come before MAXLEN/MINID (LIMIT 10 MAXLEN ~ 5), thresholds are typed; the docs nest LIMIT last and say string",
    arguments: [arg("key", "key"), ...trimOptions()],
  },
  "xsetid": {
    reason: "ids are stream ids; the docs say string",
    arguments: [
      arg("key", "key"),
      arg("last-id", "stream-id"),
      arg("entries_added", "integer", { token: "ENTRIESADDED", flags: OPTIONAL }),
      arg("max_deleted_entry_id", "stream-id", { token: "MAXDELETEDID", flags: OPTIONAL }),
    ],
  },
  "xgroup|create": {
    reason: "the id is a stream id or $; the docs say string",
    arguments: [
      arg("key", "key"),
      arg("groupname", "string"),
      idOrLast(),
      optionalToken("MKSTREAM"),
      arg("entries_read", "integer", { token: "ENTRIESREAD", flags: OPTIONAL }),
    ],
  },
  "xgroup|setid": {
    reason: "the id is a stream id or $; the docs say string",
    arguments: [
      arg("key", "key"),
      arg("groupname", "string"),
      idOrLast(),
      arg("entries_read", "integer", { token: "ENTRIESREAD", flags: OPTIONAL }),
    ],
  },
  "xreadgroup": {
    reason: "GROUP may come after COUNT, BLOCK or NOACK; the docs put it first",
    arguments: [
      group("group_consumer", "block", [arg("group", "string"), arg("consumer", "string")], {
        token: "GROUP",
        flags: OPTIONAL,
      }),
      arg("count", "integer", { token: "COUNT", flags: OPTIONAL }),
      arg("milliseconds", "integer", { token: "BLOCK", flags: OPTIONAL }),
      optionalToken("NOACK"),
      group("streams", "block", [
        arg("key", "key", { flags: ["multiple"] }),
        arg("id", "string", { flags: ["multiple"] }),
      ], { token: "STREAMS" }),
    ],
  },
};

/** The arguments a request to `command` has after its name (and subcommand). */
export function commandArguments(command: CommandSpec): readonly RawArgDoc[] {
  return Object.hasOwn(GRAMMAR_OVERRIDES, command.name)
    ? GRAMMAR_OVERRIDES[command.name]!.arguments
    : command.docs.arguments ?? [];
}

/** The loosened grammar of a command's arguments (see the module doc). */
export function commandPattern(command: CommandSpec): Pattern {
  return sequencePattern(commandArguments(command));
}

/** Where a command's `numkeys` argument is, and its grammar with the keys it counts taken out. */
export interface KeyCountLayout {
  /** Index in argv of `numkeys`; the keys are the `numkeys` arguments after it. */
  readonly numkeysAt: number;
  /** The grammar of argv without those keys. */
  readonly pattern: Pattern;
}

/**
 * For commands whose `numkeys` argument (at a fixed place) is followed by the
 * keys it counts (ZUNIONSTORE, LMPOP, ...): the layout to check the rest
 * against once the keys are counted out, as Redis reads them.
 */
export function keyCountLayout(command: CommandSpec): KeyCountLayout | undefined {
  const args = commandArguments(command);
  const start = command.container === undefined ? 1 : 2;
  for (let i = 0; i + 1 < args.length; i++) {
    const numkeys = args[i]!;
    const keys = args[i + 1]!;
    if (
      numkeys.name === "numkeys" && numkeys.type === "integer" && keys.type === "key" &&
      has(keys, "multiple") && !has(keys, "optional")
    ) {
      return { numkeysAt: start + i, pattern: sequencePattern(args.toSpliced(i + 1, 1)) };
    }
    // Only a fixed position is known: every argument before numkeys takes exactly one.
    const single = numkeys.token === undefined && !has(numkeys, "optional") &&
      !has(numkeys, "multiple") && numkeys.type !== "block" && numkeys.type !== "oneof";
    if (!single) return undefined;
  }
  return undefined;
}
