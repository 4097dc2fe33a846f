import { randomBytes, randomUUID } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Uniform base62 string: bytes ≥ 248 are rejected so every character is equally likely. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b >= 248) continue;
      out += BASE62[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

export const API_KEY_PATTERN = /^sk-[0-9A-Za-z]{32}$/;

/** `sk-` + 32 random base62 characters (about 190 bits). */
export function newApiKey(): string {
  return 'sk-' + randomBase62(32);
}

/** Request ids are what billing is idempotent on, so they must never repeat. */
export function newRequestId(): string {
  return 'req_' + randomUUID().replaceAll('-', '');
}
