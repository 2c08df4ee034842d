/**
 * Text an agent chose (file names, link targets, validator output, event messages) must never
 * drive the operator's terminal: an ESC or 8-bit CSI can erase lines or write the clipboard,
 * a bidi override can reorder what a reviewer reads, and a newline can forge a whole line of
 * the report. Such characters are shown as `\uXXXX` escapes, which are also valid inside JSON
 * strings, so JSON output stays parseable and decodes to the same text.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const LINE_BREAKS = /[\r\n]/g;

const asEscape = (char: string): string =>
  `\\u${(char.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`;

/** Escapes control characters; keeps `\n` and `\t`, which AAS's own formatting uses. */
export function terminalSafe(text: string): string {
  return text.replace(CONTROLS, asEscape);
}

/** One value on one line: also escapes line breaks. */
export function oneLine(text: string): string {
  return terminalSafe(text).replace(LINE_BREAKS, asEscape);
}
