import { type Document, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';

/** A place in a text, both 1-based, as editors count. */
export interface TextPosition {
  readonly line: number;
  readonly column: number;
}

/** Where a node starts, if it is a node with a known range. */
const startOf = (value: unknown): number | null =>
  isNode(value) ? (value.range?.[0] ?? null) : null;

/**
 * The offset of the node at `path` in `doc` (its key when `pointAtKey`), and whether the whole
 * path was found: a missing key leaves the offset of its deepest ancestor that exists.
 */
export function locateInYaml(
  doc: Document,
  path: readonly (string | number)[],
  pointAtKey = false,
): { offset: number | null; exact: boolean } {
  let node: unknown = doc.contents;
  let offset = startOf(node);
  for (const [index, segment] of path.entries()) {
    const last = index === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (!pair) return { offset, exact: false };
      node = last && pointAtKey ? pair.key : pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
    } else {
      return { offset, exact: false };
    }
    if (node === undefined || node === null) return { offset, exact: false };
    offset = startOf(node) ?? offset;
  }
  return { offset, exact: true };
}

/** Line and column of `offset`, as `lines` (filled by the parse) counts them. */
export function positionAt(lines: LineCounter, offset: number | null): TextPosition | null {
  if (offset === null) return null;
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

/**
 * Where `field` (dotted: `validators.0.timeoutSec`) is written in the YAML or JSON `text` (its
 * key; an item of a list, the item); null when the text does not hold that exact field (it came from elsewhere, a flag
 * say) or does not parse.
 */
export function fieldPositionInYaml(text: string, field: string): TextPosition | null {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length > 0) return null;
  const path = field.split('.').map((part) => (/^\d+$/.test(part) ? Number(part) : part));
  const found = locateInYaml(doc, path, true);
  return found.exact ? positionAt(lines, found.offset) : null;
}
