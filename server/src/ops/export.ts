import { Readable } from 'node:stream';
import { setImmediate } from 'node:timers/promises';
import type { FastifyReply } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import { z } from 'zod';
import type { Executor } from '../db/index.js';
import { formatMicros } from '../lib/money.js';
import { formatPpm } from '../billing/pricing.js';
import { applyUsageFilter, usageWithNames, type UsageFilter, type UsageRow } from './usage.js';

/**
 * Usage records as CSV (RFC 4180), streamed: records are read in keyset pages and each page is
 * written as soon as it is read, only when the client has taken the previous one (backpressure),
 * so an export of millions of rows holds one page in memory, whatever its size.
 */

export const CSV_DESCRIPTION =
  'RFC 4180 CSV (CRLF line ends, UTF-8 with a byte-order mark), streamed in time order. Amounts are exact decimal USD; free-text cells starting with = + - @ are prefixed with an apostrophe.';

/**
 * How the viewer wants the file: times in their time zone (IANA name) with the offset written out,
 * headers in their language. Values stay machine-readable whatever the language.
 */
export const CsvFormatQuery = z.object({
  tz: z
    .string()
    .max(64)
    .refine(isTimeZone, 'an IANA time zone such as Asia/Shanghai or Europe/Berlin')
    .optional()
    .describe('IANA time zone for the time column and the file name (default UTC)'),
  lang: z.enum(['en-US', 'zh-CN']).default('en-US').describe('language of the header line; values are the same in every language'),
});
export type CsvFormat = z.output<typeof CsvFormatQuery>;

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * ISO 8601 in a time zone with its offset ("2026-05-01T08:00:01.000+08:00"), or UTC with "Z" when
 * no zone is given. The offset is looked up once per quarter hour of the record's time (every zone
 * changes its offset on a quarter hour), so a million-row export formats a few thousand dates.
 */
