import { countTokens } from 'gpt-tokenizer';
import { describe, expect, it } from 'vitest';
import o200kModule from 'gpt-tokenizer/bpeRanks/o200k_base';
import { countCompletionTokens, countTextTokens, readRanks, TokenTally, tokenizerMemoryChars } from './tokenizer.js';

const ANY_TEXT = { disallowedSpecial: new Set<string>() };
const whole = (t: string) => countTokens(t, ANY_TEXT);

/** Random text over an alphabet chosen to sit on the pre-tokenizer's edges. */
function randomText(chars: number, seed: number): string {
  const parts = ['a', 'Z', 'word', 'Word', "'s", "'LL", ' ', '  ', '\t', '\n', '\r\n', '\n\n', ' \n', '/', '/\n', '.', ',', '!?', '1', '23', '4567', '中', '文字', '，', '。', 'é', 'e\u0301', '🌍', '𝐀', '<|endoftext|>', 'Ω', 'ß', '_', '-'];
  let s = '';
  let r = seed;
  while (s.length < chars) {
    r = (r * 1103515245 + 12345) & 0x7fffffff;
    s += parts[r % parts.length]!;
  }
  return s;
}

describe('the o200k table', () => {
  it('read from the data file is the table gpt-tokenizer ships as a module, entry by entry', () => {
    const ranks = readRanks('o200k_base');
    expect(ranks.length).toBe(o200kModule.length);
    let differ = 0;
    for (let i = 0; i < ranks.length; i++) {
      const a = ranks[i];
      const b = o200kModule[i];
      if (typeof a === 'string' ? a !== b : typeof b === 'string' || a === undefined || b === undefined || a.join() !== b.join()) differ++;
    }
    expect(differ).toBe(0);
    expect(ranks.filter((t) => typeof t !== 'string').length).toBeGreaterThan(100); // byte-pieces kept as bytes
  });
});

describe('counting long completions', () => {
  it('counts a text fed in any pieces exactly as the whole text', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const text = randomText(120_000, seed);
      const t = new TokenTally();
      let r = seed;
      for (let i = 0; i < text.length; ) {
        r = (r * 1103515245 + 12345) & 0x7fffffff;
        const n = 1 + (r % 3000);
        t.add(text.slice(i, i + n));
        i += n;
        expect(t.held).toBeLessThan(64 * 1024 + 3000);
      }
      expect(t.total(), `seed ${seed}`).toBe(whole(text));
    }
  });

  it('counts completions over 64K characters exactly, not by their length', () => {
    const prose = 'The relay keeps what it needs to count.\nNothing more, 中文也一样。\n'.repeat(4000);
    expect(prose.length).toBeGreaterThan(200_000);
    expect(countCompletionTokens(prose)).toBe(whole(prose));
    expect(countCompletionTokens(prose)).not.toBe(Math.ceil(prose.length / 2));
  });

  it('counts a text of one unbroken run quickly, within a token per 256 characters', () => {
    // gpt-tokenizer alone needs over a minute for 64K characters of one CJK letter
    const started = performance.now();
    expect(countCompletionTokens('中'.repeat(200_000))).toBe(200_000);
    expect(countTextTokens('中'.repeat(60_000))).toBe(60_000);
    expect(performance.now() - started).toBeLessThan(10_000);
    const run = 'x'.repeat(8_000);
    const exact = whole(run);
    expect(countCompletionTokens(run)).toBeGreaterThanOrEqual(exact);
    expect(countCompletionTokens(run)).toBeLessThanOrEqual(exact + 8_000 / 256 + 1);
  });

  it('counts text with long runs exactly around them', () => {
    const text = 'Hello world.\n' + '='.repeat(1000) + '\nThe end, 中文。 ' + 'abc '.repeat(100);
    const expected = whole('Hello world.\n') + countCompletionTokens('='.repeat(1000) + '\n') + whole('The end, 中文。 ' + 'abc '.repeat(100));
    expect(countCompletionTokens(text)).toBe(expected);
  });

  it('bounds its memo of long prompts by size', () => {
    for (let i = 0; i < 80; i++) countTextTokens(`${i} `.padEnd(60_000, 'ab '));
    const held = tokenizerMemoryChars();
    expect(held.memo).toBeGreaterThan(3_000_000);
    expect(held.memo).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(held.mergeCache).toBeLessThanOrEqual(2 * 1024 * 1024);
    // still remembered and still right
    const t = '79 '.padEnd(60_000, 'ab ');
    expect(countTextTokens(t)).toBe(whole(t));
  });
});
