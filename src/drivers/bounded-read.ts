import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';

export type BoundedRead =
  | { readonly kind: 'ok'; readonly bytes: Buffer; readonly size: number }
  | { readonly kind: 'missing' }
  | { readonly kind: 'too-large'; readonly size: number }
  | { readonly kind: 'not-regular'; readonly what: string }
  | { readonly kind: 'error'; readonly message: string };

export interface BoundedReadOptions {
  /** Agent-written files are opened with O_NOFOLLOW; operator config may be a symlink. */
  readonly followSymlinks?: boolean;
}

/**
 * Reads a whole file only if it is a regular file no larger than `maxBytes`. Files an agent
 * controls may be huge, a FIFO (which would block a plain read forever) or a symlink to a
 * host secret; all of those come back as a kind, never as a hang or an exception.
 */
export async function readBoundedFile(
  path: string,
  maxBytes: number,
  options: BoundedReadOptions = {},
): Promise<BoundedRead> {
  return withRegularFile(path, options, async (handle, size) => {
    if (size > maxBytes) return { kind: 'too-large', size };
    const bytes = await readRange(handle, 0, Math.min(size, maxBytes) + 1);
    // The file may have grown between fstat and read.
    if (bytes.length > maxBytes) return { kind: 'too-large', size: bytes.length };
    return { kind: 'ok', bytes, size: bytes.length };
  });
}

/** Reads at most `maxBytes` starting at `offset` (for tailing a growing file). */
export async function readFileChunk(
  path: string,
  offset: number,
  maxBytes: number,
): Promise<BoundedRead> {
  return withRegularFile(path, {}, async (handle, size) => {
    const bytes = await readRange(handle, offset, Math.max(0, Math.min(maxBytes, size - offset)));
    return { kind: 'ok', bytes, size };
  });
}

async function withRegularFile(
  path: string,
  options: BoundedReadOptions,
  body: (handle: FileHandle, size: number) => Promise<BoundedRead>,
): Promise<BoundedRead> {
  // O_NONBLOCK makes opening a FIFO return at once instead of waiting for a writer.
  const flags =
    constants.O_RDONLY |
    constants.O_NONBLOCK |
    (options.followSymlinks === true ? 0 : constants.O_NOFOLLOW);
  let handle: FileHandle;
  try {
    handle = await open(path, flags);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'missing' };
    if (code === 'ELOOP') return { kind: 'not-regular', what: 'a symbolic link' };
    return { kind: 'error', message: (error as Error).message };
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return { kind: 'not-regular', what: 'not a regular file' };
    return await body(handle, stat.size);
  } catch (error) {
    return { kind: 'error', message: (error as Error).message };
  } finally {
    await handle.close();
  }
}

async function readRange(handle: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}
