/**
 * Crash tests with a real process: runs a Deno script that reports its
 * progress one line at a time on stdout, and kills it with SIGKILL once it has
 * acknowledged enough. Only whole lines count: a line cut by the kill was never
 * fully reported.
 */

import assert from "node:assert/strict";

/** Options of {@linkcode killAfterAcks}. */
export interface KillOptions {
  /** The script and its arguments (run with read and write permissions). */
  script: string;
  args: string[];
  /** Takes one whole line; returns how many operations are acknowledged so far. */
  onLine: (line: string) => number;
  killAfter: number;
  /** The child must reach `killAfter` within this. */
  deadlineMs: number;
}

/** Runs the script until `onLine` reports `killAfter` acknowledgements, then SIGKILLs it. */
export async function killAfterAcks(options: KillOptions): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", options.script, ...options.args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let killed = false;
  let acked = 0;
  const deadline = setTimeout(() => {
    if (!killed) child.kill("SIGKILL");
  }, options.deadlineMs);
  try {
    let pending = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      pending += decoder.decode(chunk, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) acked = options.onLine(line);
      if (!killed && acked >= options.killAfter) {
        killed = true;
        child.kill("SIGKILL");
      }
    }
  } finally {
    clearTimeout(deadline);
  }
  const status = await child.status;
  const errors = await stderr;
  assert.ok(
    killed,
    `the child acknowledged only ${acked} operations in ${options.deadlineMs} ms (exit ${status.code}):\n${errors}`,
  );
  assert.equal(status.signal, "SIGKILL", `the child ended otherwise:\n${errors}`);
}