export function isoTimeIn(tz: string | undefined): (ms: number) => string {
  if (!tz) return (ms) => new Date(ms).toISOString();
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const offsets = new Map<number, number>();
  const offsetMinutes = (ms: number) => {
    const slot = Math.floor(ms / 900_000);
    let off = offsets.get(slot);
    if (off === undefined) {
      const p = Object.fromEntries(parts.formatToParts(slot * 900_000).map((x) => [x.type, x.value]));
      const asUtc = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
      off = Math.round((asUtc - slot * 900_000) / 60_000);
      offsets.set(slot, off);
    }
    return off;
  };
  return (ms) => {
    const off = offsetMinutes(ms);
    const local = new Date(ms + off * 60_000).toISOString().slice(0, 23);
    if (off === 0) return `${local}+00:00`;
    const a = Math.abs(off);
    return `${local}${off < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
  };
}

/** What a column's value may depend on besides the record. */
export interface CsvContext {
  time(ms: number): string;
}

export interface CsvColumn {
  header: string;
  /** The header a Chinese reader sees (lang=zh-CN). */
  zh: string;
  value(r: UsageRow, x: CsvContext): string | number | null;
  /**
   * Free text that a caller or an upstream chose (names, models, error codes): guarded against
   * formula injection. Numbers we format ourselves are not, so that "-0.25" stays a number.
   */
  text?: boolean;
}

/** Columns an operator exports (spec 000 §8): who, what, through which channel, price, charge, cost, margin, outcome. */
export const ADMIN_USAGE_COLUMNS: CsvColumn[] = [
  { header: 'time', zh: '时间', value: (r, x) => x.time(Number(r.created_at)) },
  { header: 'request_id', zh: '请求 ID', value: (r) => r.request_id, text: true },
  { header: 'user_email', zh: '用户邮箱', value: (r) => r.user_email, text: true },
  { header: 'key_name', zh: '密钥名称', value: (r) => r.key_name, text: true },
  { header: 'model', zh: '模型', value: (r) => r.model, text: true },
  { header: 'upstream_model', zh: '上游模型', value: (r) => r.upstream_model, text: true },
  { header: 'channel', zh: '渠道', value: (r) => r.channel_name, text: true },
  { header: 'endpoint', zh: '接口', value: (r) => r.endpoint, text: true },
  { header: 'stream', zh: '流式', value: (r) => (r.stream === 1 ? 'true' : 'false') },
  { header: 'prompt_tokens', zh: '输入 tokens', value: (r) => r.prompt_tokens },
  { header: 'completion_tokens', zh: '输出 tokens', value: (r) => r.completion_tokens },
  { header: 'cached_tokens', zh: '缓存 tokens', value: (r) => r.cached_tokens },
  { header: 'input_usd_per_1m', zh: '输入单价 (USD/1M)', value: (r) => formatMicros(r.input_price) },
  { header: 'output_usd_per_1m', zh: '输出单价 (USD/1M)', value: (r) => formatMicros(r.output_price) },
  { header: 'cached_input_usd_per_1m', zh: '缓存输入单价 (USD/1M)', value: (r) => formatMicros(r.cached_input_price) },
  { header: 'multiplier', zh: '倍率', value: (r) => formatPpm(r.multiplier_ppm) },
  { header: 'charged_usd', zh: '扣费 (USD)', value: (r) => formatMicros(r.charged_micros) },
  { header: 'cost_usd', zh: '成本 (USD)', value: (r) => formatMicros(r.cost_micros) },
  { header: 'margin_usd', zh: '毛利 (USD)', value: (r) => formatMicros(r.charged_micros - r.cost_micros) },
  { header: 'status', zh: '状态码', value: (r) => r.status_code },
  { header: 'error_code', zh: '错误码', value: (r) => r.error_code, text: true },
  { header: 'latency_ms', zh: '耗时 (ms)', value: (r) => r.latency_ms },
  { header: 'ttfb_ms', zh: '首字耗时 (ms)', value: (r) => r.ttfb_ms },
];

const OPERATOR_ONLY = new Set(['user_email', 'upstream_model', 'channel', 'cost_usd', 'margin_usd']);

/** What a user exports from the portal: the same, less the operator's columns. */
export const CONSOLE_USAGE_COLUMNS: CsvColumn[] = ADMIN_USAGE_COLUMNS.filter((c) => !OPERATOR_ONLY.has(c.header));

const NEEDS_QUOTES = /[",\r\n]/;
// A cell starting with one of these is run as a formula by spreadsheet programs (CSV injection).
const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV cell: quoted when it holds a comma, quote or line break; free text that looks like a formula gets a leading `'`. */
export function csvCell(v: string | number | null | undefined, text = false): string {
  if (v === null || v === undefined) return '';
  let s = String(v);
  if (text && FORMULA_START.test(s)) s = `'${s}`;
  return NEEDS_QUOTES.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function csvLine(cells: string[]): string {
  return cells.join(',') + '\r\n';
}

export function csvRow(columns: CsvColumn[], r: UsageRow, x: CsvContext = { time: isoTimeIn(undefined) }): string {
  return csvLine(columns.map((c) => csvCell(c.value(r, x), c.text)));
}

export const EXPORT_PAGE_SIZE = 1000;

export interface ExportOptions {
  /** Time zone and header language (default: UTC, English). */
  format?: Partial<CsvFormat>;
  pageSize?: number;
  /** Called after each page is read (rows in it), e.g. to count exported rows. */
  onPage?: (rows: number) => void;
}

/**
 * Pages of matching records in time order. Keyset on (created_at, id): every usage index ends in
 * created_at (user, key, model, channel, time), so each page is a range read on the same index the
 * filter uses, however deep into the export it is — never an OFFSET, never the whole set sorted.
 */
export async function* usagePages(ex: Executor, f: UsageFilter, opts: ExportOptions = {}): AsyncGenerator<UsageRow[]> {
  const size = opts.pageSize ?? EXPORT_PAGE_SIZE;
  let after: { created_at: number; id: number } | null = null;
  for (;;) {
    let q = applyUsageFilter(ex.selectFrom('usage_records'), f);
    if (after) {
      const { created_at: c, id } = after;
      q = q.where('usage_records.created_at', '>=', c).where((eb) => eb.or([eb('usage_records.created_at', '>', c), eb('usage_records.id', '>', id)]));
    }
    const keys = await q
      .select(['usage_records.id', 'usage_records.created_at'])
      .orderBy('usage_records.created_at', 'asc')
      .orderBy('usage_records.id', 'asc')
      .limit(size)
      .execute();
    if (keys.length === 0) return;
    const rows = await usageWithNames(ex).where('usage_records.id', 'in', keys.map((k) => k.id)).execute();
    const byId = new Map(rows.map((r) => [r.id, r]));
    opts.onPage?.(keys.length);
    yield keys.map((k) => byId.get(k.id)).filter((r): r is UsageRow => r !== undefined);
    if (keys.length < size) return;
    const last = keys.at(-1)!;
    after = { created_at: Number(last.created_at), id: Number(last.id) };
    // Back to the event loop between pages. On SQLite every query resolves at once, and a chain of
    // resolved promises would otherwise hold the loop: no byte sent, no other request served.
    await setImmediate();
  }
}

/**
 * The CSV as a byte stream: a UTF-8 byte-order mark (so that spreadsheet programs read names in
 * Chinese right), the header line, then one chunk per page. Pulled, not pushed: the next page is
 * read only when the consumer wants more.
 */
export function usageCsvStream(ex: Executor, f: UsageFilter, columns: CsvColumn[], opts: ExportOptions = {}): Readable {
  // Refuse a bad filter (`to` before `from`) now, while an error can still be a 400.
  applyUsageFilter(ex.selectFrom('usage_records'), f);
  const x: CsvContext = { time: isoTimeIn(opts.format?.tz) };
  const zh = opts.format?.lang === 'zh-CN';
  async function* lines() {
    yield Buffer.from('\uFEFF' + csvLine(columns.map((c) => csvCell(zh ? c.zh : c.header))));
    for await (const page of usagePages(ex, f, opts)) {
      let chunk = '';
      for (const r of page) chunk += csvRow(columns, r, x);
      yield Buffer.from(chunk);
    }
  }
  return Readable.from(lines(), { objectMode: false });
}

/** `usage-20261123-0930.csv`: the viewer's wall-clock time in `tz` (UTC without one). */
export function exportFilename(prefix: string, now = new Date(), tz?: string): string {
  const iso = isoTimeIn(tz)(now.getTime()); // 2026-11-23T17:30:00.000+08:00
  return `${prefix}-${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 13)}${iso.slice(14, 16)}.csv`;
}

/** Send a CSV stream as a download; Fastify pipes it to the socket with backpressure (chunked). */
export function sendCsv(reply: FastifyReply, stream: Readable, prefix = 'usage', tz?: string) {
  return reply
    .header('content-type', 'text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${exportFilename(prefix, new Date(), tz)}"`)
    .header('cache-control', 'no-store')
    .send(stream);
}

/** Rows written by CSV exports, by who exported (admin / console). Shared by the app's routes. */
export function exportRowsCounter(registry: Registry): Counter<'scope'> {
  const name = 'tollgate_usage_export_rows_total';
  return (
    (registry.getSingleMetric(name) as Counter<'scope'> | undefined) ??
    new Counter({ name, help: 'Usage records written to CSV exports', labelNames: ['scope'] as const, registers: [registry] })
  );
}
