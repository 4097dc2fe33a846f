import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/api.js';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { addChannel, addPrice, addUserWithKey } from '../support/seed.js';

let up: FakeUpstream;
let srv: TestServer;
let channelId: number;

beforeAll(async () => {
  up = await startFakeUpstream();
  srv = await startTestServer({ env: { SWEEP_INTERVAL_MS: '200' } });
  channelId = (await addChannel(srv.ctx, up.url)).id;
  await addPrice(srv.ctx, 'gpt-4o-mini', { input: '0.15', output: '0.6' });
});
afterAll(async () => {
  await srv?.stop();
  await up?.close();
});

/** The scraped exposition as `series → value` (series = name plus its label set, as printed). */
async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(srv.url + '/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}
const value = (m: Map<string, number>, series: string) => m.get(series) ?? 0;
const sumOf = (m: Map<string, number>, prefix: string) => [...m].filter(([k]) => k.startsWith(prefix)).reduce((s, [, v]) => s + v, 0);

describe('/metrics', () => {
  it('moves the series an operator watches as calls, /api requests and jobs happen', async () => {
    const before = await scrape();
    const { key } = await addUserWithKey(srv.ctx, { balanceUsd: '1' });
    const client = new OpenAI({ baseURL: srv.url + '/v1', apiKey: key, maxRetries: 0 });
    for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5, stream: true });
    for await (const _ of stream) void _;
    // an upstream that refuses: counted against its channel as a 502
    up.setDefaultBehavior({ status: 500 });
    await expect(client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })).rejects.toThrow();
    up.setDefaultBehavior({});

    const api = new ApiClient(srv.url);
    await api.signIn();
    expect((await api.get(`/api/admin/channels/${channelId}`)).status).toBe(200);
    expect((await api.get('/api/admin/channels/999999')).status).toBe(404);
    await new Promise((r) => setTimeout(r, 600)); // a few sweeper runs

    const after = await scrape();
    const ch = String(channelId);
    expect(value(after, `tollgate_gateway_calls_total{model="gpt-4o-mini",channel="${ch}",status="200"}`) - value(before, `tollgate_gateway_calls_total{model="gpt-4o-mini",channel="${ch}",status="200"}`)).toBe(4);
    expect(value(after, `tollgate_gateway_calls_total{model="gpt-4o-mini",channel="${ch}",status="502"}`)).toBeGreaterThanOrEqual(1);
    expect(value(after, 'tollgate_gateway_request_seconds_count{endpoint="chat.completions",stream="0"}')).toBeGreaterThanOrEqual(4);
    expect(value(after, 'tollgate_gateway_ttfb_seconds_count{endpoint="chat.completions",stream="1"}')).toBe(1);
    expect(value(after, 'tollgate_gateway_ttfb_seconds_count{endpoint="chat.completions",stream="0"}')).toBe(3);
    expect(value(after, 'tollgate_upstream_failures_total{channel="' + ch + '",kind="server"}')).toBeGreaterThanOrEqual(1);
    // every call settled: no hold left open
    expect(after.has('tollgate_holds_open')).toBe(true);
    expect(value(after, 'tollgate_holds_open')).toBe(0);
    // 5 holds, 4 settlements, 1 release went through group commits
    expect(sumOf(after, 'tollgate_group_commit_batch_size_sum{') - sumOf(before, 'tollgate_group_commit_batch_size_sum{')).toBeGreaterThanOrEqual(10);
    expect(value(after, 'tollgate_job_runs_total{job="sweep-holds",outcome="ok"}')).toBeGreaterThan(value(before, 'tollgate_job_runs_total{job="sweep-holds",outcome="ok"}'));
    expect(value(after, 'tollgate_job_seconds_count{job="sweep-holds"}')).toBeGreaterThan(0);
    // /api by route pattern, not URL
    expect(value(after, 'tollgate_api_requests_total{method="GET",route="/api/admin/channels/:id",status="200"}')).toBe(1);
    expect(value(after, 'tollgate_api_requests_total{method="GET",route="/api/admin/channels/:id",status="404"}')).toBe(1);
    expect([...after.keys()].some((k) => k.includes('999999') || k.includes(`channels/${ch}"`))).toBe(false);
    expect(value(after, 'tollgate_api_request_seconds_count{method="GET",route="/api/admin/channels/:id"}')).toBe(2);
    expect(value(after, 'tollgate_settlement_failures_total')).toBe(0);
  });

  it('reports the database pool on PostgreSQL and MySQL', async () => {
    const m = await scrape();
    if (srv.ctx.db.dialect === 'sqlite') {
      expect(m.has('tollgate_db_pool_connections{state="total"}')).toBe(false);
    } else {
      expect(value(m, 'tollgate_db_pool_connections{state="total"}')).toBeGreaterThan(0);
      expect(m.has('tollgate_db_pool_connections{state="waiting"}')).toBe(true);
    }
  });
});
