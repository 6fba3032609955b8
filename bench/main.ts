/**
 * `deno task bench <name>`: side-by-side benchmarks of Pylon against direct
 * Redis (and twemproxy) in one run.
 */

const BENCHES: Record<string, string> = {};

const name = Deno.args[0];
if (name === undefined || !(name in BENCHES)) {
  const known = Object.keys(BENCHES);
  console.error(
    known.length === 0
      ? "bench: no benchmarks yet (the read path brings 'read')"
      : `bench: choose one of ${known.join(", ")}`,
  );
  Deno.exit(name === undefined ? 0 : 2);
}
