import type { Executor } from '../db/index.js';
import type { Catalog } from '../gateway/catalog.js';
import type { Cooldowns } from '../gateway/router.js';
import { formatPpm } from '../billing/pricing.js';

export interface ModelOffer {
  model: string;
  /** Prices this user pays: the list price × their group's multiplier, exact decimal USD. */
  input_usd_per_1m: string;
  output_usd_per_1m: string;
  cached_input_usd_per_1m: string;
  per_request_usd: string;
  input_usd_per_1k: string;
  output_usd_per_1k: string;
  multiplier: string;
  /** Embedding models cannot answer a chat request: the quick start's chat snippet leaves them out. */
  kind: 'chat' | 'embedding';
  /** Served by at least one channel that looks healthy right now (see `healthyChannels`). */
  available: boolean;
}

/** Embedding models by name: every upstream we relay names them so (text-embedding-3-small, bge-m3-embed, …). */
export const isEmbeddingModel = (model: string) => /embed/i.test(model);

/** `n / 10^places` as an exact decimal string, trailing zeros trimmed. */
function decimal(n: bigint, places: number): string {
  const scale = 10n ** BigInt(places);
  const whole = n / scale;
  const frac = (n % scale).toString().padStart(places, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : `${whole}`;
}

/**
 * The models a group can call, with the prices its members pay. Prices are micro-USD per 1M tokens
 * and the multiplier is in ppm, so price × ppm is in 10^-12 USD per 1M tokens: exact, however odd
 * the multiplier. With a multiplier of 1 these are the list prices of `priceView`.
 */
export function modelOffers(catalog: Catalog, group: string, healthy: ReadonlySet<number> = new Set()): ModelOffer[] {
  const ppm = BigInt(catalog.multiplier(group));
  const per1m = (micros: number) => decimal(BigInt(micros) * ppm, 12);
  const per1k = (micros: number) => decimal(BigInt(micros) * ppm, 15);
  const out: ModelOffer[] = [];
  for (const model of catalog.modelsFor(group)) {
    const p = catalog.price(model);
    if (!p) continue;
    const cached = p.cachedInput ?? p.input;
    out.push({
      model,
      input_usd_per_1m: per1m(p.input),
      output_usd_per_1m: per1m(p.output),
      cached_input_usd_per_1m: per1m(cached),
      per_request_usd: per1m(p.request),
      input_usd_per_1k: per1k(p.input),
      output_usd_per_1k: per1k(p.output),
      multiplier: formatPpm(Number(ppm)),
      kind: isEmbeddingModel(model) ? 'embedding' : 'chat',
      available: catalog.channels.some((c) => c.status === 'enabled' && c.weight > 0 && c.groups.includes(group) && c.matches(model) && healthy.has(c.id)),
    });
  }
  return out;
}

const HOUR_MS = 3_600_000;

/**
 * Channels that look healthy: enabled, their last health check (if any) passed, not cooling down
 * after failures, and not failing every call of the last hour.
 */
export async function healthyChannels(ex: Executor, catalog: Catalog, cooldowns: Cooldowns, now = Date.now()): Promise<Set<number>> {
  const checks = await ex.selectFrom('channels').select(['id', 'last_test_ok']).execute();
  const failedCheck = new Set(checks.filter((c) => c.last_test_ok === 0).map((c) => Number(c.id)));
  const recent = await ex
    .selectFrom('usage_records')
    .select(['channel_id', (eb) => eb.fn.countAll().as('calls'), (eb) => eb.fn.sum<number>(eb.case().when('status_code', '<', 400).then(1).else(0).end()).as('ok')])
    .where('created_at', '>=', now - HOUR_MS)
    .where('channel_id', 'is not', null)
    .groupBy('channel_id')
    .execute();
  const failingAll = new Set(recent.filter((r) => Number(r.calls) > 0 && Number(r.ok) === 0).map((r) => Number(r.channel_id)));
  const out = new Set<number>();
  for (const c of catalog.channels) {
    if (c.status === 'enabled' && !failedCheck.has(c.id) && !failingAll.has(c.id) && !cooldowns.isCooling(c.id, now)) out.add(c.id);
  }
  return out;
}

/**
 * The model the quick start's first request should use: the chat model this user called
 * successfully most recently, if they still may; else the first chat model a healthy channel
 * serves; else the first chat model at all. Never an embedding model (the snippet is a chat call).
 */
export async function defaultChatModel(ex: Executor, userId: number, offers: ModelOffer[]): Promise<string | null> {
  const chat = offers.filter((o) => o.kind === 'chat');
  const last = await ex
    .selectFrom('usage_records')
    .select('model')
    .where('user_id', '=', userId)
    .where('status_code', '=', 200)
    .where('endpoint', 'in', ['chat.completions', 'completions'])
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  const used = last && chat.find((o) => o.model === last.model && o.available);
  return (used ?? chat.find((o) => o.available) ?? chat[0])?.model ?? null;
}
