import { describe, expect, it } from 'vitest';

// "All text in i18n catalogs": no words typed straight into a component. Names that are the same
// in every language (the product, code languages, formats) are allowed.
const SOURCES = import.meta.glob<string>('../**/*.tsx', { query: '?raw', import: 'default', eager: true });
const ALLOWED = new Set(['Tollgate', 'ID', 'curl', 'Python', 'Node.js', 'default', 'req_…', 'sk-…', 'https://api.openai.com/v1', 'DELETE']);

const WORD = /[A-Za-z\u4e00-\u9fff]{2,}/;
// Text between a JSX tag and the next one: <Button>Save</Button>.
const JSX_TEXT = /<[A-Za-z][\w.]*(?:\s[^<>]*[^<>/])?>([^<>{}\n;=()]+)<\/?[A-Za-z]/g;
// Props people read: title="…", placeholder="…", and the same in objects: label: '…'.
const PROP_TEXT = /\b(?:title|label|placeholder|message|description|okText|cancelText|tooltip|extra|subTitle|content|aria-label|text)(?:=|:\s*)(["'])([^"'\n]*)\1/g;

describe('components', () => {
  it('take every word people read from the i18n catalogs', () => {
    const found: string[] = [];
    expect(Object.keys(SOURCES).length).toBeGreaterThan(20);
    for (const [file, src] of Object.entries(SOURCES)) {
      for (const m of src.matchAll(JSX_TEXT)) {
        const text = m[1]!.trim();
        if (text && WORD.test(text) && !ALLOWED.has(text)) found.push(`${file}: ${text}`);
      }
      for (const m of src.matchAll(PROP_TEXT)) {
        const text = m[2]!.trim();
        if (text && WORD.test(text) && !ALLOWED.has(text)) found.push(`${file}: ${text}`);
      }
    }
    expect(found).toEqual([]);
  });
});
