import { createKey, type KeyInput } from '../../server/src/accounts/keys.js';
import { createUser } from '../../server/src/accounts/users.js';
import { adjustCash } from '../../server/src/billing/wallets.js';
import { setPrice, type PriceInput } from '../../server/src/billing/prices.js';
import { parseMicros } from '../../server/src/lib/money.js';
import { CLI_ACTOR } from '../../server/src/audit/index.js';
import type { ChannelInput } from '../../server/src/gateway/channels.js';
import type { AppContext } from '../../server/src/context.js';

let seq = 0;

/** A channel pointing at a fake upstream. */
export async function addChannel(ctx: AppContext, upstreamUrl: string, over: Partial<ChannelInput> = {}) {
  const ch = await ctx.health.create(
    { name: `fake-${++seq}`, base_url: upstreamUrl, key: `sk-upstream-${seq}`, models: ['gpt-4o-mini', 'text-embedding-3-small', 'gpt-3.5-turbo-instruct'], ...over },
    CLI_ACTOR,
  );
  await ctx.feed.pollNow();
  return ch;
}

export async function addPrice(ctx: AppContext, model: string, p: PriceInput) {
  const v = await setPrice(ctx.db, ctx.feed, model, p, CLI_ACTOR);
  await ctx.feed.pollNow();
  return v;
}

/** A user with `balanceUsd` of cash and one key (in `group`, default "default"). */
export async function addUserWithKey(ctx: AppContext, opts: { email?: string; balanceUsd?: string; password?: string; group?: string; key?: KeyInput } = {}) {
  const email = opts.email ?? `user${++seq}-${Date.now()}@example.com`;
  const { user, wallet } = await createUser(ctx.db, { email, password: opts.password ?? 'password-123', ...(opts.group ? { group: opts.group } : {}) });
  if (opts.balanceUsd && parseMicros(opts.balanceUsd) > 0) {
    await adjustCash(ctx.db, { walletId: wallet.id, userId: user.id, amount: parseMicros(opts.balanceUsd), type: 'topup', reason: 'test', actorId: null });
  }
  const { key, view } = await createKey(ctx.db, ctx.feed, user.id, opts.key ?? {});
  await ctx.feed.pollNow();
  return { user, wallet, key, keyView: view };
}

export async function walletOf(ctx: AppContext, walletId: number) {
  return ctx.db.kysely.selectFrom('wallets').selectAll().where('id', '=', walletId).executeTakeFirstOrThrow();
}
