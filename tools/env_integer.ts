/** A non-negative integer from the environment variable `name`, or undefined when unset. */
export function envInteger(name: string): number | undefined {
  const text = Deno.env.get(name);
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got "${text}"`);
  }
  return value;
}
