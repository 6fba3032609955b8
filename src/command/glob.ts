/**
 * Redis's glob-style matching (`KEYS`, `COMMAND LIST FILTERBY PATTERN`):
 * `*` any run, `?` one character, `[abc]`, `[^abc]`, `[a-z]` classes, and `\`
 * to take the next character literally. An unterminated class runs to the end
 * of the pattern, as in Redis.
 */

function lower(code: number): number {
  return code >= 0x41 && code <= 0x5a ? code + 0x20 : code;
}

/** Whether `text` matches the glob `pattern`; `nocase` compares ASCII letters case-insensitively. */
export function globMatch(pattern: string, text: string, nocase = false): boolean {
  return matchFrom(pattern, 0, text, 0, nocase);
}

function matchFrom(pattern: string, p: number, text: string, t: number, nocase: boolean): boolean {
  const fold = nocase ? lower : (code: number) => code;
  while (p < pattern.length && t < text.length) {
    const c = pattern.charCodeAt(p);
    if (c === 0x2a /* * */) {
      while (pattern.charCodeAt(p + 1) === 0x2a) p++;
      if (p + 1 === pattern.length) return true;
      for (; t < text.length; t++) {
        if (matchFrom(pattern, p + 1, text, t, nocase)) return true;
      }
      return false;
    } else if (c === 0x3f /* ? */) {
      t++;
    } else if (c === 0x5b /* [ */) {
      p++;
      const negate = pattern.charCodeAt(p) === 0x5e; /* ^ */
      if (negate) p++;
      const s = text.charCodeAt(t);
      let matched = false;
      while (true) {
        if (p >= pattern.length) {
          // Unterminated: the class ran to the end of the pattern.
          p = pattern.length - 1;
          break;
        }
        const k = pattern.charCodeAt(p);
        if (k === 0x5c /* \ */ && pattern.length - p >= 2) {
          p++;
          if (pattern.charCodeAt(p) === s) matched = true;
        } else if (k === 0x5d /* ] */) {
          break;
        } else if (pattern.length - p >= 3 && pattern.charCodeAt(p + 1) === 0x2d /* - */) {
          let start = k;
          let end = pattern.charCodeAt(p + 2);
          if (start > end) [start, end] = [end, start];
          const code = fold(s);
          if (code >= fold(start) && code <= fold(end)) matched = true;
          p += 2;
        } else if (fold(k) === fold(s)) {
          matched = true;
        }
        p++;
      }
      if (negate) matched = !matched;
      if (!matched) return false;
      t++;
    } else {
      if (c === 0x5c /* \ */ && pattern.length - p >= 2) p++;
      if (fold(pattern.charCodeAt(p)) !== fold(text.charCodeAt(t))) return false;
      t++;
    }
    p++;
    if (t === text.length) {
      while (pattern.charCodeAt(p) === 0x2a) p++;
      break;
    }
  }
  return p === pattern.length && t === text.length;
}
