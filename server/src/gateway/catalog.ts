import type { Db } from '../db/index.js';
import { parseJsonArray } from '../db/index.js';
import type { ChannelRow } from '../db/schema.js';
import type { SecretBox } from '../lib/crypto.js';
import { compilePatterns, isWildcard, type ModelMatcher } from '../lib/patterns.js';
import type { Logger } from '../log.js';
import type { PriceCard } from '../billing/pricing.js';

/** A channel as the router uses it: decrypted key, compiled model patterns, split base URL. */
export interface Channel {
  id: number;
  name: string;
  type: string;
  baseUrl: string;
  origin: string;
  /** Path before the endpoint: `https://x.com` → `/v1`; `https://x.com/openai/v1` → `/openai/v1`. */
  pathPrefix: string;
  apiKey: string;
  models: string[];
  matches: ModelMatcher;
  mapping: Map<string, string>;
  groups: string[];
  priority: number;
  weight: number;
  status: string;
  testModel: string | null;
  costRatioPpm: number;
  /** Ask the upstream for usage in streams (OpenAI's stream_options.include_usage); off for strict upstreams. */
  streamUsage: boolean;
}

export interface Tier {
  priority: number;
  channels: Channel[];
}

/** Split a channel base URL into origin and path prefix (an OpenAI-style `/v1` when no path is given). */
export function splitBaseUrl(baseUrl: string): { origin: string; pathPrefix: string } {
  const u = new URL(baseUrl);
  const path = u.pathname.replace(/\/+$/, '');
  return { origin: u.origin, pathPrefix: path === '' ? '/v1' : path };
}

/** Per-channel switches; an unreadable value means the defaults. */
export function channelOptions(json: string | null | undefined): { stream_usage?: boolean } {
  if (!json) return {};
  try {
    const o = JSON.parse(json) as unknown;
    return o && typeof o === 'object' && !Array.isArray(o) ? (o as { stream_usage?: boolean }) : {};
  } catch {
    return {};
  }
}

export function toChannel(row: ChannelRow, box: SecretBox): Channel {
  const models = parseJsonArray(row.models);
  let mapping = new Map<string, string>();
  if (row.model_mapping) {
    try {
      mapping = new Map(Object.entries(JSON.parse(row.model_mapping) as Record<string, string>));
    } catch {
      /* validated on write; an unreadable value maps nothing */
    }
  }
  const { origin, pathPrefix } = splitBaseUrl(row.base_url);
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    baseUrl: row.base_url,
    origin,
    pathPrefix,
    apiKey: box.open(row.key_sealed),
    models,
    // A public name that is mapped is served even if only its upstream name is listed.
    matches: compilePatterns([...models, ...mapping.keys()]),
    mapping,
    groups: parseJsonArray(row.groups),
    priority: row.priority,
    weight: Math.max(0, row.weight),
    status: row.status,
    testModel: row.test_model,
    costRatioPpm: row.cost_ratio_ppm,
    streamUsage: channelOptions(row.options).stream_usage !== false,
  };
}

/**
 * The in-memory catalogue of prices, group multipliers and channels that the hot path reads.
 * Reloaded whole when the change feed says any of them changed (they are small tables).
 */
export class Catalog {
  prices = new Map<string, PriceCard>();
  groups = new Map<string, number>();
  channels: Channel[] = [];
  #tiers = new Map<string, Tier[]>();
  version = 0;

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly log: Logger,
  ) {}

  async load(): Promise<void> {
    await Promise.all([this.loadPrices(), this.loadGroups(), this.loadChannels()]);
  }

  async loadPrices(): Promise<void> {
    const rows = await this.db.kysely.selectFrom('model_prices').selectAll().execute();
    this.prices = new Map(
      rows.map((r) => [
        r.model,
        {
          model: r.model,
          input: r.input_price,
          output: r.output_price,
          cachedInput: r.cached_input_price,
          cacheWrite: r.cache_write_price,
          request: r.request_price,
        },
      ]),
    );
    this.version++;
  }

  async loadGroups(): Promise<void> {
    const rows = await this.db.kysely.selectFrom('groups').select(['name', 'multiplier_ppm']).execute();
    this.groups = new Map(rows.map((r) => [r.name, r.multiplier_ppm]));
    this.version++;
  }

  async loadChannels(): Promise<void> {
    const rows = await this.db.kysely.selectFrom('channels').selectAll().orderBy('id').execute();
    const channels: Channel[] = [];
    for (const r of rows) {
      try {
        channels.push(toChannel(r, this.box));
      } catch (err) {
        this.log.error({ err, channel: r.id }, 'channel cannot be loaded (was TOLLGATE_SECRET changed?)');
      }
    }
    this.channels = channels;
    this.#tiers.clear();
    this.version++;
  }

  price(model: string): PriceCard | undefined {
    return this.prices.get(model);
  }

  multiplier(group: string): number {
    return this.groups.get(group) ?? 1_000_000;
  }

  /** Enabled channels serving `model` to `group`, highest priority first (cached per pair). */
  tiers(group: string, model: string): Tier[] {
    const k = group + '\u0000' + model;
    let t = this.#tiers.get(k);
    if (t) return t;
    const eligible = this.channels.filter((c) => c.status === 'enabled' && c.weight > 0 && c.groups.includes(group) && c.matches(model));
    const byPriority = new Map<number, Channel[]>();
    for (const c of eligible) byPriority.set(c.priority, [...(byPriority.get(c.priority) ?? []), c]);
    t = [...byPriority.entries()].sort((a, b) => b[0] - a[0]).map(([priority, channels]) => ({ priority, channels }));
    if (this.#tiers.size > 10_000) this.#tiers.clear();
    this.#tiers.set(k, t);
    return t;
  }

  /** Whether any channel at all (any group, any status) lists the model — tells 404 from 403/503. */
  anyChannelLists(model: string): boolean {
    return this.channels.some((c) => c.matches(model));
  }

  /** Models a group can call: priced, and served by an enabled channel (exact names, plus priced names matching a wildcard). */
  modelsFor(group: string): string[] {
    const out = new Set<string>();
    for (const c of this.channels) {
      if (c.status !== 'enabled' || !c.groups.includes(group)) continue;
      for (const m of [...c.models, ...c.mapping.keys()]) if (!isWildcard(m) && this.prices.has(m)) out.add(m);
      if (c.models.some(isWildcard)) for (const m of this.prices.keys()) if (c.matches(m)) out.add(m);
    }
    return [...out].sort();
  }
}
