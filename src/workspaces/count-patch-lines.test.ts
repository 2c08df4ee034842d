import { describe, expect, it } from 'vitest';
import { countPatchLines } from './count-patch-lines.js';

describe('countPatchLines', () => {
  it('counts + and - lines inside hunks only', () => {
    const patch = [
      'diff --git a/f b/f',
      'index 1111111..2222222 100644',
      '--- a/f',
      '+++ b/f',
      '@@ -1,3 +1,3 @@',
      ' keep',
      '-old',
      '+new',
      ' keep',
      '',
    ].join('\n');
    expect(countPatchLines(patch)).toBe(2);
  });

  it('counts content that looks like headers exactly once', () => {
    const patch = [
      '--- a/f',
      '+++ b/f',
      '@@ -1,2 +1,3 @@',
      '---- a/old-header-like line',
      '--- looks like a header',
      '++++ b/new',
      '+++ also content',
      '++',
      '',
    ].join('\n');
    expect(countPatchLines(patch)).toBe(5);
  });

  it('handles omitted counts, missing newline markers, several hunks and binary payloads', () => {
    const patch = [
      'diff --git a/a b/a',
      '--- a/a',
      '+++ b/a',
      '@@ -1 +1 @@',
      '-x',
      '\\ No newline at end of file',
      '+y',
      '\\ No newline at end of file',
      '@@ -10,0 +11,2 @@',
      '+one',
      '+two',
      'diff --git a/b.bin b/b.bin',
      'GIT binary patch',
      'literal 3',
      '-KcmZQzWCj2L2ml2D',
      '',
      'literal 0',
      'HcmV?d00001',
      '',
    ].join('\n');
    expect(countPatchLines(patch)).toBe(4);
  });

  it('is zero for an empty patch and for mode-only changes', () => {
    expect(countPatchLines('')).toBe(0);
    expect(countPatchLines('diff --git a/x b/x\nold mode 100644\nnew mode 100755\n')).toBe(0);
  });
});
