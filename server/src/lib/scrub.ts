/**
 * Upstream error text is shown to staff and stored (channel test results, auto-disable reasons),
 * but an upstream — or a server an operator pointed a channel at — may echo the credentials it
 * was sent. Anything key-shaped is replaced before the text leaves the relay.
 */
const KEY_SHAPED = [
  /\b(?:Bearer|Basic)\s+[^\s"',;]+/gi,
  /\b(?:sk|pk|rk|ak)-[A-Za-z0-9_-]{6,}/g,
  /\bAIza[A-Za-z0-9_-]{20,}/g,
  // long opaque tokens (hex, base64, JWT parts): no word in an error message looks like this
  /[A-Za-z0-9+/_=-]{32,}/g,
];

/** `x-api-key: …`, `"api_key":"…"`, `authorization=…`: the name stays, the value goes. */
const NAMED_SECRET = /\b(x-api-key|api[_-]?key|authorization)(["']?\s*[:=]\s*["']?)[^\s"',;]+/gi;

export const SHOWN_TEXT_LIMIT = 500;

/** `text` without anything key-shaped (and without the given secrets), at most `limit` characters. */
export function scrubSecrets(text: string, secrets: readonly string[] = [], limit = SHOWN_TEXT_LIMIT): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  out = out.replace(NAMED_SECRET, '$1$2[redacted]');
  for (const re of KEY_SHAPED) out = out.replace(re, '[redacted]');
  return out.length > limit ? `${out.slice(0, limit - 1)}…` : out;
}
