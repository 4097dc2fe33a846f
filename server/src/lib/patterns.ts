/**
 * Model patterns: exact names, or `*` wildcards (`gpt-4o*`, `*`, `claude-*-sonnet`).
 * Compiled once per channel load; matching runs on the hot path.
 */
export type ModelMatcher = (model: string) => boolean;

export function compilePatterns(patterns: readonly string[]): ModelMatcher {
  const exact = new Set<string>();
  const wild: RegExp[] = [];
  for (const p of patterns) {
    if (p === '*') return () => true;
    if (p.includes('*')) {
      wild.push(new RegExp('^' + p.split('*').map(escapeRegExp).join('.*') + '$'));
    } else exact.add(p);
  }
  if (wild.length === 0) return (m) => exact.has(m);
  return (m) => exact.has(m) || wild.some((r) => r.test(m));
}

export const isWildcard = (p: string) => p.includes('*');

function escapeRegExp(s: string) {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
