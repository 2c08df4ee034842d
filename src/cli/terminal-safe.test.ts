import { describe, expect, it } from 'vitest';
import { oneLine, terminalSafe } from './terminal-safe.js';

describe('terminalSafe', () => {
  it('escapes ESC, C1 controls and bidi overrides but keeps newlines and tabs', () => {
    expect(terminalSafe('a\u001b[2Jb\u009bc\u202ed\n\te')).toBe(
      'a\\u001b[2Jb\\u009bc\\u202ed\n\te',
    );
  });

  it('keeps JSON parseable and lossless', () => {
    const value = { path: 'x\u009b\u202e.txt' };
    expect(JSON.parse(terminalSafe(JSON.stringify(value)))).toEqual(value);
  });

  it('oneLine also escapes line breaks', () => {
    expect(oneLine('line\ndecision blocked\r')).toBe('line\\u000adecision blocked\\u000d');
  });
});
