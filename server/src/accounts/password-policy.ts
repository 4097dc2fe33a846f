import { dictionary } from '@zxcvbn-ts/language-common';
import { AppError } from '../errors.js';

/** The shortest password a person may choose (sign-up, admin create, change, reset). */
export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 128;

let common: Set<string> | null = null;
/** zxcvbn-ts's list of ~49,000 passwords seen most often in leaks (lower case), loaded on first use. */
function commonPasswords(): Set<string> {
  common ??= new Set((dictionary['passwords-common'] as string[]).map((p) => p.toLowerCase()));
  return common;
}

export type PasswordReason = 'too_short' | 'too_long' | 'contains_email' | 'common';

/** Why a password is refused (a reason the console translates, and the sentence), or null. `email` is the account's address. */
export function passwordProblem(password: string, email: string): { reason: PasswordReason; message: string } | null {
  if (password.length < PASSWORD_MIN_LENGTH) return { reason: 'too_short', message: `must be at least ${PASSWORD_MIN_LENGTH} characters` };
  if (password.length > PASSWORD_MAX_LENGTH) return { reason: 'too_long', message: `must be at most ${PASSWORD_MAX_LENGTH} characters` };
  const pw = password.toLowerCase();
  const address = email.trim().toLowerCase();
  const local = address.split('@')[0] ?? '';
  if (pw === address || (local.length >= 4 && pw.includes(local))) return { reason: 'contains_email', message: 'must not be or contain your email address' };
  if (commonPasswords().has(pw)) return { reason: 'common', message: 'is one of the most common passwords; choose another' };
  return null;
}

/** Throws 400 validation_failed with path `password` (details.reason) when the policy refuses it. */
export function checkPassword(password: string, email: string, path = 'password'): void {
  const problem = passwordProblem(password, email);
  if (problem) throw new AppError('validation_failed', `${path}: ${problem.message}`, { path, details: { reason: problem.reason } });
}
