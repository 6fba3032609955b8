/**
 * A strict reader of the Prometheus text exposition format (0.0.4), written
 * for tests independently of the library that writes it: every sample must
 * belong to a family declared by `# TYPE`, names and labels must be well
 * formed, and a histogram's buckets must be cumulative and end in `+Inf` equal
 * to its `_count`. Anything else throws.
 */

/** One sample: its full name (`x_bucket`, `x_count` ...), labels and value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A metric family: its type and samples. */
export interface Family {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Parses a whole exposition into its families by name. */
export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const lines = text.split("\n");
  for (const [i, line] of lines.entries()) {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    if (line === "") continue;
    if (line.startsWith("#")) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (match === null) continue; // a comment
      const [, kind, name, rest] = match;
      if (!NAME.test(name!)) throw new Error(`${where}: bad metric name`);
      const family = families.get(name!) ??
        { name: name!, type: "untyped" as Family["type"], help: "", samples: [] };
      if (kind === "HELP") family.help = rest!;
      else {
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest!)) {
          throw new Error(`${where}: unknown type`);
        }
        if (family.samples.length > 0) throw new Error(`${where}: TYPE after samples`);
        family.type = rest as Family["type"];
      }
      families.set(name!, family);
      continue;
    }
    const sample = parseSample(line, where);
    const family = familyOf(families, sample.name);
    if (family === undefined) throw new Error(`${where}: sample of an undeclared family`);
    family.samples.push(sample);
  }
  for (const family of families.values()) checkFamily(family);
  return families;
}

function parseSample(line: string, where: string): Sample {
  const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( \d+)?$/.exec(line);
  if (match === null) throw new Error(`${where}: not a sample`);
  const labels: Record<string, string> = {};
  let rest = match[3] ?? "";
  while (rest.length > 0) {
    const label = /^([^=]+)="((?:[^"\\]|\\.)*)",?/.exec(rest);
    if (label === null || !LABEL.test(label[1]!)) throw new Error(`${where}: bad labels`);
    if (label[1]! in labels) throw new Error(`${where}: label ${label[1]} twice`);
    labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    rest = rest.slice(label[0].length);
  }
  const text = match[4]!;
  const value = text === "+Inf" ? Infinity : text === "-Inf" ? -Infinity : Number(text);
  if (Number.isNaN(value) && text !== "NaN") throw new Error(`${where}: bad value`);
  return { name: match[1]!, labels, value };
}

function familyOf(families: Map<string, Family>, sample: string): Family | undefined {
  const direct = families.get(sample);
  if (direct !== undefined) return direct;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!sample.endsWith(suffix)) continue;
    const family = families.get(sample.slice(0, -suffix.length));
    if (family?.type === "histogram" || family?.type === "summary") return family;
  }
  return undefined;
}

function checkFamily(family: Family): void {
  if (family.type !== "histogram") return;
  const byKey = new Map<string, { buckets: [number, number][]; count?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = byKey.get(key) ?? { buckets: [] };
    if (s.name.endsWith("_bucket")) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      entry.buckets.push([le === "+Inf" ? Infinity : Number(le), s.value]);
    } else if (s.name.endsWith("_count")) entry.count = s.value;
    byKey.set(key, entry);
  }
  for (const [key, { buckets, count }] of byKey) {
    for (let i = 1; i < buckets.length; i++) {
      if (buckets[i]![0] <= buckets[i - 1]![0] || buckets[i]![1] < buckets[i - 1]![1]) {
        throw new Error(`${family.name} ${key}: buckets not cumulative`);
      }
    }
    const last = buckets.at(-1);
    if (last === undefined || last[0] !== Infinity || last[1] !== count) {
      throw new Error(`${family.name} ${key}: +Inf bucket is not the count`);
    }
  }
}

/**
 * The value of the sample of family `name` whose labels include `labels`
 * (a histogram's `_count`), or undefined.
 */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const family = families.get(name);
  if (family === undefined) return undefined;
  const wanted = family.type === "histogram" ? `${name}_count` : name;
  const sample = family.samples.find((s) =>
    s.name === wanted && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  return sample?.value;
}

/** GETs `path` from an admin listener on loopback `port`. */
export async function adminGet(
  port: number,
  path: string,
): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text() };
}
