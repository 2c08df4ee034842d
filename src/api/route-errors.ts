import { AasError, isAasError } from '../kernel/index.js';
import { ErrorBodySchema } from './api-schemas.js';

/**
 * A record named in the path that does not exist: the store's NOT_FOUND, told which path
 * parameter named it and where the existing ones are listed.
 */
export async function namingNotFound<T>(
  action: Promise<T>,
  field: string,
  hint: string,
): Promise<T> {
  try {
    return await action;
  } catch (error) {
    if (!isAasError(error) || error.code !== 'NOT_FOUND') throw error;
    throw new AasError(
      'NOT_FOUND',
      error.message,
      { ...error.details, field, in: 'path', hint },
      { cause: error },
    );
  }
}

/** Error responses every authenticated route can give, for the OpenAPI document. */
export const READ_ERRORS = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  500: ErrorBodySchema,
  503: ErrorBodySchema,
} as const;
