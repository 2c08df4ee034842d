import { CODES, type Code, isCode } from './codes.js';

/** Where bad input came from, so a message can name the file and field and say what to do. */
export interface ErrorDetails {
  readonly file?: string;
  readonly field?: string;
  readonly hint?: string;
  readonly [key: string]: unknown;
}

const AAS_ERROR = Symbol.for('aas.error');

/**
 * The only error type that crosses context boundaries. Identified by a `Symbol.for` marker
 * rather than bare `instanceof`, so two copies of the module still agree.
 */
export class AasError extends Error {
  readonly code: Code;
  readonly details: ErrorDetails;
  readonly [AAS_ERROR] = true;

  constructor(
    code: Code,
    message: string,
    details: ErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AasError';
    this.code = code;
    this.details = details;
  }

  /** A one-paragraph message a person can act on: what, where, and what to do. */
  describe(): string {
    const where = [this.details.file, this.details.field].filter(Boolean).join(': ');
    const head = where ? `${where}: ${this.message}` : this.message;
    return this.details.hint ? `${head}\n  hint: ${this.details.hint}` : head;
  }

  toJSON(): { code: Code; message: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isAasError(value: unknown): value is AasError {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { [AAS_ERROR]?: unknown })[AAS_ERROR] === true
  );
}

/** Normalise anything thrown into an AasError; unknown failures become INTERNAL. */
export function normaliseError(thrown: unknown, fallback: Code = 'INTERNAL'): AasError {
  if (isAasError(thrown)) return thrown;
  if (thrown instanceof Error) {
    const maybeCode = (thrown as { code?: unknown }).code;
    const code = isCode(maybeCode) ? maybeCode : fallback;
    return new AasError(code, thrown.message, {}, { cause: thrown });
  }
  return new AasError(
    fallback,
    typeof thrown === 'string' ? thrown : `non-error thrown: ${String(thrown)}`,
  );
}

export function codeSummary(code: Code): string {
  return CODES[code].summary;
}

/**
 * Codes whose messages come from below (driver errors, unexpected failures) and may name hosts,
 * paths or SQL: what anyone but the log is told of such an error is its code's summary.
 */
const OPAQUE_CODES: ReadonlySet<Code> = new Set(['INTERNAL', 'STORE_UNAVAILABLE']);

export function isOpaqueCode(code: Code): boolean {
  return OPAQUE_CODES.has(code);
}

/** `error`'s message, or its code's summary when the message may hold internals (isOpaqueCode). */
export function shareableMessage(error: AasError): string {
  return isOpaqueCode(error.code) ? codeSummary(error.code) : error.message;
}
