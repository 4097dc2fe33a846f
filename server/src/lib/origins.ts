/**
 * A key's site allow-list, checked against the Origin header (or, when a browser sent none, the
 * origin of the Referer). Rules: a host (`app.example.com`, any scheme and port), a wildcard for
 * its subdomains (`*.example.com`, not the bare domain), or a full origin
 * (`https://app.example.com:8443`). A call with neither header is refused: the list says where
 * the key may be used from, and a call that does not say cannot be shown to come from there.
 */
export type OriginRule = { kind: 'origin'; origin: string } | { kind: 'host'; host: string } | { kind: 'suffix'; suffix: string };

const HOST = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function parseOriginRule(raw: string): OriginRule {
  const r = raw.trim().toLowerCase();
  if (r.includes('://')) {
    let u: URL;
    try {
      u = new URL(r);
    } catch {
      throw new Error(`not a site: "${raw}"`);
    }
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.pathname !== '/' || u.search || u.hash || u.username) {
      throw new Error(`an origin is scheme://host[:port] only: "${raw}"`);
    }
    return { kind: 'origin', origin: u.origin };
  }
  if (r.startsWith('*.') && HOST.test(r.slice(2))) return { kind: 'suffix', suffix: r.slice(1) };
  if (HOST.test(r) || r === 'localhost') return { kind: 'host', host: r };
  throw new Error(`not a site (use example.com, *.example.com or https://example.com): "${raw}"`);
}

/** The origin a request says it comes from: Origin, else the Referer's origin; null when neither parses. */
export function requestOrigin(origin: string | undefined, referer: string | undefined): URL | null {
  for (const v of [origin, referer]) {
    if (!v || v === 'null') continue;
    try {
      const u = new URL(v);
      if (u.protocol === 'http:' || u.protocol === 'https:') return u;
    } catch {
      /* try the next one */
    }
  }
  return null;
}

export function compileOriginAllowList(rules: readonly string[]): ((origin: URL | null) => boolean) | null {
  if (rules.length === 0) return null;
  const parsed = rules.map(parseOriginRule);
  return (u) => {
    if (!u) return false;
    const host = u.hostname.toLowerCase();
    return parsed.some((p) => (p.kind === 'origin' ? p.origin === u.origin : p.kind === 'host' ? p.host === host : host.endsWith(p.suffix)));
  };
}
