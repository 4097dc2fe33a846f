import { request as httpRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Counter } from 'prom-client';
import { ADMIN_USAGE_COLUMNS, exportFilename, isoTimeIn, usageCsvStream } from '../../server/src/ops/export.js';
import { ApiClient } from '../support/api.js';
import { addChannel, addUserWithKey } from '../support/seed.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { insertUsage, signInAs, type UsageSeed } from './console-fixtures.js';

const ADMIN_HEADER =
  'time,request_id,user_email,key_name,model,upstream_model,channel,endpoint,stream,prompt_tokens,completion_tokens,cached_tokens,input_usd_per_1m,output_usd_per_1m,cached_input_usd_per_1m,multiplier,charged_usd,cost_usd,margin_usd,status,error_code,latency_ms,ttfb_ms';

/** A strict RFC 4180 reader: quoted fields, doubled quotes, CRLF records. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 2;
      } else if (ch === '"') {
        quoted = false;
        i++;
      } else {
        cell += ch;
        i++;
      }
    } else if (ch === '"' && cell === '') {
      quoted = true;
      i++;
    } else if (ch === ',') {
      row.push(cell);
      cell = '';
      i++;
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i += 2;
    } else {
      if (ch === '\n' || ch === '"') throw new Error(`bare ${JSON.stringify(ch)} at ${i}`);
      cell += ch;
      i++;
    }
  }
  if (cell !== '' || row.length > 0) throw new Error('last record does not end in CRLF');
  return rows;
}

/** Records by header name. (fetch's text() drops the byte-order mark; a raw read keeps it.) */
function csvRecords(body: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(body.replace(/^\uFEFF/, ''));
  return rows.map((r) => {
    expect(r).toHaveLength(header!.length);
    return Object.fromEntries(header!.map((h, i) => [h, r[i]!]));
  });
}

let srv: TestServer;
let admin: ApiClient;
type Seeded = Awaited<ReturnType<typeof addUserWithKey>>;
let alice: Seeded;
let bob: Seeded;
let channelId: number;
const BASE = Date.parse('2026-05-01T00:00:00Z');

beforeAll(async () => {
  // signInAs() gives each sign-in its own X-Forwarded-For address; trusted only behind a proxy.
  srv = await startTestServer({ env: { TRUST_PROXY: 'true' } });
  admin = await signInAs(new ApiClient(srv.url));
  const ch = await addChannel(srv.ctx, 'http://127.0.0.1:9/v1', { name: 'east, "primary"' });
  channelId = ch.id;
  alice = await addUserWithKey(srv.ctx, { email: 'alice@example.com', key: { name: 'evil, "quoted"\nname' } });
  bob = await addUserWithKey(srv.ctx, { email: 'bob@example.com', key: { name: '=cmd|calc' } });
  const a = { user_id: alice.user.id, key_id: alice.keyView.id, wallet_id: alice.wallet.id };
  const b = { user_id: bob.user.id, key_id: bob.keyView.id, wallet_id: bob.wallet.id };
  const rows: UsageSeed[] = [
    {
      ...a,
      request_id: 'req_a1',
      created_at: BASE + 1000,
      model: 'gpt-4o',
      upstream_model: 'gpt-4o-2024-08-06',
      channel_id: channelId,
      stream: 1,
      prompt_tokens: 1200,
      completion_tokens: 345,
      cached_tokens: 1000,
      input_price: 2_500_000,
      output_price: 10_000_000,
      cached_input_price: 1_250_000,
      multiplier_ppm: 1_500_000,
      charged_micros: 1_234_567,
      cost_micros: 1_000_000,
      latency_ms: 987,
      ttfb_ms: 123,
    },
    { ...a, request_id: 'req_a2', created_at: BASE + 2000, model: '+SUM(A1)', charged_micros: 500_000, cost_micros: 1_000_000, ttfb_ms: null },
    { ...b, request_id: 'req_b1', created_at: BASE + 3000, model: '@risky', status_code: 502, error_code: '-upstream', error_message: 'bad gateway', charged_micros: 0, cost_micros: 0, prompt_tokens: 0, completion_tokens: 0 },
    { ...b, request_id: 'req_b2', created_at: BASE + 4000, model: 'gpt-4o-mini', status_code: 402, error_code: 'insufficient_funds', charged_micros: 0, cost_micros: 0 },
    { ...a, request_id: 'req_a0', created_at: BASE - 86_400_000, model: 'gpt-4o-mini' },
  ];
  await insertUsage(srv.ctx, rows);
});
afterAll(async () => {
  await srv?.stop();
});

