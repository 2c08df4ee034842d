export { assertNever } from './assert-never.js';
export { type BoundIssue, boundWords, isSafeIntegerBound } from './bound-words.js';
export { canonicalJson } from './canonical-json.js';
export { type Clock, ManualClock, systemClock } from './clock.js';
export { closestName } from './closest-name.js';
export {
  ALL_CODES,
  CODES,
  type Code,
  ExitCode,
  exitCodeFor,
  httpStatusFor,
  isCode,
} from './codes.js';
export {
  AasError,
  codeSummary,
  type ErrorDetails,
  isAasError,
  isOpaqueCode,
  normaliseError,
  shareableMessage,
} from './errors.js';
export { computeEventHash, GENESIS_HASH, type HashedEventFields, sha256Hex } from './hash.js';
export { IdPrefix, isValidId, newId } from './ids.js';
export { type Logger, silentLogger } from './logger.js';
export { isWithin, realOrResolved } from './path-within.js';
export {
  type UnclosedQuote,
  unclosedQuoteStart,
  yamlErrorMessage,
  yamlFailureMessage,
} from './unclosed-quote.js';
export { shownValue, valueAt } from './value-at.js';
export { withFieldPosition } from './with-field-position.js';
export {
  fieldPositionInYaml,
  locateInYaml,
  positionAt,
  type TextPosition,
} from './yaml-position.js';
