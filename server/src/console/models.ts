import type { Catalog } from '../gateway/catalog.js';
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
}

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
export function modelOffers(catalog: Catalog, group: string): ModelOffer[] {
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
    });
  }
  return out;
}
