/**
 * Overwrites every occurrence of a secret in a byte stream with `*`, byte for byte, so a
 * Content-Length stays true. An upstream that echoes the key it was sent (a misbehaving proxy,
 * a debugging endpoint) must not hand the agent the real key.
 *
 * Chunks may split a secret, so the bytes after the last line break of what has arrived are held
 * back until the next chunk. Secrets never contain a line break, and event streams end every
 * event with one, so in practice nothing is held back and nothing is delayed. A line longer
 * than `maxHeldBytes` is let through except its last (longest secret − 1) bytes.
 */
export class SecretRedactor {
  private readonly secrets: readonly Buffer[];
  private readonly keep: number;
  private held: Buffer = Buffer.alloc(0);

  constructor(
    secrets: readonly string[],
    private readonly maxHeldBytes = 64 * 1024,
  ) {
    this.secrets = secrets.filter((secret) => secret !== '').map((secret) => Buffer.from(secret));
    this.keep = Math.max(0, ...this.secrets.map((secret) => secret.length - 1));
  }

  /** The bytes that can be sent now. */
  push(chunk: Buffer): Buffer {
    if (this.secrets.length === 0) return chunk;
    const buffer = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk]);
    this.redact(buffer);
    let cut = buffer.lastIndexOf(10) + 1;
    if (buffer.length - cut > this.maxHeldBytes) cut = buffer.length - this.keep;
    // A copy, so the held bytes do not pin the whole chunk they came from.
    this.held = Buffer.from(buffer.subarray(cut));
    return buffer.subarray(0, cut);
  }

  /** The rest, once the stream has ended. */
  end(): Buffer {
    const rest = this.held;
    this.held = Buffer.alloc(0);
    return rest;
  }

  private redact(buffer: Buffer): void {
    for (const secret of this.secrets) {
      let at = buffer.indexOf(secret);
      while (at !== -1) {
        buffer.fill(42, at, at + secret.length);
        at = buffer.indexOf(secret, at + secret.length);
      }
    }
  }
}

/** The same for a string: an error message, a log line. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret !== '') result = result.split(secret).join('*'.repeat(secret.length));
  }
  return result;
}
