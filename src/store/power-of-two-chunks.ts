/**
 * Splits `items` into chunks whose sizes are powers of two, largest first, none above
 * `maxChunkSize`. A batch of any length then needs at most log2(maxChunkSize) + 1 distinct
 * multi-row INSERT shapes, so SQLite's prepared-statement cache stays small and warm instead of
 * preparing a new statement for every batch length.
 */
export function powerOfTwoChunks<T>(items: readonly T[], maxChunkSize: number): T[][] {
  if (!Number.isInteger(maxChunkSize) || maxChunkSize < 1) {
    throw new RangeError(`maxChunkSize must be a positive integer, got ${maxChunkSize}`);
  }
  const chunks: T[][] = [];
  let start = 0;
  while (start < items.length) {
    const remaining = Math.min(items.length - start, maxChunkSize);
    const size = 2 ** Math.floor(Math.log2(remaining));
    chunks.push(items.slice(start, start + size));
    start += size;
  }
  return chunks;
}

/**
 * The capacity a batched statement states for `count` items: the least power of two not below
 * it, so that a handful of statement texts serve every batch size.
 */
export function statementCapacity(count: number): number {
  return 2 ** Math.ceil(Math.log2(count));
}
