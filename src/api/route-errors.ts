import { ErrorBodySchema } from './api-schemas.js';

/** Error responses every authenticated route can give, for the OpenAPI document. */
export const READ_ERRORS = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  500: ErrorBodySchema,
  503: ErrorBodySchema,
} as const;