describe('GET /api/admin/usage/export.csv', () => {
  it('writes the spec columns, exact amounts, RFC 4180 quoting and formula guards', async () => {
    const r = await admin.get('/api/admin/usage/export.csv');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(r.headers.get('content-disposition')).toMatch(/^attachment; filename="usage-\d{8}-\d{4}\.csv"$/);
    const body = r.body as string;
    expect(body.split('\r\n')[0]).toBe(ADMIN_HEADER);
    const recs = csvRecords(body);
    expect(recs.map((x) => x.request_id)).toEqual(['req_a0', 'req_a1', 'req_a2', 'req_b1', 'req_b2']);
    expect(recs[1]).toEqual({
      time: '2026-05-01T00:00:01.000Z',
      request_id: 'req_a1',
      user_email: 'alice@example.com',
      key_name: 'evil, "quoted"\nname',
      model: 'gpt-4o',
      upstream_model: 'gpt-4o-2024-08-06',
      channel: 'east, "primary"',
      endpoint: 'chat.completions',
      stream: 'true',
      prompt_tokens: '1200',
      completion_tokens: '345',
      cached_tokens: '1000',
      input_usd_per_1m: '2.5',
      output_usd_per_1m: '10',
      cached_input_usd_per_1m: '1.25',
      multiplier: '1.5',
      charged_usd: '1.234567',
      cost_usd: '1',
      margin_usd: '0.234567',
      status: '200',
      error_code: '',
      latency_ms: '987',
      ttfb_ms: '123',
    });
    // The raw text: quotes doubled, the line break kept inside quotes.
    expect(body).toContain(',"evil, ""quoted""\nname",');
    // Cells a spreadsheet would run as formulas start with an apostrophe; our own numbers do not.
    expect(recs[2]).toMatchObject({ model: "'+SUM(A1)", charged_usd: '0.5', cost_usd: '1', margin_usd: '-0.5', ttfb_ms: '', stream: 'false' });
    expect(recs[3]).toMatchObject({ key_name: "'=cmd|calc", model: "'@risky", error_code: "'-upstream", status: '502', user_email: 'bob@example.com', channel: '' });
  });

  it('honours the filters of GET /api/admin/usage', async () => {
    const ids = async (q: string) => {
      const r = await admin.get(`/api/admin/usage/export.csv?${q}`);
      expect(r.status, q).toBe(200);
      return csvRecords(r.body as string).map((x) => x.request_id);
    };
    expect(await ids(`user_id=${bob.user.id}`)).toEqual(['req_b1', 'req_b2']);
    expect(await ids(`key_id=${alice.keyView.id}`)).toEqual(['req_a0', 'req_a1', 'req_a2']);
    expect(await ids('model=gpt-4o-mini')).toEqual(['req_a0', 'req_b2']);
    expect(await ids('status=error')).toEqual(['req_b1', 'req_b2']);
    expect(await ids('status=5xx')).toEqual(['req_b1']);
    expect(await ids('status=ok')).toEqual(['req_a0', 'req_a1', 'req_a2']);
    expect(await ids(`channel_id=${channelId}`)).toEqual(['req_a1']);
    expect(await ids('stream=true')).toEqual(['req_a1']);
    expect(await ids('request_id=req_b2')).toEqual(['req_b2']);
    expect(await ids(`from=${encodeURIComponent('2026-05-01T00:00:02Z')}&to=${BASE + 4000}`)).toEqual(['req_a2', 'req_b1']);
    expect(await ids('user_id=999999')).toEqual([]);
  });

  it('refuses bad filters with a typed 400 before writing anything', async () => {
    const bad = await admin.get('/api/admin/usage/export.csv?status=weird');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'validation_failed', path: 'status' });
    const order = await admin.get(`/api/admin/usage/export.csv?from=${BASE}&to=${BASE - 1}`);
    expect(order.status).toBe(400);
    expect(order.body.error.path).toBe('to');
    const user = await admin.get('/api/admin/usage/export.csv?user_id=abc');
    expect(user.body.error.path).toBe('user_id');
  });

  it('leaves an audit entry with the filter', async () => {
    await admin.get(`/api/admin/usage/export.csv?model=gpt-4o&user_id=${alice.user.id}`);
    const e = await srv.ctx.db.kysely.selectFrom('audit_log').selectAll().where('action', '=', 'usage.export').orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(e.actor_email).toBe('admin@test.local');
    expect(e.target_type).toBe('usage');
    expect(JSON.parse(e.after_json!)).toEqual({ filter: { model: 'gpt-4o', user_id: alice.user.id }, format: 'csv' });
  });

  it('keeps GET /api/admin/usage in step: total_exact, and the same records', async () => {
    const r = await admin.get(`/api/admin/usage?user_id=${alice.user.id}`);
    expect(r.body).toMatchObject({ total: 3, total_exact: true, page: 1, page_size: 20 });
    expect(r.body.items.map((x: { request_id: string }) => x.request_id)).toEqual(['req_a2', 'req_a1', 'req_a0']);
  });
});

