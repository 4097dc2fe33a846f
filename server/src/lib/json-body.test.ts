import { describe, expect, it } from 'vitest';
import { jsonNestedDeeperThan, MAX_JSON_DEPTH, parseJsonBody } from './json-body.js';

describe('jsonNestedDeeperThan', () => {
  const nest = (n: number) => '['.repeat(n) + ']'.repeat(n);
  it('counts arrays and objects, not brackets inside strings', () => {
    expect(jsonNestedDeeperThan(nest(MAX_JSON_DEPTH))).toBe(false);
    expect(jsonNestedDeeperThan(nest(MAX_JSON_DEPTH + 1))).toBe(true);
    expect(jsonNestedDeeperThan(`{"a":{"b":[1,{"c":2}]}}`, 4)).toBe(false);
    expect(jsonNestedDeeperThan(`{"a":{"b":[1,{"c":2}]}}`, 3)).toBe(true);
    expect(jsonNestedDeeperThan(JSON.stringify({ s: '[[[[[[{{{{\\"[[[' }), 1)).toBe(false);
    expect(jsonNestedDeeperThan(`["\\\\", [[]]]`, 2)).toBe(true);
  });
  it('parseJsonBody refuses deep nesting with a 400 and parses the rest', () => {
    expect(() => parseJsonBody(`{"prompt":${nest(20_000)}}`)).toThrow(expect.objectContaining({ code: 'invalid_json', status: 400 }));
    expect(() => parseJsonBody('{"a":')).toThrow(expect.objectContaining({ code: 'invalid_json' }));
    expect(parseJsonBody('{"a":[1,2]}')).toEqual({ a: [1, 2] });
  });
});
