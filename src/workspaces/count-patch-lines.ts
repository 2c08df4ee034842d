const HUNK_HEADER = /^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@/;

/**
 * Counts `+` and `-` content lines of a unified git patch. Lines are classified by position
 * inside a hunk (the `@@ -a,b +c,d @@` counts say how many old and new lines follow), never by
 * their first characters alone, so content that itself begins with `++`/`--`, or looks like a
 * `+++`/`---` header, is counted exactly once and real headers never are. Binary payloads sit
 * outside hunks and count zero.
 */
export function countPatchLines(text: string): number {
  let changed = 0;
  let oldLeft = 0;
  let newLeft = 0;
  for (const line of text.split('\n')) {
    if (oldLeft > 0 || newLeft > 0) {
      const first = line[0];
      if (first === '+') {
        newLeft -= 1;
        changed += 1;
      } else if (first === '-') {
        oldLeft -= 1;
        changed += 1;
      } else if (first === '\\') {
        // "\ No newline at end of file" annotates the previous line; it is not a line itself.
      } else {
        // Context (' ', or '' should a blank context line ever lose its space).
        oldLeft -= 1;
        newLeft -= 1;
      }
      continue;
    }
    const header = HUNK_HEADER.exec(line);
    if (header !== null) {
      oldLeft = header[1] === undefined ? 1 : Number(header[1]);
      newLeft = header[2] === undefined ? 1 : Number(header[2]);
    }
  }
  return changed;
}
