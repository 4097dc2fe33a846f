/**
 * Protected operations (freeze, cash adjustment, exports) answer 403 `reauth_required` when the
 * session last proved itself too long ago. Every API call goes through this middleware: on that
 * answer it asks the person for their password (the ReauthModal mounted at the root registers the
 * asker), and on success sends the same request once more, so callers never see the detour.
 */
import { api } from './client';

type Asker = () => Promise<boolean>;
let asker: Asker | null = null;
let asking: Promise<boolean> | null = null;

/** Register the function that shows the password prompt (resolves true when confirmed). */
export function setReauthAsker(fn: Asker | null): void {
  asker = fn;
}

/** Ask once, however many requests were refused at the same moment. */
export function askReauth(): Promise<boolean> {
  if (!asker) return Promise.resolve(false);
  asking ??= asker().finally(() => {
    asking = null;
  });
  return asking;
}

/** Before following a protected download link: make sure the window is open, asking if needed. */
export async function ensureRecentAuth(): Promise<boolean> {
  const r = await fetch('/api/me/reauth', { credentials: 'include' }).catch(() => null);
  if (!r?.ok) return true; // let the download itself say what is wrong
  const body = (await r.json()) as { valid_until: string | null };
  return body.valid_until !== null || askReauth();
}

const copies = new Map<string, Request>();

api.use({
  onRequest({ request, id }) {
    if (request.method !== 'GET') copies.set(id, request.clone());
    return undefined;
  },
  async onResponse({ request, response, id }) {
    const copy = copies.get(id) ?? request;
    copies.delete(id);
    if (response.status !== 403) return undefined;
    const body = (await response.clone().json().catch(() => null)) as { error?: { code?: string } } | null;
    if (body?.error?.code !== 'reauth_required') return undefined;
    if (!(await askReauth())) return undefined;
    return fetch(copy.clone());
  },
  onError({ id }) {
    copies.delete(id);
  },
});

/** onClick of a protected download link (a CSV export): confirm first if needed, then download. */
export function protectedDownload(e: { preventDefault: () => void; currentTarget: Element }): void {
  const href = e.currentTarget.getAttribute('href');
  if (!href) return;
  e.preventDefault();
  void ensureRecentAuth().then((ok) => {
    if (!ok) return;
    const a = document.createElement('a');
    a.href = href;
    a.download = '';
    document.body.appendChild(a);
    a.click();
    a.remove();
  });
}