describe('export in the viewer\'s time zone and language (tz, lang)', () => {
  it('writes times with the zone\'s offset, Chinese headers for lang=zh-CN, the same machine-readable values', async () => {
    const before = exportFilename('usage', new Date(), 'Asia/Shanghai');
    const r = await admin.get('/api/admin/usage/export.csv?tz=Asia%2FShanghai&lang=zh-CN');
    const after = exportFilename('usage', new Date(), 'Asia/Shanghai');
    expect(r.status).toBe(200);
    // The file is named after the viewer's wall clock, not UTC.
    const name = /filename="(.+)"/.exec(r.headers.get('content-disposition') ?? '')![1];
    expect([before, after]).toContain(name);
    const body = r.body as string;
    const header = body.split('\r\n')[0]!.split(',');
    expect(header.slice(0, 5)).toEqual(['时间', '请求 ID', '用户邮箱', '密钥名称', '模型']);
    expect(header).toContain('扣费 (USD)');
    expect(header).toContain('毛利 (USD)');
    expect(header).toHaveLength(ADMIN_HEADER.split(',').length);
    const [, ...rows] = body.replace(/^\uFEFF/, '').split('\r\n');
    // req_a1, seeded at 2026-05-01T00:00:01Z: 08:00:01 in Beijing, the instant unchanged.
    const a1 = rows.find((l) => l.includes('req_a1'))!;
    expect(a1.startsWith('2026-05-01T08:00:01.000+08:00,req_a1,alice@example.com,')).toBe(true);
    expect(Date.parse('2026-05-01T08:00:01.000+08:00')).toBe(BASE + 1000);
    // Amounts, statuses and ids are as in English: a spreadsheet reads the same numbers.
    expect(a1).toContain(',1.234567,1,0.234567,200,');
  });

  it('uses the zone\'s offset at each record\'s time (summer time), and UTC with "Z" without tz', async () => {
    const ny = await admin.get(`/api/admin/usage/export.csv?tz=America/New_York&request_id=req_a1`);
    expect(csvRecords(ny.body as string)[0]!.time).toBe('2026-04-30T20:00:01.000-04:00');
    const utc = await admin.get('/api/admin/usage/export.csv?request_id=req_a1&lang=en-US');
    expect(csvRecords(utc.body as string)[0]!.time).toBe('2026-05-01T00:00:01.000Z');
    const winter = isoTimeIn('America/New_York');
    expect(winter(Date.parse('2026-01-15T12:00:00Z'))).toBe('2026-01-15T07:00:00.000-05:00');
    expect(isoTimeIn('Asia/Kolkata')(Date.parse('2026-01-15T12:00:00Z'))).toBe('2026-01-15T17:30:00.000+05:30');
    expect(isoTimeIn('Europe/London')(Date.parse('2026-01-15T12:00:00Z'))).toBe('2026-01-15T12:00:00.000+00:00');
    // Across the spring change (2026-03-08 07:00Z in New York): 01:59 EST, then 03:00 EDT.
    expect(winter(Date.parse('2026-03-08T06:59:00Z'))).toBe('2026-03-08T01:59:00.000-05:00');
    expect(winter(Date.parse('2026-03-08T07:00:00Z'))).toBe('2026-03-08T03:00:00.000-04:00');
  });

  it('the portal export takes the same parameters', async () => {
    const api = await signInAs(new ApiClient(srv.url), 'alice@example.com', 'password-123');
    const r = await api.get('/api/console/usage/export.csv?tz=Asia%2FShanghai&lang=zh-CN');
    expect(r.status).toBe(200);
    const body = (r.body as string).replace(/^\uFEFF/, '');
    expect(body.split('\r\n')[0]!.split(',')).not.toContain('用户邮箱');
    expect(body.split('\r\n')[0]!.startsWith('时间,请求 ID,密钥名称,模型,')).toBe(true);
    expect(body).toContain('2026-05-01T08:00:01.000+08:00,req_a1,');
  });

  it('refuses an unknown zone or language with a typed 400', async () => {
    const tz = await admin.get('/api/admin/usage/export.csv?tz=Mars%2FOlympus');
    expect(tz.status).toBe(400);
    expect(tz.body.error).toMatchObject({ code: 'validation_failed', path: 'tz' });
    const lang = await admin.get('/api/admin/usage/export.csv?lang=fr-FR');
    expect(lang.status).toBe(400);
    expect(lang.body.error).toMatchObject({ code: 'validation_failed', path: 'lang' });
  });
});

