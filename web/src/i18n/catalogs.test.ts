import { describe, expect, it } from 'vitest';
import enUS from './locales/en-US';
import zhCN from './locales/zh-CN';
import { ERROR_STATUS } from '../../../server/src/errors';
import { pickLanguage } from './pick';

type Tree = { [k: string]: string | Tree };

function flatten(t: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(t)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'string') out.set(key, v);
    else for (const [kk, vv] of flatten(v, key)) out.set(kk, vv);
  }
  return out;
}

const vars = (s: string) => [...s.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]).sort();

describe('i18n catalogs', () => {
  const zh = flatten(zhCN as unknown as Tree);
  const en = flatten(enUS as unknown as Tree);

  it('have exactly the same keys in zh-CN and en-US', () => {
    expect([...zh.keys()].filter((k) => !en.has(k)), 'missing in en-US').toEqual([]);
    expect([...en.keys()].filter((k) => !zh.has(k)), 'missing in zh-CN').toEqual([]);
  });

  it('have no empty messages', () => {
    expect([...zh].filter(([, v]) => !v.trim()).map(([k]) => k)).toEqual([]);
    expect([...en].filter(([, v]) => !v.trim()).map(([k]) => k)).toEqual([]);
  });

  it('use the same {{variables}} in both languages', () => {
    const differ = [...zh.keys()].filter((k) => JSON.stringify(vars(zh.get(k)!)) !== JSON.stringify(vars(en.get(k) ?? '')));
    expect(differ).toEqual([]);
  });

  it('have Chinese in every zh-CN sentence that has words', () => {
    // Catches an English string pasted into the Chinese catalog (names like "Tokens" are allowed).
    const allowed = new Set(['Base URL', 'Tokens', 'Node.js']);
    const english = [...zh].filter(([, v]) => /[a-z]{4,}/i.test(v) && !/[\u4e00-\u9fff]/.test(v) && !allowed.has(v)).map(([k]) => k);
    expect(english).toEqual([]);
  });

  it('has a translated message for every server error code', () => {
    // Straight from the server's one code → status table, so a new code cannot ship untranslated.
    const codes = Object.keys(ERROR_STATUS);
    expect(codes.length).toBeGreaterThan(20);
    expect(codes.filter((c) => !zh.has(`errors.codes.${c}`))).toEqual([]);
  });
});

describe('language detection', () => {
  it('prefers the stored choice, then the first supported browser language, else English', () => {
    expect(pickLanguage('en-US', ['zh-CN'])).toBe('en-US');
    expect(pickLanguage(null, ['zh-TW', 'en'])).toBe('zh-CN');
    expect(pickLanguage(null, ['en-GB', 'zh-CN'])).toBe('en-US');
    expect(pickLanguage(null, ['fr-FR', 'zh'])).toBe('zh-CN');
    expect(pickLanguage(null, ['fr-FR'])).toBe('en-US');
    expect(pickLanguage('xx', [])).toBe('en-US');
  });
});
