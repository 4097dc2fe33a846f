/**
 * One application error type with a code; codes map to HTTP statuses in exactly one table.
 * Handlers never build error bodies: the gateway renders these in OpenAI's shape, the /api
 * routes as `{ error: { code, message, path, details } }`.
 */
export const ERROR_STATUS = {
  // request shape
  bad_request: 400,
  invalid_json: 400,
  validation_failed: 400,
  invite_invalid: 400,
  unsupported_media_type: 415,
  payload_too_large: 413,
  // who is calling
  unauthenticated: 401,
  invalid_api_key: 401,
  key_disabled: 401,
  key_expired: 401,
  key_locked: 401,
  key_rotated: 401,
  session_required: 401,
  invalid_credentials: 401,
  forbidden: 403,
  model_not_allowed: 403,
  ip_not_allowed: 403,
  origin_not_allowed: 403,
  account_disabled: 403,
  account_frozen: 403,
  registration_closed: 403,
  two_factor_required: 403,
  reauth_required: 403,
  cross_site_request: 403,
  // money
  insufficient_funds: 402,
  key_quota_exceeded: 402,
  account_in_arrears: 402,
  // lookups and state
  not_found: 404,
  model_not_found: 404,
  conflict: 409,
  already_exists: 409,
  idempotency_conflict: 409,
  key_revoked: 409,
  own_account: 409,
  // load
  rate_limited: 429,
  account_locked: 429,
  // upstream
  upstream_error: 502,
  upstream_unavailable: 503,
  no_channel: 503,
  upstream_timeout: 504,
  shutting_down: 503,
  database_unavailable: 503,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface AppErrorOptions {
  /** Dotted path of the offending field (`messages.0.content`), shown as `param` in OpenAI errors. */
  path?: string;
  details?: unknown;
  cause?: unknown;
  /** Override the table status (e.g. pass an upstream's 4xx straight through). */
  status?: number;
  headers?: Record<string, string>;
  /** On `forbidden`: the permission the caller lacks (`user:edit`), so a client can say which. */
  permission?: string;
}

export class AppError extends Error {
  override name = 'AppError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly path: string | undefined;
  readonly details: unknown;
  readonly headers: Record<string, string> | undefined;
  readonly permission: string | undefined;

  constructor(code: ErrorCode, message: string, opts: AppErrorOptions = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.code = code;
    this.status = opts.status ?? ERROR_STATUS[code];
    this.path = opts.path;
    this.details = opts.details;
    this.headers = opts.headers;
    this.permission = opts.permission;
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;