describe('a large export', () => {
  const N = 30_000;
  let heavy: Seeded;

  beforeAll(async () => {
    heavy = await addUserWithKey(srv.ctx, { email: 'heavy@example.com' });
    const start = Date.parse('2026-06-01T00:00:00Z');
    // Long model names make the file (~17 MB) much larger than what socket buffers can hold.
    const model = `fine-tuned/${'x'.repeat(150)}`;
    // Runs of 7 records share a millisecond, so pages end in the middle of a run.
    await insertUsage(
      srv.ctx,
      Array.from({ length: N }, (_, i) => ({
        user_id: heavy.user.id,
        key_id: heavy.keyView.id,
        wallet_id: heavy.wallet.id,
        request_id: `req_bulk_${String(i).padStart(6, '0')}`,
        created_at: start + Math.floor(i / 7) * 1000,
        model,
        upstream_model: model,
        charged_micros: i,
      })),
      1000,
    );
  });

  it('is streamed: sent chunked, read a page at a time as the client takes it', async () => {
    const counter = srv.ctx.metrics.registry.getSingleMetric('tollgate_usage_export_rows_total') as Counter<'scope'>;
    const exportedSoFar = async () => ((await counter.get()).values.find((v) => v.labels.scope === 'admin')?.value ?? 0);
    const before = await exportedSoFar();

    const url = new URL(`/api/admin/usage/export.csv?user_id=${heavy.user.id}`, srv.url);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(url, { headers: { cookie: admin.cookie } }, resolve);
      req.on('error', reject);
      req.end();
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.headers['content-length']).toBeUndefined();

    // The first bytes arrive before the whole file has been read from the database.
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve) => {
      res.once('data', (c: Buffer) => {
        chunks.push(c);
        res.pause();
        resolve();
      });
    });
    expect((await exportedSoFar()) - before).toBeLessThan(N);
    // Then stop reading: once the socket buffers are full, the server stops reading the database.
    await new Promise((r) => setTimeout(r, 400));
    const whilePaused = (await exportedSoFar()) - before;
    expect(whilePaused).toBeGreaterThan(0);
    expect(whilePaused).toBeLessThan(N);

    res.on('data', (c: Buffer) => chunks.push(c));
    await new Promise<void>((resolve, reject) => {
      res.on('end', resolve);
      res.on('error', reject);
      res.resume();
    });
    expect((await exportedSoFar()) - before).toBe(N);

    const bytes = Buffer.concat(chunks);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]); // UTF-8 byte-order mark, for spreadsheet programs
    const recs = csvRecords(bytes.toString('utf8'));
    expect(recs).toHaveLength(N);
    // Every record once, in time order (keyset pages neither skip nor repeat across equal times).
    expect(recs.map((x) => x.request_id)).toEqual(Array.from({ length: N }, (_, i) => `req_bulk_${String(i).padStart(6, '0')}`));
    expect(recs[N - 1]!.charged_usd).toBe('0.029999');
  });

  it('reads the next page only when the consumer has taken the previous one', async () => {
    let pages = 0;
    const stream = usageCsvStream(srv.ctx.db.kysely, { user_id: heavy.user.id }, ADMIN_USAGE_COLUMNS, { pageSize: 50, onPage: () => pages++ });
    let first: Buffer | undefined;
    for await (const chunk of stream) {
      first = chunk as Buffer;
      await new Promise((r) => setTimeout(r, 200));
      break; // ends the stream: the generator stops reading
    }
    expect(first!.toString('utf8')).toMatch(/^\uFEFFtime,request_id,/);
    // 600 pages in all; a page of these rows (~28 KB) is more than the stream buffers (16 KB).
    expect(pages).toBeGreaterThanOrEqual(1);
    expect(pages).toBeLessThanOrEqual(3);
    await new Promise((r) => setTimeout(r, 100));
    expect(pages).toBeLessThanOrEqual(3);
  });

  it('the console export of the same user streams the same rows, less the operator columns', async () => {
    const api = await signInAs(new ApiClient(srv.url), 'heavy@example.com', 'password-123');
    const r = await api.get('/api/console/usage/export.csv');
    expect(r.status).toBe(200);
    const recs = csvRecords(r.body as string);
    expect(recs).toHaveLength(N);
    expect(Object.keys(recs[0]!)).not.toContain('cost_usd');
    expect(Object.keys(recs[0]!)).not.toContain('channel');
    expect(Object.keys(recs[0]!)).not.toContain('user_email');
    const list = await api.get('/api/console/usage');
    expect(list.body).toMatchObject({ total: 10_000, total_exact: false });
    expect(list.body.items[0].request_id).toBe(`req_bulk_${String(N - 1).padStart(6, '0')}`);
    const totals = await api.get('/api/console/usage/totals');
    expect(totals.body.calls).toBe(N);
  });
});
