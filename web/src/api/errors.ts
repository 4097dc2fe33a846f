/**
 * Server errors in words a person understands. The server answers `{error:{code,message,path}}`;
 * the code picks a translated sentence (`errors.codes.<code>`), the server's own message is kept
 * as the detail (and is the sentence itself for a code we have no translation for), and `path`
 * names the form field to mark.
 */
import type { FormInstance } from 'antd';
import type { TFunction } from 'i18next';
import i18n from '../i18n';
import { ApiError } from './client';

export interface ErrorText {
  /** One sentence, in the current language. */
  message: string;
  /** The server's own words, when they add something. */
  detail?: string;
  requestId?: string | null;
}

export function describeError(e: unknown, t: TFunction = i18n.t): ErrorText {
  if (e instanceof ApiError) {
    const key = `errors.codes.${e.code}`;
    const known = i18n.exists(key);
    let message: string;
    if (known) message = t(key as 'errors.codes.internal');
    else if (e.message && e.status < 500) message = e.message;
    else message = t(e.status === 0 ? 'errors.codes.network' : e.status >= 500 ? 'errors.server' : 'errors.request');
    const detail = known && e.message && e.message !== message && e.code !== 'network' ? e.message : undefined;
    return { message, detail, requestId: e.requestId };
  }
  if (e instanceof Error) return { message: t('errors.unexpected'), detail: e.message };
  return { message: t('errors.unexpected') };
}

/** The message and the detail in one line, for toasts. */
export function errorLine(e: unknown, t: TFunction = i18n.t): string {
  const d = describeError(e, t);
  return d.detail ? `${d.message} (${d.detail})` : d.message;
}

/**
 * Put a server error on the form field it names (`path` "amount" → field `amount`; "models.0" →
 * `models`). `fields` renames API paths to form field names where they differ. Returns true when a
 * field took the error, so the caller can skip the toast.
 */
export function applyFormError(form: FormInstance, e: unknown, fields: Record<string, string> = {}, t: TFunction = i18n.t): boolean {
  if (!(e instanceof ApiError) || !e.path) return false;
  const head = e.path.split('.')[0]!;
  const name = fields[e.path] ?? fields[head] ?? head;
  if (!form.getFieldInstance?.(name) && form.getFieldValue(name) === undefined && !(name in (form.getFieldsValue(true) as object))) return false;
  const { message, detail } = describeError(e, t);
  // The server's words name the exact problem ("must be a valid URL"); strip its "path: " prefix.
  const specific = detail ?? e.message;
  const text = specific ? specific.replace(new RegExp(`^${e.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\s*`), '') : message;
  form.setFields([{ name, errors: [e.code === 'validation_failed' ? `${t('errors.field_invalid')}: ${text}` : message + (specific && specific !== message ? ` (${text})` : '')] }]);
  form.scrollToField?.(name);
  return true;
}
