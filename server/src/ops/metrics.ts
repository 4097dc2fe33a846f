import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics, served at /metrics. One registry per app so tests can build several apps. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tollgate_' });
  return {
    registry,
    requests: new Counter({
      name: 'tollgate_gateway_requests_total',
      help: 'Gateway calls by endpoint and returned status',
      labelNames: ['endpoint', 'status'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'tollgate_gateway_request_seconds',
      help: 'Gateway call duration (whole call, including the upstream)',
      labelNames: ['endpoint', 'stream'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    }),
    upstreamFailures: new Counter({
      name: 'tollgate_upstream_failures_total',
      help: 'Failed upstream attempts by channel and kind',
      labelNames: ['channel', 'kind'] as const,
      registers: [registry],
    }),
    chargedMicros: new Counter({
      name: 'tollgate_charged_micros_total',
      help: 'Micro-USD charged to callers',
      registers: [registry],
    }),
    refusals: new Counter({
      name: 'tollgate_gateway_refusals_total',
      help: 'Calls refused before forwarding, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    inflight: new Gauge({
      name: 'tollgate_gateway_inflight',
      help: 'Gateway calls in progress',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
