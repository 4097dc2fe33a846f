import { Readable } from 'node:stream';
import { setImmediate } from 'node:timers/promises';
import type { FastifyReply } from 'fastify';
import { Counter, type Registry } from 'prom-client';
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

export interface CsvColumn {
  header: string;
  value(r: UsageRow): string | number | null;
  /**
   * Free text that a caller or an upstream chose (names, models, error codes): guarded against
   * formula injection. Numbers we format ourselves are not, so that "-0.25" stays a number.
   */
  text?: boolean;
}

/** Columns an operator exports (spec 000 §8): who, what, through which channel, price, charge, cost, margin, outcome. */
export const ADMIN_USAGE_COLUMNS: CsvColumn[] = [
  { header: 'time', value: (r) => new Date(r.created_at).toISOString() },
  { header: 'request_id', value: (r) => r.request_id, text: true },
  { header: 'user_email', value: (r) => r.user_email, text: true },
  { header: 'key_name', value: (r) => r.key_name, text: true },
  { header: 'model', value: (r) => r.model, text: true },
  { header: 'upstream_model', value: (r) => r.upstream_model, text: true },
  { header: 'channel', value: (r) => r.channel_name, text: true },
  { header: 'endpoint', value: (r) => r.endpoint, text: true },
  { header: 'stream', value: (r) => (r.stream === 1 ? 'true' : 'false') },
  { header: 'prompt_tokens', value: (r) => r.prompt_tokens },
  { header: 'completion_tokens', value: (r) => r.completion_tokens },
  { header: 'cached_tokens', value: (r) => r.cached_tokens },
  { header: 'input_usd_per_1m', value: (r) => formatMicros(r.input_price) },
  { header: 'output_usd_per_1m', value: (r) => formatMicros(r.output_price) },
  { header: 'cached_input_usd_per_1m', value: (r) => formatMicros(r.cached_input_price) },
  { header: 'multiplier', value: (r) => formatPpm(r.multiplier_ppm) },
  { header: 'charged_usd', value: (r) => formatMicros(r.charged_micros) },
  { header: 'cost_usd', value: (r) => formatMicros(r.cost_micros) },
  { header: 'margin_usd', value: (r) => formatMicros(r.charged_micros - r.cost_micros) },
  { header: 'status', value: (r) => r.status_code },
  { header: 'error_code', value: (r) => r.error_code, text: true },
  { header: 'latency_ms', value: (r) => r.latency_ms },
  { header: 'ttfb_ms', value: (r) => r.ttfb_ms },
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

export function csvRow(columns: CsvColumn[], r: UsageRow): string {
  return csvLine(columns.map((c) => csvCell(c.value(r), c.text)));
}

export const EXPORT_PAGE_SIZE = 1000;

export interface ExportOptions {
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
  async function* lines() {
    yield Buffer.from('\uFEFF' + csvLine(columns.map((c) => csvCell(c.header))));
    for await (const page of usagePages(ex, f, opts)) {
      let chunk = '';
      for (const r of page) chunk += csvRow(columns, r);
      yield Buffer.from(chunk);
    }
  }
  return Readable.from(lines(), { objectMode: false });
}

/** `usage-20261123-0930.csv`, in UTC. */
export function exportFilename(prefix: string, now = new Date()): string {
  const iso = now.toISOString(); // 2026-11-23T09:30:00.000Z
  return `${prefix}-${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 13)}${iso.slice(14, 16)}.csv`;
}

/** Send a CSV stream as a download; Fastify pipes it to the socket with backpressure (chunked). */
export function sendCsv(reply: FastifyReply, stream: Readable, prefix = 'usage') {
  return reply
    .header('content-type', 'text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${exportFilename(prefix)}"`)
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
