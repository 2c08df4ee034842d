import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  AasError,
  type BoundIssue,
  boundWords,
  type Code,
  codeSummary,
  httpStatusFor,
  isAasError,
  isOpaqueCode,
  isSafeIntegerBound,
  type Logger,
  valueAt,
} from '../kernel/index.js';
import { parseJobSpec } from '../runner/index.js';
import type { ErrorBody } from './api-schemas.js';

/**
 * One error model for every non-2xx response: `{code, message, details}`, the code from the
 * closed table, the status from that code. Framework errors (bad JSON, a wrong content type, an
 * oversized body, a failed schema) are translated here; anything unexpected becomes INTERNAL
 * with a generic message, logged with its stack, which never reaches the client.
 */

export function errorBody(error: AasError): ErrorBody {
  return { code: error.code, message: error.message, details: { ...error.details } };
}

/** What a refused stream is told to wait before asking again (`Retry-After`). */
const STREAM_RETRY_AFTER_SEC = 5;

export function sendError(reply: FastifyReply, error: AasError): FastifyReply {
  // RFC 9110: a 401 names the scheme the client should use.
  if (error.code === 'UNAUTHENTICATED') reply.header('www-authenticate', 'Bearer realm="aas"');
  // RFC 6585: when to try again. Streams last; a few seconds is a guess, not a promise.
  if (error.code === 'TOO_MANY_STREAMS')
    reply.header('retry-after', String(STREAM_RETRY_AFTER_SEC));
  // RFC 9110: a 405 lists the methods the resource takes.
  if (error.code === 'METHOD_NOT_ALLOWED' && typeof error.details.allow === 'string')
    reply.header('allow', error.details.allow);
  return reply
    .code(httpStatusFor(error.code))
    .type('application/json; charset=utf-8')
    .send(errorBody(error));
}

/** Which code a framework error with this HTTP status becomes. */
function codeForFrameworkStatus(status: number): Code {
  switch (status) {
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'FORBIDDEN';
    case 404:
      return 'NOT_FOUND';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 415:
      return 'MEDIA_TYPE_UNSUPPORTED';
    case 503:
      return 'SERVER_UNAVAILABLE';
    default:
      return status >= 400 && status < 500 ? 'REQUEST_INVALID' : 'INTERNAL';
  }
}

/** The longest path parameter the router matches (an id is 28 characters, a name at most 64). */
export const MAX_PARAM_LENGTH = 100;

const FRAMEWORK_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'this endpoint accepts only application/json bodies',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'the body length does not match Content-Length',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'the body is empty although Content-Type is application/json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'the body is not valid JSON',
  FST_ERR_MAX_PARAM_LENGTH: `a path parameter is longer than ${MAX_PARAM_LENGTH} characters`,
};

interface ValidationIssue {
  readonly keyword: string;
  readonly instancePath: string;
  readonly message?: string;
  readonly params: Record<string, unknown>;
}

interface ValidationFailure {
  readonly validation: readonly ValidationIssue[];
  readonly validationContext?: string;
}

function isValidationFailure(error: unknown): error is ValidationFailure {
  return (
    typeof error === 'object' &&
    error !== null &&
    Array.isArray((error as { validation?: unknown }).validation)
  );
}

/** `/a/0/b` → `a.0.b`; an unknown key names itself; the whole input is `(body)` etc. */
function fieldOf(issue: ValidationIssue | undefined, part: string): string {
  if (issue === undefined) return `(${part})`;
  const path = issue.instancePath.split('/').filter((segment) => segment !== '');
  const keys = issue.params.keys;
  if (issue.keyword === 'unrecognized_keys' && Array.isArray(keys) && typeof keys[0] === 'string') {
    path.push(keys[0]);
  }
  return path.length > 0 ? path.join('.') : `(${part})`;
}

const PART_NAMES: Record<string, string> = {
  body: 'body',
  querystring: 'query',
  params: 'path',
  headers: 'headers',
};

