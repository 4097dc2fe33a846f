import { describe, expect, it } from 'vitest';
import { compileOriginAllowList, parseOriginRule, requestOrigin } from './origins.js';

describe('site allow-list', () => {
  const allowed = compileOriginAllowList(['app.example.com', '*.tools.example.org', 'https://admin.example.net:8443'])!;
  const ok = (origin?: string, referer?: string) => allowed(requestOrigin(origin, referer));

  it('matches a host on any scheme and port, subdomains of a wildcard, and an exact origin', () => {
    expect(ok('https://app.example.com')).toBe(true);
    expect(ok('http://app.example.com:3000')).toBe(true);
    expect(ok('https://a.tools.example.org')).toBe(true);
    expect(ok('https://admin.example.net:8443')).toBe(true);
  });

  it('refuses other sites, look-alikes, the bare domain of a wildcard, another port or scheme of an exact origin, and no origin at all', () => {
    expect(ok('https://evil.example.com')).toBe(false);
    expect(ok('https://app.example.com.evil.io')).toBe(false);
    expect(ok('https://tools.example.org')).toBe(false);
    expect(ok('https://eviltools.example.org')).toBe(false);
    expect(ok('https://admin.example.net')).toBe(false);
    expect(ok('http://admin.example.net:8443')).toBe(false);
    expect(ok(undefined, undefined)).toBe(false);
    expect(ok('null')).toBe(false);
  });

  it('uses the Referer when there is no Origin', () => {
    expect(ok(undefined, 'https://app.example.com/some/page?q=1')).toBe(true);
    expect(ok(undefined, 'https://evil.example.com/app.example.com')).toBe(false);
  });

  it('rejects rules that are not sites', () => {
    for (const bad of ['', 'ftp://x.example.com', 'https://x.example.com/path', 'exa mple.com', '*.', '*', 'http://user@x.com']) {
      expect(() => parseOriginRule(bad), bad).toThrow();
    }
    expect(compileOriginAllowList([])).toBeNull();
  });
});
