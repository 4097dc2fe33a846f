/**
 * The one way the SPA talks to the server: an `openapi-fetch` client typed by `schema.d.ts`, which
 * `npm run gen:api` generates from the server's route schemas (the same document as
 * `/api/openapi.json`). A path, a query parameter or a body field the server does not have is a
 * compile error here, so the SPA cannot drift from the API silently.
 *
 * Use `call(api.GET(...))`: it returns the data or throws an `ApiError` with the server's error
 * code, message and field path (`{error:{code,message,path}}`), which `describeError` turns into
 * words for people.
 */
import createClient from 'openapi-fetch';
import i18n from '../i18n';
import type { paths } from './schema';

export type { paths };

export const api = createClient<paths>({
  baseUrl: typeof window === 'undefined' ? 'http://localhost' : window.location.origin,
  credentials: 'include',
});

/** An error from the API (or the network), normalised to the server's error shape. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    /** HTTP status; 0 when the request never got an answer. */
    readonly status: number,
    /** The server's error code (`validation_failed`, `forbidden`, …), or `network` / `http_<status>`. */
    readonly code: string,
    message: string,
    /** Dotted path of the offending field (`amount`, `models.0`), when the server names one. */
    readonly path: string | null = null,
    readonly details: unknown = undefined,
    readonly requestId: string | null = null,
  ) {
    super(message);
  }
}

type Listener = (e: ApiError) => void;
const sessionListeners = new Set<Listener>();

/** Called whenever the server says the session is gone, so the app can send the person to sign in. */
export function onSessionLost(fn: Listener): () => void {
  sessionListeners.add(fn);
  return () => sessionListeners.delete(fn);
}

const twoFactorListeners = new Set<Listener>();

/**
 * Called when the back office answers 403 two_factor_required (require_2fa_for_staff was turned on
 * while this person was signed in), so the app can read /api/me again and send them to enrol.
 */
export function onTwoFactorRequired(fn: Listener): () => void {
  twoFactorListeners.add(fn);
  return () => twoFactorListeners.delete(fn);
}

/** Build an ApiError from a response and its parsed body (our shape, better-auth's, or none). */
export function toApiError(response: Response, body: unknown): ApiError {
  const requestId = response.headers.get('x-request-id');
  const b = body as { error?: { code?: string; message?: string; path?: string | null; details?: unknown }; code?: string; message?: string } | null;
  if (b && typeof b === 'object' && b.error && typeof b.error === 'object') {
    return new ApiError(response.status, b.error.code ?? `http_${response.status}`, b.error.message ?? response.statusText, b.error.path ?? null, b.error.details, requestId);
  }
  // better-auth answers `{ code: 'INVALID_EMAIL_OR_PASSWORD', message }`.
  if (b && typeof b === 'object' && typeof b.code === 'string') {
    return new ApiError(response.status, b.code.toLowerCase(), b.message ?? response.statusText, null, undefined, requestId);
  }
  return new ApiError(response.status, `http_${response.status}`, typeof body === 'string' && body ? body.slice(0, 300) : response.statusText, null, undefined, requestId);
}

interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** Await an openapi-fetch call: its data, or an ApiError thrown. */
export async function call<T>(request: Promise<FetchResult<T>>): Promise<T> {
  let r: FetchResult<T>;
  try {
    r = await request;
  } catch (e) {
    throw new ApiError(0, 'network', e instanceof Error ? e.message : String(e));
  }
  if (r.response.ok && r.error === undefined) return r.data as T;
  const err = toApiError(r.response, r.error);
  if (err.status === 401 && err.code === 'session_required') for (const fn of sessionListeners) fn(err);
  if (err.status === 403 && err.code === 'two_factor_required') for (const fn of twoFactorListeners) fn(err);
  throw err;
}

export type AuthPath =
  | '/api/auth/sign-in/email'
  | '/api/auth/sign-up/email'
  | '/api/auth/sign-out'
  | '/api/auth/sign-in/social'
  | '/api/auth/change-password'
  | '/api/auth/two-factor/enable'
  | '/api/auth/two-factor/verify-totp'
  | '/api/auth/two-factor/verify-backup-code'
  | '/api/auth/two-factor/generate-backup-codes'
  | '/api/auth/two-factor/disable'
  | '/api/auth/request-password-reset'
  | '/api/auth/reset-password'
  | '/api/auth/send-verification-email';

/**
 * better-auth's endpoints are not in the OpenAPI document; a small typed helper for them. The
 * console's language goes along (`x-tollgate-lang`): mails the request causes are written in it.
 */
export async function authPost<T = unknown>(path: AuthPath, body: object): Promise<T> {
  return authFetch<T>(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-tollgate-lang': i18n.language }, body: JSON.stringify(body) });
}

/** better-auth's GET endpoints (verify-email), as `authPost`. */
export async function authGet<T = unknown>(path: '/api/auth/verify-email', query: Record<string, string>): Promise<T> {
  return authFetch<T>(`${path}?${new URLSearchParams(query).toString()}`, { method: 'GET', headers: { 'x-tollgate-lang': i18n.language } });
}

async function authFetch<T>(path: string, init: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { credentials: 'include', ...init });
  } catch (e) {
    throw new ApiError(0, 'network', e instanceof Error ? e.message : String(e));
  }
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  if (!res.ok) throw toApiError(res, parsed);
  return parsed as T;
}

/** A same-origin URL with a query string, for downloads the browser streams to disk (CSV exports). */
export function urlWithQuery(path: string, query: Record<string, string | number | boolean | null | undefined>): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

/** A CSV export in the viewer's time zone and language: times with their offset, headers they can read. */
export function csvFormat(language: string): { tz?: string; lang: 'zh-CN' | 'en-US' } {
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return { tz: tz || undefined, lang: language.startsWith('zh') ? 'zh-CN' : 'en-US' };
}
