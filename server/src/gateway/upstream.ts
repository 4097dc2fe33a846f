import { Pool, type Dispatcher } from 'undici';

export interface UpstreamTimeouts {
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
}

/**
 * One keep-alive connection pool per upstream origin (undici.Pool: the fastest HTTP client path
 * in Node). Pools are created on first use and closed on shutdown.
 */
export class UpstreamPools {
  readonly #pools = new Map<string, Pool>();

  constructor(private readonly t: UpstreamTimeouts) {}

  pool(origin: string): Pool {
    let p = this.#pools.get(origin);
    if (!p) {
      p = new Pool(origin, {
        connections: 512,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        connectTimeout: this.t.connectTimeoutMs,
        headersTimeout: this.t.headersTimeoutMs,
        bodyTimeout: this.t.bodyTimeoutMs,
      });
      this.#pools.set(origin, p);
    }
    return p;
  }

  request(origin: string, opts: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
    return this.pool(origin).request(opts);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#pools.values()].map((p) => p.close()));
    this.#pools.clear();
  }
}
