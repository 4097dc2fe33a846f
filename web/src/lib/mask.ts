/**
 * Masking of sensitive fields in lists (DESIGN.md, Security): people are recognisable, addresses
 * are not harvestable from a screenshot. Detail views show the full value to operators.
 */

/** "alice@example.com" → "al***@example.com"; short local parts keep one character. */
export function maskEmail(email: string | null | undefined): string {
  if (!email) return '—';
  const at = email.lastIndexOf('@');
  if (at <= 0) return email.length <= 2 ? '*'.repeat(email.length) : email.slice(0, 1) + '***';
  const local = email.slice(0, at);
  const keep = local.length <= 3 ? 1 : 2;
  return `${local.slice(0, keep)}***${email.slice(at)}`;
}
