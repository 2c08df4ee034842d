import { AasError } from './errors.js';
import { fieldPositionInYaml } from './yaml-position.js';

/**
 * `error` with the line and column of its field in the YAML or JSON `text` it came from, in its
 * details and at the end of its message (`… at line 3, column 1`, as a job file's errors read).
 * Unchanged when it names no field, is located already, or the text does not hold that field.
 */
export function withFieldPosition(error: AasError, text: string): AasError {
  const { field } = error.details;
  if (typeof field !== 'string' || field === '' || error.details.line !== undefined) return error;
  const at = fieldPositionInYaml(text, field);
  if (at === null) return error;
  return new AasError(
    error.code,
    `${error.message} at line ${at.line}, column ${at.column}`,
    { ...error.details, line: at.line, column: at.column },
    { cause: error },
  );
}
