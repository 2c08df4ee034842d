import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { unclosedQuoteStart, yamlErrorMessage } from './unclosed-quote.js';

/** The first error the `yaml` library finds in `text`. */
function firstError(text: string) {
  const error = parseDocument(text, { prettyErrors: true }).errors[0];
  if (error === undefined) throw new Error('expected a YAML error');
  return error;
}

describe('yamlErrorMessage', () => {
  it('names the line where an unclosed double quote opened, not where the text ended', () => {
    const text = 'task: "fix the bug\nrepo: /tmp/x\nagent: mock\n';
    expect(yamlErrorMessage(text, firstError(text))).toBe(
      'the quote (") opened at line 1, column 7 is never closed: the parser read on to line 4, column 1 looking for its end',
    );
  });

  it('finds a single quote inside a list, after quoted values that did close across lines', () => {
    const text = 'a: "ok"\nb: "multi\n  line"\nlist:\n  - \'oops\n  - b\n';
    expect(unclosedQuoteStart(text, firstError(text).pos[0])).toEqual({
      line: 5,
      column: 5,
      quote: "'",
    });
    expect(yamlErrorMessage(text, firstError(text))).toMatch(
      /^the quote \(\x27\) opened at line 5, column 5 is never closed/,
    );
  });

  it("keeps the parser's own message for every other error", () => {
    const text = 'a: 1\na: 2\n';
    const error = firstError(text);
    expect(error.code).toBe('DUPLICATE_KEY');
    expect(yamlErrorMessage(text, error)).toBe(error.message);
  });
});
