/** Path helpers (JSR's std/path is out of reach; node:path and node:url cover it). */

import { fileURLToPath } from "node:url";
export { dirname, join } from "node:path";

/** The filesystem path of a `file:` URL. */
export function fromFileUrl(url: string): string {
  return fileURLToPath(url);
}
