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
