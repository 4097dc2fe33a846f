import type { FastifyError } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError } from '../errors.js';
import { isConnectionError } from '../db/index.js';

/** Turn anything thrown while handling a request into the one application error type. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const issues = err.validation.map((v) => {
      const where = (v.instancePath || '').replace(/^\//, '').replaceAll('/', '.');
      const ctx = (err as FastifyError).validationContext ?? 'body';
      const path = where ? where : ctx;
      return { path, message: v.message ?? 'invalid' };
    });
    const first = issues[0]!;
    return new AppError('validation_failed', `${first.path}: ${first.message}`, { path: first.path, details: issues });
  }
  const fe = err as FastifyError & { statusCode?: number };
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_JSON':
    case 'FST_ERR_CTP_INVALID_JSON_BODY': // Fastify 5's name for it
      return new AppError('invalid_json', 'We could not parse the JSON body of your request. Send a valid JSON object.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('bad_request', 'The request body is empty; send a JSON object.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large', 'The request body is too large.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_media_type', 'Send the body as application/json.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('bad_request', 'The Content-Length header does not match the body.');
  }
  if (isConnectionError(err)) {
    return new AppError('database_unavailable', 'The service cannot reach its database right now. Try again in a few seconds.', {
      cause: err,
      headers: { 'retry-after': '2' },
    });
  }
  if (err instanceof SyntaxError) return new AppError('invalid_json', 'We could not parse the JSON body of your request.');
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new AppError(fe.statusCode === 404 ? 'not_found' : fe.statusCode === 429 ? 'rate_limited' : 'bad_request', fe.message, {
      status: fe.statusCode,
    });
  }
  return new AppError('internal', 'Something went wrong on our side. The error has been logged.', { cause: err });
}

const OPENAI_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'insufficient_quota',
  403: 'permission_error',
  404: 'invalid_request_error',
  409: 'invalid_request_error',
  413: 'invalid_request_error',
  415: 'invalid_request_error',
  429: 'rate_limit_error',
};

/** `{"error":{"message","type","param","code"}}`, as the OpenAI API and its SDKs expect. */
export function openaiErrorBody(e: AppError) {
  return {
    error: {
      message: e.message,
      type: OPENAI_TYPES[e.status] ?? (e.status >= 500 ? (e.code.startsWith('upstream') ? 'upstream_error' : 'api_error') : 'invalid_request_error'),
      param: e.path ?? null,
      code: e.code,
    },
  };
}

/** `{"error":{"code","message","path","details","permission"}}` for the /api routes. */
export function apiErrorBody(e: AppError) {
  return {
    error: {
      code: e.code,
      message: e.message,
      path: e.path ?? null,
      ...(e.details !== undefined ? { details: e.details } : {}),
      ...(e.permission !== undefined ? { permission: e.permission } : {}),
    },
  };
}
