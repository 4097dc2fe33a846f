import { describe, expect, it } from 'vitest';
import { compilePatterns, isWildcard } from './patterns.js';

describe('compilePatterns', () => {
  it('matches exact names only exactly', () => {
    const m = compilePatterns(['gpt-4o-mini', 'gpt-4.1']);
    expect(m('gpt-4o-mini')).toBe(true);
    expect(m('gpt-4.1')).toBe(true);
    expect(m('gpt-4o')).toBe(false);
    expect(m('gpt-4o-mini-2024')).toBe(false);
    expect(m('GPT-4O-MINI')).toBe(false);
    expect(m('')).toBe(false);
  });

  it('treats regex characters in names literally', () => {
    const m = compilePatterns(['gpt-4.1*', 'a+b', 'x(y)', 'q?']);
    expect(m('gpt-4.1-nano')).toBe(true);
    expect(m('gpt-4x1-nano')).toBe(false); // "." is not "any character"
    expect(m('a+b')).toBe(true);
    expect(m('aab')).toBe(false);
    expect(m('x(y)')).toBe(true);
    expect(m('xy')).toBe(false);
    expect(m('q?')).toBe(true);
    expect(m('q')).toBe(false);
  });

  it('supports * at the start, the middle, the end, and alone', () => {
    expect(compilePatterns(['*'])('anything/at all')).toBe(true);
    const m = compilePatterns(['gpt-4o*', '*-embed', 'claude-*-sonnet']);
    expect(m('gpt-4o')).toBe(true);
    expect(m('gpt-4o-mini')).toBe(true);
    expect(m('gpt-4')).toBe(false);
    expect(m('text-embed')).toBe(true);
    expect(m('text-embed-2')).toBe(false);
    expect(m('claude-3-5-sonnet')).toBe(true);
    expect(m('claude--sonnet')).toBe(true);
    expect(m('claude-3-opus')).toBe(false);
    expect(m('my-claude-3-sonnet')).toBe(false); // anchored
  });

  it('matches nothing when given nothing', () => {
    expect(compilePatterns([])('gpt-4o')).toBe(false);
  });

  it('knows a wildcard when it sees one', () => {
    expect(isWildcard('gpt-*')).toBe(true);
    expect(isWildcard('gpt-4o')).toBe(false);
  });
});
