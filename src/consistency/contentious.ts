/**
 * Which requests are strong (linearizable): those touching a key that matches
 * a `contentious` pattern (Redis glob, as `KEYS` takes), and every request of
 * a connection that asked for `PYLON CONSISTENCY strong`. Pure: the patterns
 * come from the configuration and change on reload.
 */

import { commandKeysIfKnown, type CommandSpec } from "../command/mod.ts";
import { globMatch } from "../command/glob.ts";

const utf8 = new TextDecoder();

/** The configured contentious key patterns. */
export class Contentious {
  #patterns: readonly string[];

  constructor(patterns: readonly string[]) {
    this.#patterns = patterns;
  }

  /** Takes the patterns of a reload. */
  set(patterns: readonly string[]): void {
    this.#patterns = patterns;
  }

  get patterns(): readonly string[] {
    return this.#patterns;
  }

  /** Whether one of the commands' keys is contentious. */
  touches(commands: readonly { command: CommandSpec; argv: Uint8Array[] }[]): boolean {
    if (this.#patterns.length === 0) return false;
    for (const { command, argv } of commands) {
      for (const position of commandKeysIfKnown(command, argv) ?? []) {
        const key = utf8.decode(argv[position]);
        if (this.#patterns.some((pattern) => globMatch(pattern, key))) return true;
      }
    }
    return false;
  }
}
