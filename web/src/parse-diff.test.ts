import { describe, expect, it } from 'vitest';
import { displayPath, modeChange, parseDiff } from './parse-diff';

const PATCH = [
  'diff --git a/src/app.js b/src/app.js',
  'index 1111111..2222222 100644',
  '--- a/src/app.js',
  '+++ b/src/app.js',
  '@@ -1,2 +1,2 @@',
  ' const a = 1;',
  '-export const answer = 41;',
  '+export const answer = 42;',
  'diff --git a/old name.txt b/new name.txt',
  'similarity index 100%',
  'rename from old name.txt',
  'rename to new name.txt',
  'diff --git a/logo.png b/logo.png',
  'new file mode 100644',
  'index 0000000..3333333',
  'Binary files /dev/null and b/logo.png differ',
  'diff --git a/with space.md b/with space.md',
  'deleted file mode 100644',
  '--- a/with space.md',
  '+++ /dev/null',
  '@@ -1 +0,0 @@',
  '-gone',
  '\\ No newline at end of file',
  'diff --git "a/t\\303\\244b.txt" "b/t\\303\\244b.txt"',
  'new file mode 100644',
  '--- /dev/null',
  '+++ "b/t\\303\\244b.txt"',
  '@@ -0,0 +1 @@',
  '+x',
  '',
].join('\n');

describe('parseDiff', () => {
  const files = parseDiff(PATCH);

  it('finds every file with what happened to it', () => {
    expect(files.map((file) => [displayPath(file), file.change, file.binary])).toEqual([
      ['src/app.js', 'modified', false],
      ['new name.txt', 'renamed', false],
      ['logo.png', 'added', true],
      ['with space.md', 'deleted', false],
      [expect.stringMatching(/^t.*b\.txt$/), 'added', false],
    ]);
    expect(files[1]?.oldPath).toBe('old name.txt');
  });

  it('numbers lines on both sides and keeps git notes apart', () => {
    const lines = files[0]?.hunks[0]?.lines ?? [];
    expect(lines).toEqual([
      { kind: 'context', text: 'const a = 1;', oldNo: 1, newNo: 1 },
      { kind: 'del', text: 'export const answer = 41;', oldNo: 2, newNo: null },
      { kind: 'add', text: 'export const answer = 42;', oldNo: null, newNo: 2 },
    ]);
    expect(files[3]?.hunks[0]?.lines.map((line) => line.kind)).toEqual(['del', 'note']);
  });

  it('never turns text into markup: a hostile line stays a string', () => {
    const hostile = parseDiff(
      'diff --git a/x.html b/x.html\n--- a/x.html\n+++ b/x.html\n@@ -0,0 +1 @@\n+<img src=x onerror=alert(1)>\n',
    );
    expect(hostile[0]?.hunks[0]?.lines[0]?.text).toBe('<img src=x onerror=alert(1)>');
  });

  it('shows a change of mode, which an approver must see like a changed line', () => {
    const modes = parseDiff(
      [
        'diff --git a/run.sh b/run.sh',
        'old mode 100755',
        'new mode 100644',
        'diff --git a/tool b/tool',
        'new file mode 100755',
        'index 0000000..1111111',
        '--- /dev/null',
        '+++ b/tool',
        '@@ -0,0 +1 @@',
        '+#!/bin/sh',
        'diff --git a/link b/link',
        'old mode 100644',
        'new mode 120000',
        '',
      ].join('\n'),
    );
    expect(modes.map((file) => [file.oldMode, file.newMode])).toEqual([
      ['100755', '100644'],
      [null, '100755'],
      ['100644', '120000'],
    ]);
    expect(modes.map(modeChange)).toEqual([
      'was executable, now a file (100755 → 100644)',
      'new as executable',
      'was a file, now a symlink (100644 → 120000)',
    ]);
    expect(files.map(modeChange)).toEqual([null, null, null, null, null]);
  });
});
