// Redis is an accelerator, not a dependency of a call: when it dies or hangs, calls of a key with
// a requests-per-minute limit still answer at once (limited in memory), /healthz answers within a
// second and says Redis is down, and when Redis comes back the shared counters are used again.
// Runs its own redis-server on a random port; the shared Redis on 6379 is never touched.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { addChannel, addPrice, addUserWithKey } from '../support/seed.js';
import { closedPort, pendingHolds, until } from '../support/books.js';

const PREFIX = `tg-test-${process.pid}:`;
let port: number;
let redisProc: ChildProcess | undefined;
let probe: Redis;
let up: FakeUpstream;
let srv: TestServer;
let key: string;
let keyId: number;

async function startRedis() {
  redisProc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await until(async () => {
    const p = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    p.on('error', () => {});
    const ok = await p.connect().then(() => true, () => false);
    p.disconnect();
    return ok;
  }, 5_000, 50);
}
async function killRedis() {
  const proc = redisProc!;
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill('SIGKILL');
  await once(proc, 'exit');
}

/** A call with the limited key: its status and how long it took. */
async function call(apiKey = key) {
  const t0 = performance.now();
  const r = await fetch(`${srv.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
  });
  await r.arrayBuffer();
  return { status: r.status, ms: performance.now() - t0 };
}
async function health() {
  const t0 = performance.now();
  const r = await fetch(`${srv.url}/healthz`);
  return { status: r.status, body: (await r.json()) as { status: string; redis: string; database: { status: string } }, ms: performance.now() - t0 };
}

beforeAll(async () => {
  port = await closedPort();
  await startRedis();
  probe = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 200, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  probe.on('error', () => {});
  up = await startFakeUpstream();
  srv = await startTestServer({ env: { REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_PREFIX: PREFIX } });
  await addChannel(srv.ctx, up.url);
  await addPrice(srv.ctx, 'gpt-4o-mini', { input: '1', output: '1' });
  const u = await addUserWithKey(srv.ctx, { balanceUsd: '10', key: { rpmLimit: 1_000 } });
  key = u.key;
  keyId = u.keyView.id;
}, 60_000);
afterAll(async () => {
  probe?.disconnect();
  await srv?.stop();
  await up?.close();
  if (redisProc) {
    redisProc.kill('SIGCONT');
    await killRedis();
  }
});

describe('a Redis outage', () => {
  it('with Redis up, the limit is counted in Redis under REDIS_PREFIX', async () => {
    expect((await call()).status).toBe(200);
    const keys = await probe.keys('*');
    expect(keys.some((k) => k.startsWith(`${PREFIX}rl:${keyId}:`))).toBe(true);
    expect(keys.filter((k) => !k.startsWith(PREFIX))).toEqual([]);
    expect((await health()).body).toMatchObject({ status: 'ok', redis: 'ok' });
  });

  it('a hung Redis (SIGSTOP): calls still answer fast, /healthz answers within a second', async () => {
    redisProc!.kill('SIGSTOP');
    try {
      for (let i = 0; i < 6; i++) {
        const r = await call();
        expect(r.status).toBe(200);
        expect(r.ms).toBeLessThan(1_000);
      }
      const h = await health();
      expect(h.ms).toBeLessThan(1_000);
      expect(h.status).toBe(200);
      expect(h.body).toMatchObject({ status: 'degraded', redis: 'down', database: { status: 'ok' } });
    } finally {
      redisProc!.kill('SIGCONT');
    }
  });

  it('a dead Redis: calls answer fast, the limit is enforced in memory, /healthz answers at once', async () => {
    await killRedis();
    const limited = await addUserWithKey(srv.ctx, { balanceUsd: '10', key: { rpmLimit: 3 } });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await call(i % 3 === 0 ? limited.key : key);
      expect(r.ms).toBeLessThan(1_000);
      if (i % 3 === 0) statuses.push(r.status);
      else expect(r.status).toBe(200);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    const h = await health();
    expect(h.ms).toBeLessThan(1_000);
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ status: 'degraded', redis: 'down', database: { status: 'ok' } });
    await until(async () => (await pendingHolds(srv.ctx.db.kysely)) === 0);
  });

  it('when Redis comes back, the shared counters are used again', async () => {
    await startRedis();
    await until(async () => (await health()).body.redis === 'ok', 10_000, 100);
    await until(async () => {
      expect((await call()).status).toBe(200);
      // The probe itself reconnects on its own schedule and refuses commands until then.
      return (await probe.keys(`${PREFIX}rl:${keyId}:*`).catch(() => [])).length > 0;
    }, 10_000, 200);
  });
});
