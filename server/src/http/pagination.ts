import { z } from 'zod';

export const PageQuery = z.object({
  page: z.coerce.number().int().min(1).default(1),
  page_size: z.coerce.number().int().min(1).max(500).default(20),
});

export const IdParam = z.object({ id: z.coerce.number().int().positive() });

/** The shape of every paged list. */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), total: z.number().int(), page: z.number().int(), page_size: z.number().int() });
}

export const ErrorResponse = z.object({
  error: z.object({ code: z.string(), message: z.string(), path: z.string().nullable(), details: z.unknown().optional() }),
});

/** Decimal USD ("12.5", "-3") as given by a person, or micro-units as given by a program. */
export const UsdAmount = z.union([z.string().regex(/^[+-]?\d+(\.\d{1,6})?$/, 'a decimal amount with at most 6 places, e.g. 12.50'), z.number()]);
