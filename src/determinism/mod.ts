/**
 * Time and chance from the log (issue 23): what an op does must not depend on
 * the clock or the random source of the rack applying it. Expiries are stored
 * shifted and decided by the op's log time (expiry.ts); scripts, functions and
 * the top-level commands that read the clock or draw at random run behind a
 * Lua wrapper that decides from the op's log time and seed (prologue.ts,
 * functions.ts). The applier wires these in; nothing here does I/O.
 */

export {
  EXPIRE_DUE,
  EXPIRY_SHIFT_MS,
  isLogicallyExpired,
  shiftExpiry,
  type TtlCommand,
  ttlCommand,
  ttlFromPexpiretime,
  ttlRequest,
  unshiftTtlReply,
} from "./expiry.ts";
export {
  commandAsScript,
  type LogContext,
  opSeed,
  PROLOGUE,
  restoreCommandReply,
  restoreScriptReply,
  scriptArgs,
  scriptBody,
  wrapEval,
} from "./prologue.ts";
export {
  clientLibraryCode,
  FUNCTION_PROLOGUE,
  libraryCode,
  restoreFunctionReply,
  wrapFcall,
  wrapFunctionLoad,
  wrapFunctionRestore,
} from "./functions.ts";
