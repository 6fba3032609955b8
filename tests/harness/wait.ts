/** Bounded polling: every wait in the tests has a deadline and says what it waited for. */

/** Options of {@linkcode waitFor}. */
export interface WaitOptions {
  /** Give up after this long. */
  timeoutMs?: number;
  /** Pause between probes. */
  intervalMs?: number;
  /** Extra context for the timeout error, such as a service's log tail. */
  context?: () => Promise<string> | string;
}

/** Raised when a wait runs past its deadline. */
export class WaitTimeout extends Error {
  override name = "WaitTimeout";
}

/**
 * Calls `probe` until it returns something other than `undefined` and returns
 * that. A probe that throws counts as "not yet"; its last error is reported if
 * the deadline passes.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown = undefined;
  while (true) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() >= deadline) break;
    await delay(intervalMs);
  }
  let message = `Timed out after ${timeoutMs} ms waiting for ${what}`;
  if (lastError !== undefined) message += `\nlast error: ${describe(lastError)}`;
  if (options.context !== undefined) message += `\n${await options.context()}`;
  throw new WaitTimeout(message);
}

/** A pause between polls (never a substitute for waiting on an event). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
