/**
 * Inline commands (`GET key\r\n`, what telnet users type): split into arguments
 * the way Redis's sdssplitargs does, quotes and escapes included.
 */

function isSpace(byte: number): boolean {
  return byte === 32 || (byte >= 9 && byte <= 13);
}

function hexValue(byte: number): number {
  if (byte >= 48 && byte <= 57) return byte - 48;
  if (byte >= 97 && byte <= 102) return byte - 87;
  if (byte >= 65 && byte <= 70) return byte - 55;
  return -1;
}

const ESCAPES: Record<number, number> = { 110: 10, 114: 13, 116: 9, 98: 8, 97: 7 };

/** Splits one inline line (without its line ending); undefined means unbalanced quotes. */
export function splitInline(line: Uint8Array): Uint8Array[] | undefined {
  const args: Uint8Array[] = [];
  let i = 0;
  const n = line.length;
  while (true) {
    while (i < n && isSpace(line[i]!)) i++;
    if (i >= n) return args;
    const current: number[] = [];
    let inDouble = false;
    let inSingle = false;
    let done = false;
    while (!done) {
      if (inDouble) {
        if (i >= n) return undefined;
        const c = line[i]!;
        if (
          c === 92 && i + 3 < n && line[i + 1] === 120 && hexValue(line[i + 2]!) >= 0 &&
          hexValue(line[i + 3]!) >= 0
        ) {
          current.push(hexValue(line[i + 2]!) * 16 + hexValue(line[i + 3]!));
          i += 3;
        } else if (c === 92 && i + 1 < n) {
          i++;
          current.push(ESCAPES[line[i]!] ?? line[i]!);
        } else if (c === 34) {
          // A closing quote must end the argument.
          if (i + 1 < n && !isSpace(line[i + 1]!)) return undefined;
          done = true;
        } else {
          current.push(c);
        }
      } else if (inSingle) {
        if (i >= n) return undefined;
        const c = line[i]!;
        if (c === 92 && i + 1 < n && line[i + 1] === 39) {
          i++;
          current.push(39);
        } else if (c === 39) {
          if (i + 1 < n && !isSpace(line[i + 1]!)) return undefined;
          done = true;
        } else {
          current.push(c);
        }
      } else {
        if (i >= n) {
          done = true;
          break;
        }
        const c = line[i]!;
        // Unquoted arguments end at these four, as in Redis (not at \v or \f).
        if (c === 32 || c === 10 || c === 13 || c === 9) {
          done = true;
        } else if (c === 34) {
          inDouble = true;
        } else if (c === 39) {
          inSingle = true;
        } else {
          current.push(c);
        }
      }
      if (i < n) i++;
    }
    args.push(Uint8Array.from(current));
  }
}