function validationError(failure: ValidationFailure, request: FastifyRequest): AasError {
  const part = PART_NAMES[failure.validationContext ?? ''] ?? 'request';
  // An unknown key first: a misspelt field (`every` for `everySec`) explains the field that
  // then looks missing.
  const first =
    failure.validation.find((candidate) => candidate.keyword === 'unrecognized_keys') ??
    failure.validation[0];
  const issue =
    first !== undefined && isSafeIntegerBound(boundIssueOf(first))
      ? (failure.validation.find(
          (other) =>
            other.instancePath === first.instancePath &&
            other.keyword.startsWith('too_') &&
            !isSafeIntegerBound(boundIssueOf(other)),
        ) ?? first)
      : first;
  const field = fieldOf(issue, part);
  if (part === 'body' && request.routeOptions.config.jobBody === true) {
    // The job is validated by the runner's own parser, so the API and the CLI reject the same
    // job with the same message (including `requestedBy`, which comes from the identity). An
    // unknown key is named as the field rather than the whole job.
    try {
      parseJobSpec(request.body);
    } catch (error) {
      if (isAasError(error)) {
        const named = error.details.field !== undefined && error.details.field !== '(job)';
        return named
          ? error
          : new AasError(error.code, error.message, { ...error.details, field }, { cause: error });
      }
    }
    return new AasError('JOB_INVALID', messageOf(issue, request, part) ?? 'invalid job', {
      field,
      in: part,
    });
  }
  return new AasError('REQUEST_INVALID', messageOf(issue, request, part) ?? 'invalid value', {
    field,
    in: part,
  });
}

/** The issue's message, a bound put in words (see boundWords). */
function messageOf(
  issue: ValidationIssue | undefined,
  request: FastifyRequest,
  part: string,
): string | undefined {
  if (issue === undefined) return undefined;
  const input =
    part === 'body'
      ? request.body
      : part === 'query'
        ? request.query
        : part === 'path'
          ? request.params
          : undefined;
  const path = issue.instancePath.split('/').filter((segment) => segment !== '');
  const given = valueAt(input, path);
  if (issue.keyword === 'unrecognized_keys' && Array.isArray(issue.params.keys)) {
    const keys = issue.params.keys.map((key) => JSON.stringify(key)).join(', ');
    return `unknown field${issue.params.keys.length === 1 ? '' : 's'} ${keys}`;
  }
  if (issue.keyword === 'invalid_type' && given === undefined && path.length > 0) {
    return `${path.at(-1)} is required`;
  }
  return boundWords(boundIssueOf(issue), given) ?? issue.message;
}

function boundIssueOf(issue: ValidationIssue): BoundIssue {
  return {
    ...issue.params,
    code: issue.keyword,
    ...(issue.message === undefined ? {} : { message: issue.message }),
  };
}

/** Translate anything a route, hook or the framework threw into the API's error. */
export function toApiError(error: unknown, request: FastifyRequest): AasError {
  if (isAasError(error)) {
    // An opaque code's message may name hosts, paths or SQL: the client gets the code's summary
    // and a request id to quote; the log keeps the original.
    if (!isOpaqueCode(error.code)) return error;
    return new AasError(error.code, codeSummary(error.code), { requestId: request.id });
  }
  if (isValidationFailure(error)) return validationError(error, request);
  const status = (error as Partial<FastifyError> | null)?.statusCode;
  const fastifyCode = (error as Partial<FastifyError> | null)?.code;
  if (fastifyCode === 'FST_ERR_CTP_BODY_TOO_LARGE') return bodyTooLarge(request);
  if (fastifyCode === 'FST_ERR_BAD_URL') {
    return new AasError(
      'REQUEST_INVALID',
      'the URL is malformed: a percent-escape in it does not decode to UTF-8 text',
      {
        field: '(url)',
        hint: 'percent-encode the UTF-8 bytes of each character (encodeURIComponent); a lone % is %25',
      },
    );
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = codeForFrameworkStatus(status);
    const message =
      (typeof fastifyCode === 'string' ? FRAMEWORK_MESSAGES[fastifyCode] : undefined) ??
      'the request is malformed';
    return new AasError(code, message, {});
  }
  return new AasError('INTERNAL', codeSummary('INTERNAL'), { requestId: request.id });
}

function bodyTooLarge(request: FastifyRequest): AasError {
  const limit = request.routeOptions.bodyLimit;
  const limitText = limit === undefined ? 'the size' : `the ${limit} bytes`;
  return new AasError(
    'PAYLOAD_TOO_LARGE',
    `the request body is larger than ${limitText} this endpoint accepts`,
    {
      ...(limit === undefined ? {} : { limitBytes: limit }),
      hint:
        request.routeOptions.config.jobBody === true
          ? 'a job is small: put long instructions or files in the repository and name them in task'
          : 'send a smaller body',
    },
  );
}

