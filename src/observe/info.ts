/** `PYLON INFO`: the node's state as `key:value` lines in sections, like Redis's INFO. */

/** One INFO section: a title and its fields in order. */
export interface InfoSection {
  title: string;
  fields: [string, string | number][];
}

/** Renders sections as Redis renders INFO (`# Title`, `key:value`, blank line between). */
export function renderInfo(sections: InfoSection[]): string {
  return sections
    .map((s) => [`# ${s.title}`, ...s.fields.map(([k, v]) => `${k}:${v}`)].join("\r\n"))
    .join("\r\n\r\n") + "\r\n";
}

/** The sections of an INFO text whose titles are named (`all`, `everything`, `default`: every one). */
export function selectSections(info: string, names: string[]): string {
  const wanted = names.map((n) => n.toLowerCase());
  if (
    wanted.length === 0 || wanted.some((n) => n === "all" || n === "everything" || n === "default")
  ) {
    return info;
  }
  const sections = info.split("\r\n\r\n").map((s) => s.replace(/\r\n$/, ""));
  const kept = sections.filter((s) => wanted.includes(/^# (.*)/.exec(s)?.[1]?.toLowerCase() ?? ""));
  return kept.length === 0 ? "" : kept.join("\r\n\r\n") + "\r\n";
}

/** `PYLON INFO`'s first section (the node), titled `# Pylon`, for Redis's own INFO. */
export function pylonSection(info: string): string {
  const first = info.split("\r\n\r\n")[0]!.replace(/\r\n$/, "");
  return first.replace(/^# [^\r\n]*/, "# Pylon") + "\r\n";
}
