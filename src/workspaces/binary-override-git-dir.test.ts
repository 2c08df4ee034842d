import { describe, expect, it } from 'vitest';
import { attributePattern } from './binary-override-git-dir.js';

describe('attributePattern', () => {
  it('anchors, escapes glob characters and C-quotes', () => {
    expect(attributePattern(Buffer.from('a.txt')).toString('latin1')).toBe('"/a.txt"');
    expect(attributePattern(Buffer.from('dir with space/*[x]?.txt')).toString('latin1')).toBe(
      '"/dir with space/\\\\*\\\\[x]\\\\?.txt"',
    );
    expect(attributePattern(Buffer.from('quote"and\\back')).toString('latin1')).toBe(
      '"/quote\\"and\\\\\\\\back"',
    );
    expect(attributePattern(Buffer.from([0x63, 0xe9, 0x0a])).toString('latin1')).toBe(
      '"/c\\351\\012"',
    );
  });
});