/**
 * A body the JSON parser refused, told where when the parser says (V8 reports an offset for
 * most mistakes, not for an unexpected token); with line and column, which an editor shows.
 */
export function invalidJson(text: string): AasError {
  let reason: string;
  try {
    JSON.parse(text);
    // It parses: Fastify's parser refused a __proto__ or constructor.prototype key.
    return new AasError(
      'REQUEST_INVALID',
      'the body has a __proto__ or constructor key, which this server refuses',
      { field: '(body)', in: 'body', hint: 'remove the key; no route takes one' },
    );
  } catch (error) {
    reason = error instanceof Error ? error.message : String(error);
  }
  const offset = /at position (\d+)/.exec(reason)?.[1];
  // V8 quotes the body itself in some messages ("…", "{…}" is not valid JSON): not repeated.
  const what = reason
    .replace(/, ".*" is not valid JSON$/s, '')
    .replace(/ in JSON at position \d+.*$/s, '')
    .replace(/ after JSON at position \d+.*$/s, ' after the JSON value')
    .replace(/^Unexpected end of JSON input$/, 'the body ends before the JSON value does');
  const said = what.charAt(0).toLowerCase() + what.slice(1);
  if (offset === undefined) {
    return new AasError('REQUEST_INVALID', `the body is not valid JSON: ${said}`, {
      field: '(body)',
      in: 'body',
    });
  }
  const at = Number(offset);
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  const column = at - before.lastIndexOf('\n');
  return new AasError(
    'REQUEST_INVALID',
    `the body is not valid JSON: ${said} at line ${line}, column ${column}`,
    { field: '(body)', in: 'body', line, column, offset: at },
  );
}

/**
 * A path parameter over MAX_PARAM_LENGTH: the router matched no route, so which parameter it
 * was is found by matching the path again with the long segments shortened.
 */
export function paramTooLong(
  router: { findRoute(route: { method: (typeof ROUTE_METHODS)[number]; url: string }): unknown },
  method: string,
  url: string,
): AasError {
  const path = url.split('?')[0] ?? url;
  const marker = 'aas-long-parameter';
  const segments = path.split('/');
  const longIndex = segments.findIndex((segment) => segment.length > MAX_PARAM_LENGTH);
  const given = segments[longIndex]?.length;
  const shortened = segments
    .map((segment, index) => (index === longIndex ? marker : segment))
    .join('/');
  const known = ROUTE_METHODS.find((candidate) => candidate === method);
  const found = known === undefined ? null : router.findRoute({ method: known, url: shortened });
  const params =
    typeof found === 'object' && found !== null && 'params' in found
      ? (found as { params: Record<string, unknown> }).params
      : {};
  const name = Object.entries(params).find(([, value]) => value === marker)?.[0];
  const subject = name === undefined ? 'a path parameter' : `path parameter ${name}`;
  return new AasError(
    'REQUEST_INVALID',
    `${subject} is ${given ?? 'over'} characters long; the limit is ${MAX_PARAM_LENGTH}`,
    {
      field: name ?? '(path)',
      in: 'path',
      limit: MAX_PARAM_LENGTH,
      hint: 'ids and names are far shorter: give the id or name as the API lists it',
    },
  );
}

/** The reply for an error: logged at error level when it is ours to fix. */
export function replyWithError(
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  log: Logger,
): FastifyReply {
  const apiError = toApiError(error, request);
  const status = httpStatusFor(apiError.code);
  if (apiError.code === 'SERVER_UNAVAILABLE') {
    // A server that is closing refuses what comes in, as it should: news, not a failure.
    log.info(
      { requestId: request.id, method: request.method, route: request.routeOptions.url },
      `request refused: ${apiError.message}`,
    );
  } else if (status >= 500) {
    log.error(
      {
        err: error,
        requestId: request.id,
        method: request.method,
        route: request.routeOptions.url,
        code: apiError.code,
      },
      'request failed',
    );
  }
  return sendError(reply, apiError);
}

/** Node's limit on the request line and headers together (`--max-http-header-size`). */
const HEADER_LIMIT_BYTES = maxHeaderSize;

