import { describe, expect, it } from 'vitest';
import { scrubSecrets } from './scrub.js';

describe('scrubSecrets', () => {
  it('removes key-shaped strings and the given secrets, keeps the words', () => {
    const text = 'Incorrect API key provided: sk-proj-abcDEF123456. Header was Bearer xyz.abc; token AIzaSyA1234567890abcdefghijklmnop and 0123456789abcdef0123456789abcdef01 mine=hunter2hunter2';
    const out = scrubSecrets(text, ['hunter2hunter2']);
    expect(out).toBe('Incorrect API key provided: [redacted]. Header was [redacted]; token [redacted] and [redacted] mine=[redacted]');
  });
  it('keeps the name of a header or field and hides its value', () => {
    expect(scrubSecrets('bad x-api-key: abc123def and {"api_key":"zzz-1"} authorization=Token:qq')).toBe(
      'bad x-api-key: [redacted] and {"api_key":"[redacted]"} authorization=[redacted]',
    );
  });
  it('caps the length', () => {
    const out = scrubSecrets('word '.repeat(1000));
    expect(out.length).toBe(500);
    expect(out.endsWith('…')).toBe(true);
  });
});
