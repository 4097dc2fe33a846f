import type { z } from 'zod';
import { AppError } from '../errors.js';

/** Validate one value with a zod schema, turning a failure into an AppError on that field. */
export function parseOr<T>(schema: z.ZodType<T>, value: unknown, path: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    const sub = issue && issue.path.length > 0 ? `${path}.${issue.path.join('.')}` : path;
    throw new AppError('validation_failed', `${sub}: ${issue?.message ?? 'invalid'}`, { path: sub });
  }
  return r.data;
}
