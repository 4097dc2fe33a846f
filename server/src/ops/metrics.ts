import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Db } from '../db/index.js';

/**
 * Prometheus metrics, served at /metrics. One registry per app so tests can build several apps.
 * Labels are bounded: models and channels come from the catalogue (a call for an unknown model is
 * refused before it is counted by model), routes are route patterns, never URLs.
 * docs/OPERATIONS.md lists the series and what to watch.
 */
export function createMetrics(db?: Db) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tollgate_' });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({
      name: 'tollgate_gateway_requests_total',
      help: 'Gateway calls by endpoint and returned status',
      labelNames: ['endpoint', 'status'] as const,
      registers,
    }),
    calls: new Counter({
      name: 'tollgate_gateway_calls_total',
      help: 'Admitted gateway calls by model, channel (id; "none" when no channel answered) and status',
      labelNames: ['model', 'channel', 'status'] as const,
      registers,
    }),
    latency: new Histogram({
      name: 'tollgate_gateway_request_seconds',
      help: 'Gateway call duration (whole call, including the upstream)',
      labelNames: ['endpoint', 'stream'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    }),
    ttfb: new Histogram({
      name: 'tollgate_gateway_ttfb_seconds',
      help: 'Time to the first byte of an answer sent to the caller (first event of a stream)',
      labelNames: ['endpoint', 'stream'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    upstreamFailures: new Counter({
      name: 'tollgate_upstream_failures_total',
      help: 'Failed upstream attempts by channel and kind',
      labelNames: ['channel', 'kind'] as const,
      registers,
    }),
    chargedMicros: new Counter({
      name: 'tollgate_charged_micros_total',
      help: 'Micro-USD charged to callers',
      registers,
    }),
    refusals: new Counter({
      name: 'tollgate_gateway_refusals_total',
      help: 'Calls refused before forwarding (401 bad key, 402 no money, 403, 404, 429, …), by error code and status',
      labelNames: ['reason', 'status'] as const,
      registers,
    }),
    inflight: new Gauge({
      name: 'tollgate_gateway_inflight',
      help: 'Gateway calls in progress',
      registers,
    }),
    openHolds: new Gauge({
      name: 'tollgate_holds_open',
      help: 'Pending holds in the database (all processes), read at scrape time',
      registers,
      async collect() {
        if (!db) return;
        const r = await db.kysely
          .selectFrom('holds')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('status', '=', 'pending')
          .executeTakeFirst()
          .catch(() => undefined);
        if (r) this.set(Number(r.n));
      },
    }),
    commitBatch: new Histogram({
      name: 'tollgate_group_commit_batch_size',
      help: 'Items written per group-commit transaction, by queue (money: SQLite; hold, settle, release: PostgreSQL/MySQL)',
      labelNames: ['queue'] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    }),
    commitRetries: new Counter({
      name: 'tollgate_group_commit_retries_total',
      help: 'Items written again in a transaction of their own after their batch failed, by queue',
      labelNames: ['queue'] as const,
      registers,
    }),
    settlementFailures: new Counter({
      name: 'tollgate_settlement_failures_total',
      help: 'Settlements and releases that failed to write when the call ended (retried in the background until they land)',
      labelNames: ['op'] as const,
      registers,
    }),
    dbPool: new Gauge({
      name: 'tollgate_db_pool_connections',
      help: 'Database pool connections by state (total, idle, waiting requests); PostgreSQL and MySQL',
      labelNames: ['state'] as const,
      registers,
      collect() {
        const s = db?.poolStats?.();
        if (!s) return;
        this.set({ state: 'total' }, s.total);
        this.set({ state: 'idle' }, s.idle);
        this.set({ state: 'waiting' }, s.waiting);
      },
    }),
    jobRuns: new Counter({
      name: 'tollgate_job_runs_total',
      help: 'Background job runs by job and outcome (ok, failed)',
      labelNames: ['job', 'outcome'] as const,
      registers,
    }),
    jobSeconds: new Histogram({
      name: 'tollgate_job_seconds',
      help: 'Background job run duration',
      labelNames: ['job'] as const,
      buckets: [0.001, 0.01, 0.1, 1, 10, 60],
      registers,
    }),
    apiRequests: new Counter({
      name: 'tollgate_api_requests_total',
      help: '/api requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    apiLatency: new Histogram({
      name: 'tollgate_api_request_seconds',
      help: '/api request duration by method and route pattern',
      labelNames: ['method', 'route'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** What the money store reports about its group commits. */
export interface CommitObserver {
  batch(queue: string, size: number): void;
  retried(queue: string, items: number): void;
}

export function commitObserver(m: Metrics): CommitObserver {
  return {
    batch: (queue, size) => m.commitBatch.observe({ queue }, size),
    retried: (queue, items) => m.commitRetries.inc({ queue }, items),
  };
}
