import { describe, expect, it } from 'vitest';
import { highlightLine, languageOf } from './highlight';

describe('highlightLine', () => {
  it('escapes what it is given, highlighted or not', () => {
    const hostile = '<img src=x onerror=alert(1)>';
    for (const language of [null, 'xml', 'markdown', 'typescript']) {
      const html = highlightLine(hostile, language);
      expect(html, String(language)).not.toContain('<img');
      expect(html).toMatch(/&lt;|&#60;/);
    }
  });

  it('picks a bundled language by extension, or none', () => {
    expect(languageOf('src/app.tsx')).toBe('typescript');
    expect(languageOf('README.md')).toBe('markdown');
    expect(languageOf('Makefile')).toBeNull();
  });
});