/**
 * What a request the HTTP parser (or the server's request timeout) refused is told, from
 * Node's error code: the parser stops at the first problem, so the code says which it was.
 */
export function parserError(code: string | undefined, requestTimeoutMs: number): AasError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new AasError(
        'HEADERS_TOO_LARGE',
        `the request line and headers are larger than the ${HEADER_LIMIT_BYTES} bytes this server accepts`,
        {
          limitBytes: HEADER_LIMIT_BYTES,
          hint: 'shorten the URL (fewer or shorter query parameters) or the headers (a large cookie?)',
        },
      );
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new AasError(
        'REQUEST_TIMEOUT',
        `the request was not received in full within ${Math.round(requestTimeoutMs / 1000)} s`,
        {
          limitSec: Math.round(requestTimeoutMs / 1000),
          hint: 'send the headers and the whole body (matching Content-Length) without pausing; retry the request',
        },
      );
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return new AasError('REQUEST_INVALID', 'the Content-Length header is invalid', {
        field: 'content-length',
        in: 'headers',
        hint: 'send one Content-Length with the body size in bytes, or chunked encoding without Content-Length',
      });
    case 'HPE_INVALID_CHUNK_SIZE':
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return new AasError('REQUEST_INVALID', 'the chunked body is malformed', {
        field: 'transfer-encoding',
        in: 'headers',
        hint: 'each chunk is its size in hexadecimal, CRLF, the bytes, CRLF; or send Content-Length instead',
      });
    case 'HPE_INVALID_URL':
    case 'HPE_INVALID_PATH':
      return new AasError('REQUEST_INVALID', 'the URL contains characters HTTP does not allow', {
        field: '(url)',
        hint: 'percent-encode spaces, control characters and non-ASCII characters in the path and query (encodeURIComponent)',
      });
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'HPE_INVALID_TOKEN':
      return new AasError(
        'REQUEST_INVALID',
        'a header name or value contains characters HTTP does not allow',
        {
          field: '(headers)',
          in: 'headers',
          hint: 'header values are ASCII without control characters: percent-encode or base64 anything else',
        },
      );
    case 'HPE_INVALID_METHOD':
      return new AasError('REQUEST_INVALID', 'the request method is not a valid HTTP method', {
        hint: 'the routes and their methods are listed at /openapi.json',
      });
    default:
      return new AasError('REQUEST_INVALID', 'the HTTP request could not be parsed', {
        ...(code === undefined ? {} : { parserCode: code }),
        hint: 'send an HTTP/1.1 request; the routes are listed at /openapi.json',
      });
  }
}

/**
 * A connection the HTTP parser rejected, or whose request did not arrive in time: answer in
 * the same error model, then close (the rest of the connection cannot be read as HTTP).
 */
export function clientErrorHandlerFor(
  requestTimeoutMs: number,
): (error: Error & { code?: string }, socket: Socket) => void {
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    if (socket.writable) {
      const apiError = parserError(error.code, requestTimeoutMs);
      const status = httpStatusFor(apiError.code);
      const body = JSON.stringify(errorBody(apiError));
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}

export function notFound(method: string, url: string): AasError {
  const path = url.split('?')[0] ?? url;
  return new AasError('NOT_FOUND', `no route ${method} ${path.slice(0, 200)}`, {
    hint: 'the routes are listed at /openapi.json',
  });
}

/** Methods a route may have; HEAD comes with every GET. */
const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/**
 * What an unmatched request gets: 405 with the methods the path takes (RFC 9110 §15.5.6: the
 * Allow header lists them) when some other method has a route there, 404 otherwise.
 */
export function unmatchedRoute(
  router: {
    findRoute(route: { method: (typeof ROUTE_METHODS)[number]; url: string }): unknown;
  },
  method: string,
  url: string,
): AasError {
  const path = url.split('?')[0] ?? url;
  const allowed = ROUTE_METHODS.filter(
    (other) => other !== method && router.findRoute({ method: other, url: path }) !== null,
  );
  if (allowed.length === 0) return notFound(method, url);
  return new AasError(
    'METHOD_NOT_ALLOWED',
    `${path.slice(0, 200)} takes ${allowed.join(', ')}, not ${method.slice(0, 20)}`,
    { allow: allowed.join(', '), hint: 'the routes are listed at /openapi.json' },
  );
}
