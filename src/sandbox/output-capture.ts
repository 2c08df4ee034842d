import {
  closeSync,
  constants,
  createWriteStream,
  mkdirSync,
  openSync,
  type WriteStream,
} from 'node:fs';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { AasError } from '../kernel/index.js';

export type CaptureStream = 'stdout' | 'stderr';

/**
 * Copies a process's stdout and stderr into two files under one combined byte budget.
 * Bytes past the budget are never written (the file is cut exactly at the cap) and the owner
 * is told once, so it can kill the process; later bytes are drained and dropped so a killed
 * process never blocks on a full pipe.
 */
export class OutputCapture {
  private total = 0;
  private closed = false;
  private readonly written: Record<CaptureStream, number> = { stdout: 0, stderr: 0 };
  private readonly sinks: Record<CaptureStream, WriteStream>;
  private readonly sources: Readable[] = [];
  private limitHit = false;
  private failure: string | undefined;

  constructor(
    paths: Readonly<Record<CaptureStream, string>>,
    private readonly limit: number,
  ) {
    const stdoutFd = openCaptureFile(paths.stdout);
    let stderrFd: number;
    try {
      stderrFd = openCaptureFile(paths.stderr);
    } catch (error) {
      closeSync(stdoutFd);
      throw error;
    }
    this.sinks = {
      stdout: this.sinkFor(stdoutFd, paths.stdout),
      stderr: this.sinkFor(stderrFd, paths.stderr),
    };
  }

  get stdoutBytes(): number {
    return this.written.stdout;
  }

  get stderrBytes(): number {
    return this.written.stderr;
  }

  get limitExceeded(): boolean {
    return this.limitHit;
  }

  get captureError(): string | undefined {
    return this.failure;
  }

  attach(which: CaptureStream, source: Readable, onLimit: () => void): void {
    const sink = this.sinks[which];
    this.sources.push(source);
    source.on('data', (chunk: Buffer) => {
      if (this.closed || this.limitHit || this.failure !== undefined) return;
      const room = this.limit - this.total;
      const slice = chunk.length > room ? chunk.subarray(0, room) : chunk;
      if (slice.length > 0) {
        this.total += slice.length;
        this.written[which] += slice.length;
        if (!sink.write(slice)) {
          // Backpressure: a fast writer must not buffer up to the cap in our memory.
          source.pause();
          sink.once('drain', () => source.resume());
        }
      }
      if (chunk.length > room) {
        this.limitHit = true;
        this.resumeAll();
        onLimit();
      }
    });
    // A destroyed pipe (after the process escaped its group) must not crash the host.
    source.on('error', () => undefined);
  }

  /** Ends both files and resolves once their descriptors are closed, so readers see all bytes. */
  async close(): Promise<void> {
    this.closed = true;
    this.resumeAll();
    await Promise.all([endSink(this.sinks.stdout), endSink(this.sinks.stderr)]);
  }

  private sinkFor(fd: number, path: string): WriteStream {
    const sink = createWriteStream(path, { fd, autoClose: true });
    sink.on('error', (error) => {
      this.failure ??= error.message;
      // Paused sources would otherwise wait for a 'drain' that never comes.
      this.resumeAll();
    });
    return sink;
  }

  private resumeAll(): void {
    for (const source of this.sources) source.resume();
  }
}

function openCaptureFile(path: string): number {
  try {
    mkdirSync(dirname(path), { recursive: true });
    // O_NOFOLLOW: the attempt directory is writable by the agent under the plain backend, so
    // a planted symlink must not redirect our writes elsewhere.
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
    return openSync(path, flags, 0o600);
  } catch (error) {
    throw new AasError(
      'INTERNAL',
      `cannot open output capture file: ${(error as Error).message}`,
      { file: path },
      { cause: error },
    );
  }
}

function endSink(sink: WriteStream): Promise<void> {
  if (sink.closed) return Promise.resolve();
  return new Promise((resolve) => {
    sink.once('close', () => resolve());
    sink.end();
  });
}
