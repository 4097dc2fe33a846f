import { ADMIN_EMAIL, ADMIN_PASSWORD } from './server.js';

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A small client for /api with a cookie jar of one session, as a browser would hold it. */
export class ApiClient {
  cookie = '';
  constructor(readonly baseUrl: string) {}

  async signIn(email = ADMIN_EMAIL, password = ADMIN_PASSWORD): Promise<ApiResponse> {
    let res = await this.request('POST', '/api/auth/sign-in/email', { email, password });
    // better-auth allows 3 sign-ins per 10 s from one address: a test signing in often waits its turn, as a person would.
    for (let i = 0; i < 3 && res.status === 429; i++) {
      await new Promise((r) => setTimeout(r, Number(res.headers.get('x-retry-after') ?? 10) * 1000 + 250));
      res = await this.request('POST', '/api/auth/sign-in/email', { email, password });
    }
    if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res;
  }

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(this.cookie ? { cookie: this.cookie } : {}),
        origin: this.baseUrl,
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const set = res.headers.getSetCookie();
    if (set.length > 0) {
      const jar = new Map(this.cookie ? this.cookie.split('; ').map((c) => [c.split('=')[0]!, c] as const) : []);
      for (const c of set) {
        const pair = c.split(';')[0]!;
        const name = pair.split('=')[0]!;
        if (/max-age=0/i.test(c) || pair.endsWith('=')) jar.delete(name);
        else jar.set(name, pair);
      }
      this.cookie = [...jar.values()].join('; ');
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get<T = any>(path: string) {
    return this.request<T>('GET', path);
  }
  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('POST', path, body ?? {}, headers);
  }
  patch<T = any>(path: string, body: unknown) {
    return this.request<T>('PATCH', path, body);
  }
  put<T = any>(path: string, body: unknown) {
    return this.request<T>('PUT', path, body);
  }
  delete<T = any>(path: string) {
    return this.request<T>('DELETE', path);
  }
}
