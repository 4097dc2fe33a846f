import { Command, CommanderError, Option } from 'commander';
import { ROLES } from '../accounts/roles.js';
import type { CliContext } from './context.js';
import type { PaymentMethod, StaffEntryType } from '../billing/wallets.js';

/**
 * `tollgate` — the server and the first-set-up / automation commands. Every command works on the
 * configured database directly (DATABASE_URL …); running servers pick changes up within a second.
 * With --json a command prints exactly one JSON object on stdout.
 *
 * Start-up time is part of the interface: only commander is loaded up front, and each command
 * imports what it uses when it runs (`--version` and `--help` load nothing else; the database
 * commands never load Fastify, better-auth or the relay). Hence the `await import(…)`s below.
 */

type Out = { json: boolean };

function emit(opts: Out, human: string, obj: unknown) {
  process.stdout.write(opts.json ? JSON.stringify(obj) + '\n' : human + '\n');
}

async function withContext<T>(fn: (ctx: CliContext) => Promise<T>): Promise<T> {
  return (await import('./context.js')).withContext(fn);
}

/** The modules most commands use, loaded together on first use. */
const core = async () => {
  const [errors, money, audit] = await Promise.all([import('../errors.js'), import('../lib/money.js'), import('../audit/index.js')]);
  return { AppError: errors.AppError, formatMicros: money.formatMicros, parseMicros: money.parseMicros, cliActor: audit.cliActor };
};

const list = (s: string | undefined) => (s === undefined ? undefined : s.split(',').map((x) => x.trim()).filter(Boolean));
async function intOpt(v: string, name: string): Promise<number> {
  const { AppError } = await import('../errors.js');
  if (!/^-?\d+$/.test(v)) throw new AppError('validation_failed', `${name} must be a whole number (got "${v}")`, { path: name });
  return Number(v);
}
async function usdOpt(v: string, name: string): Promise<number> {
  const { AppError } = await import('../errors.js');
  const { parseMicros } = await import('../lib/money.js');
  try {
    return parseMicros(v, name);
  } catch (e) {
    throw new AppError('validation_failed', (e as Error).message, { path: name });
  }
}

// Every command but `--version` reads the configuration, and the help text lists its settings:
// load the config module up front, except for `--version`.
const versionOnly = process.argv.length > 2 && process.argv.slice(2).every((a) => a === '-V' || a === '--version');
const config = versionOnly ? null : await import('../config/index.js');
// The channel commands (and their help) name the provider types.
const providers = process.argv.slice(2).includes('channel') ? await import('../gateway/providers/index.js') : null;

const program = new Command()
  .name('tollgate')
  .description('Tollgate: an OpenAI-compatible AI API relay that bills every call to the micro-dollar.')
  .version('0.1.0')
  .showHelpAfterError()
  .addHelpText('after', () => `\nConfiguration comes from the environment: ${config?.CONFIG_ENV_VARS.slice(0, 9).join(', ')}, … (see README).`);

program
  .command('start')
  .description('Run the server (gateway /v1, API /api, web console /)')
  .option('--port <n>', 'port to listen on (default: PORT or 3000)')
  .option('--host <host>', 'address to bind (default: HOST or 0.0.0.0)')
  .action(async (o: { port?: string; host?: string }) => {
    const { startServer } = await import('../main.js');
    const server = await startServer(config!.loadConfig(process.env, { port: o.port, host: o.host }));
    process.stdout.write(`Tollgate is running at ${server.url}  (admin: ${server.url}/admin, portal: ${server.url}/console, API docs: ${server.url}/api/docs)\n`);
    let signals = 0;
    const stop = (sig: string) => {
      signals++;
      if (signals > 1) {
        server.ctx.log.warn({ sig }, 'second signal: exiting now');
        process.exit(1);
      }
      server.close().then(
        () => process.exit(0),
        (err) => {
          server.ctx.log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    // Under a supervisor that may die without signalling its children (a test runner killed on a
    // timeout), a server left behind holds its port and database; this makes it follow its parent.
    if (process.env.TOLLGATE_EXIT_WITH_PARENT === '1') {
      const parent = process.ppid;
      setInterval(() => process.ppid !== parent && stop('parent exited'), 1000).unref();
    }
  });

program
  .command('migrate')
  .description('Bring the database schema up to date (start does this too)')
  .option('--json', 'print JSON')
  .action(async (o: Out) => {
    await withContext(async (ctx) => emit(o, `database is up to date (${ctx.db.dialect})`, { ok: true, dialect: ctx.db.dialect }));
  });

program
  .command('backup')
  .description('Copy the SQLite database to FILE while servers run (online backup); PostgreSQL/MySQL: pg_dump / mysqldump')
  .requiredOption('--to <file>', 'the copy to write (must not exist yet)')
  .option('--json', 'print JSON')
  .action(async (o: { to: string; json: boolean }) => {
    const { backupDatabase } = await import('./backup.js');
    const r = await backupDatabase(config!.loadConfig(), o.to);
    emit(o, `backed up ${r.from} to ${r.file} (${r.bytes} bytes in ${r.ms} ms)`, { ok: true, ...r });
  });

// ---- channels ----
const channel = program.command('channel').description('Upstream channels');
channel
  .command('add')
  .description('Add an upstream channel (OpenAI-compatible by default)')
  .requiredOption('--name <name>', 'a name for people')
  .option('--type <type>', `openai | anthropic | a preset (${Object.keys(providers?.PRESETS ?? {}).join(', ')})`, 'openai')
  .option('--base-url <url>', "the upstream's API root (default for the type: openai https://api.openai.com/v1, anthropic https://api.anthropic.com, each preset its vendor's)")
  .option('--no-stream-usage', 'do not ask the upstream for usage in streams (for a strict upstream that rejects stream_options)')
  .requiredOption('--key <key>', 'the upstream API key (stored encrypted)')
  .requiredOption('--models <list>', 'comma-separated model names or * patterns')
  .option('--priority <n>', 'larger is tried first', '0')
  .option('--weight <n>', 'share of traffic within its priority', '1')
  .option('--group <list>', 'comma-separated groups it serves', 'default')
  .option('--mapping <pairs>', 'public=upstream model renames, comma-separated')
  .option('--test-model <model>', 'model for health checks')
  .option('--cost-ratio <ratio>', 'what we pay upstream as a fraction of list price', '1')
  .option('--json', 'print JSON')
  .action(async (o: { name: string; type: string; baseUrl?: string; streamUsage: boolean; key: string; models: string; priority: string; weight: string; group: string; mapping?: string; testModel?: string; costRatio: string; json: boolean }) => {
    const { AppError } = await import('../errors.js');
    const { CHANNEL_TYPES, DEFAULT_BASE_URLS, PLANNED_TYPES } = providers!;
    if (PLANNED_TYPES.includes(o.type)) {
      throw new AppError('validation_failed', `--type ${o.type} is not supported yet; supported: ${CHANNEL_TYPES.join(', ')}`, { path: 'type' });
    }
    if (!CHANNEL_TYPES.includes(o.type)) {
      throw new AppError('validation_failed', `unknown --type "${o.type}"; supported: ${CHANNEL_TYPES.join(', ')}`, { path: 'type' });
    }
    const baseUrl = o.baseUrl ?? DEFAULT_BASE_URLS[o.type]!;
    await withContext(async (ctx) => {
      const { AppError, cliActor } = await core();
      const mapping = o.mapping
        ? Object.fromEntries(
            list(o.mapping)!.map((p) => {
              const [a, b] = p.split('=');
              if (!a || !b) throw new AppError('validation_failed', `--mapping entries look like public=upstream (got "${p}")`, { path: 'mapping' });
              return [a.trim(), b.trim()];
            }),
          )
        : undefined;
      const view = await (await ctx.health()).create(
        {
          name: o.name,
          type: o.type,
          base_url: baseUrl,
          ...(o.streamUsage === false ? { stream_usage: false } : {}),
          key: o.key,
          models: list(o.models)!,
          priority: await intOpt(o.priority, 'priority'),
          weight: await intOpt(o.weight, 'weight'),
          groups: list(o.group)!,
          model_mapping: mapping ?? null,
          test_model: o.testModel ?? null,
          cost_ratio: o.costRatio,
        },
        cliActor(),
      );
      emit(o, `channel #${view.id} "${view.name}" (${view.type}) added: ${view.models.join(', ')} via ${view.base_url}`, view);
    });
  });
channel
  .command('list')
  .description('List channels')
  .option('--json', 'print JSON')
  .action(async (o: Out) => {
    await withContext(async (ctx) => {
      const items = await (await ctx.health()).list();
      const lines = items.map((c) => `#${c.id}\t${c.status}\tp${c.priority} w${c.weight}\t${c.name}\t${c.models.join(',')}\t${c.base_url}`);
      emit(o, lines.join('\n') || '(no channels)', { items });
    });
  });
channel
  .command('test <id>')
  .description('Run the health check of a channel now')
  .option('--json', 'print JSON')
  .action(async (id: string, o: Out) => {
    await withContext(async (ctx) => {
      const r = await (await ctx.health()).test(await intOpt(id, 'id'));
      emit(o, r.ok ? `ok: ${r.model} answered in ${r.ms} ms` : `failed after ${r.ms} ms: ${r.error}`, r);
      if (!r.ok) process.exitCode = 1;
    });
  });

// ---- prices ----
const price = program.command('price').description('Model prices');
price
  .command('set')
  .description('Set a model price in USD per 1M tokens (live for running servers)')
  .requiredOption('--model <model>', 'the public model name')
  .requiredOption('--input <usd>', 'USD per 1M prompt tokens')
  .requiredOption('--output <usd>', 'USD per 1M completion tokens')
  .option('--cached <usd>', 'USD per 1M prompt tokens read from the upstream\'s cache (default: same as input)')
  .option('--cache-write <usd>', 'USD per 1M prompt tokens written to the upstream\'s cache, e.g. Anthropic\'s 1.25× input (default: same as input)')
  .option('--per-request <usd>', 'USD per call, on top of tokens')
  .option('--json', 'print JSON')
  .action(async (o: { model: string; input: string; output: string; cached?: string; cacheWrite?: string; perRequest?: string; json: boolean }) => {
    await withContext(async (ctx) => {
      const [{ setPrice }, { cliActor }] = await Promise.all([import('../billing/prices.js'), core()]);
      const view = await setPrice(
        ctx.db,
        await ctx.feed(),
        o.model,
        {
          input: o.input,
          output: o.output,
          ...(o.cached !== undefined ? { cached_input: o.cached } : {}),
          ...(o.cacheWrite !== undefined ? { cache_write: o.cacheWrite } : {}),
          ...(o.perRequest !== undefined ? { per_request: o.perRequest } : {}) },
        cliActor(),
      );
      emit(o, `${view.model}: $${view.input_usd_per_1m} in / $${view.output_usd_per_1m} out per 1M tokens${view.request_micros ? `, $${view.per_request_usd} per call` : ''}`, view);
    });
  });
price
  .command('list')
  .description('List model prices')
  .option('--json', 'print JSON')
  .action(async (o: Out) => {
    await withContext(async (ctx) => {
      const { listPrices } = await import('../billing/prices.js');
      const items = await listPrices(ctx.db);
      emit(o, items.map((p) => `${p.model}\t$${p.input_usd_per_1m} in\t$${p.output_usd_per_1m} out\t(per 1M)`).join('\n') || '(no prices)', { items });
    });
  });

// ---- users and balances ----
const user = program.command('user').description('Users');
user
  .command('add')
  .description('Create a user (with an empty wallet)')
  .requiredOption('--email <email>', 'sign-in email')
  .option('--password <password>', 'lets the user sign in to the portal (8+ characters)')
  .option('--name <name>', 'display name')
  .addOption(new Option('--role <role>', 'role').choices([...ROLES]).default('user'))
  .option('--group <group>', 'pricing/routing group', 'default')
  .option('--json', 'print JSON')
  .action(async (o: { email: string; password?: string; name?: string; role: (typeof ROLES)[number]; group: string; json: boolean }) => {
    await withContext(async (ctx) => {
      const [{ createUser, userView }, { cliActor }] = await Promise.all([import('../accounts/users.js'), core()]);
      const { user: u, wallet } = await createUser(ctx.db, { email: o.email, password: o.password, name: o.name, role: o.role, group: o.group }, cliActor());
      emit(o, `user #${u.id} ${u.email} created (${u.role})`, userView(u, wallet));
    });
  });
user
  .command('show <user>')
  .description('Show a user (by email or id) with balance_micros and pending_micros')
  .option('--json', 'print JSON')
  .action(async (ref: string, o: Out) => {
    await withContext(async (ctx) => {
      const [{ resolveUser, getUserWithWallet, userView }, { formatMicros }] = await Promise.all([import('../accounts/users.js'), core()]);
      const usd = (micros: number) => `$${formatMicros(micros)}`;
      const u = await resolveUser(ctx.db.kysely, ref);
      const { user: fu, wallet } = await getUserWithWallet(ctx.db.kysely, u.id);
      const v = userView(fu, wallet);
      emit(
        o,
        [
          `user #${v.id} ${v.email} (${v.name}), ${v.role}, ${v.status}, group ${v.group}`,
          `balance ${usd(v.balance_micros)} (cash ${usd(v.cash_micros)}, gift ${usd(v.gift_micros)}), on hold ${usd(v.pending_micros)}, available ${usd(v.available_micros)}${v.arrears_micros ? `, ARREARS ${usd(v.arrears_micros)}` : ''}`,
        ].join('\n'),
        v,
      );
    });
  });

for (const verb of ['freeze', 'unfreeze'] as const) {
  user
    .command(`${verb} <user>`)
    .description(
      verb === 'freeze'
        ? 'Freeze an account (email or id): its keys are refused with 403 account_frozen by every server within seconds, its sessions end'
        : 'Unfreeze an account (email or id); its keys work again within seconds',
    )
    .requiredOption('--reason <text>', 'why (required; kept in the audit log)')
    .option('--json', 'print JSON')
    .action(async (ref: string, o: { reason: string; json: boolean }) => {
      await withContext(async (ctx) => {
        const [users, { cliActor }] = await Promise.all([import('../accounts/users.js'), core()]);
        const u = await users.resolveUser(ctx.db.kysely, ref);
        const change = verb === 'freeze' ? users.freezeUser : users.unfreezeUser;
        await change(ctx.db, await ctx.feed(), u.id, o.reason, cliActor());
        const { user: fu, wallet } = await users.getUserWithWallet(ctx.db.kysely, u.id);
        emit(o, `user #${fu.id} ${fu.email} ${verb === 'freeze' ? 'frozen' : 'unfrozen'}`, users.userView(fu, wallet));
      });
    });
}

const balance = program.command('balance').description('Balances');
balance
  .command('add')
  .alias('adjust')
  .description('Book cash for a user: a top-up, deduction, compensation or correction (negative amounts deduct, never below zero)')
  .requiredOption('--user <user>', 'email or id')
  .requiredOption('--amount <usd>', 'USD, e.g. 25 or -3.50 (a deduction is negative)')
  .requiredOption('--reason <text>', 'why (kept in the ledger and the audit log)')
  .addOption(new Option('--type <type>', 'topup (money received), deduction, compensation or correction; omitted: an untyped manual adjustment').choices(['topup', 'deduction', 'compensation', 'correction']))
  .addOption(new Option('--method <method>', 'how the money came in (required with --type topup)').choices(['bank_transfer', 'cash', 'alipay', 'wechat', 'other']))
  .option('--reference <ref>', 'bank slip, transaction or receipt number')
  .option('--idempotency-key <key>', 'repeat-safe: the same key never moves money twice')
  .option('--json', 'print JSON')
  .action(async (o: { user: string; amount: string; reason: string; type?: StaffEntryType; method?: PaymentMethod; reference?: string; idempotencyKey?: string; json: boolean }) => {
    await withContext(async (ctx) => {
      const [{ resolveUser, getUserWithWallet, userView }, { adjustUserBalance }, { cliActor, formatMicros }] = await Promise.all([
        import('../accounts/users.js'),
        import('../billing/wallets.js'),
        core(),
      ]);
      const usd = (micros: number) => `$${formatMicros(micros)}`;
      const amount = await usdOpt(o.amount, 'amount');
      const u = await resolveUser(ctx.db.kysely, o.user);
      const res = await adjustUserBalance(ctx.db, cliActor(), u.id, {
        amount,
        reason: o.reason,
        type: o.type,
        paymentMethod: o.method,
        reference: o.reference,
        idempotencyKey: o.idempotencyKey,
      });
      const fresh = await getUserWithWallet(ctx.db.kysely, u.id);
      const v = userView(fresh.user, fresh.wallet);
      emit(o, `${u.email}: ${amount > 0 ? 'added' : 'deducted'} ${usd(Math.abs(amount))}; balance now ${usd(v.balance_micros)}${res.replayed ? ' (already applied earlier)' : ''}`, {
        ...v,
        entry_id: res.entry.id,
        entry_type: res.entry.type,
        payment_method: res.entry.payment_method,
        reference: res.entry.external_ref,
        amount_micros: amount,
        replayed: res.replayed,
        arrears_repaid_micros: res.arrearsRepaid,
      });
    });
  });

// ---- keys ----
const key = program.command('key').description('API keys');
key
  .command('create')
  .description('Create an sk- key for a user; prints the key (shown only this once)')
  .requiredOption('--user <user>', 'email or id')
  .option('--name <name>', 'a label', 'default')
  .option('--models <list>', 'allowed models (comma-separated, * patterns); default all')
  .option('--ips <list>', 'allowed IPs/CIDRs (comma-separated); default any')
  .option('--expires <iso>', 'expiry time, ISO 8601')
  .option('--quota <usd>', "the key's own spending cap in USD")
  .option('--group <group>', 'group (default: the user\'s)')
  .option('--rpm <n>', 'requests per minute limit')
  .option('--json', 'print JSON')
  .action(async (o: { user: string; name: string; models?: string; ips?: string; expires?: string; quota?: string; group?: string; rpm?: string; json: boolean }) => {
    await withContext(async (ctx) => {
      const [{ resolveUser }, { createKey }, { AppError, cliActor }] = await Promise.all([import('../accounts/users.js'), import('../accounts/keys.js'), core()]);
      const u = await resolveUser(ctx.db.kysely, o.user);
      let expiresAt: number | undefined;
      if (o.expires !== undefined) {
        expiresAt = Date.parse(o.expires);
        if (!Number.isFinite(expiresAt)) throw new AppError('validation_failed', `--expires is not a time: "${o.expires}" (use ISO 8601, e.g. 2027-01-31T00:00:00Z)`, { path: 'expires' });
      }
      const { key: plain, view } = await createKey(ctx.db, await ctx.feed(), u.id, {
        name: o.name,
        models: list(o.models),
        ips: list(o.ips),
        expiresAt,
        quotaMicros: o.quota === undefined ? undefined : await usdOpt(o.quota, 'quota'),
        group: o.group,
        rpmLimit: o.rpm === undefined ? undefined : await intOpt(o.rpm, 'rpm'),
      }, cliActor());
      emit(o, plain, { ...view, key: plain });
    });
  });
key
  .command('revoke <keyOrId>')
  .description('Revoke a key (by id or the full sk- key); refused by every server within seconds')
  .option('--json', 'print JSON')
  .action(async (ref: string, o: Out) => {
    await withContext(async (ctx) => {
      const [{ resolveKey, revokeKey, keyView }, { cliActor }] = await Promise.all([import('../accounts/keys.js'), core()]);
      const k = await resolveKey(ctx.db.kysely, ref);
      const { after } = await revokeKey(ctx.db, await ctx.feed(), k.id, { actor: cliActor() });
      emit(o, `key #${k.id} (${k.key_prefix}…${k.key_last4}) revoked`, keyView(after));
    });
  });
key
  .command('rotate <keyOrId>')
  .description('Give a key (by id or the full sk- key) a new secret; prints the new key alone on stdout (shown only this once)')
  .option('--grace <duration>', 'how long the previous secret keeps working: 0 (refused at once), 90s, 10m, 24h, 7d; at most 30 days', '0')
  .option('--json', 'print JSON')
  .action(async (ref: string, o: { grace: string; json: boolean }) => {
    await withContext(async (ctx) => {
      const [{ resolveKey, rotateKey, parseGrace }, { cliActor }] = await Promise.all([import('../accounts/keys.js'), core()]);
      const grace = parseGrace(o.grace, 'grace');
      const k = await resolveKey(ctx.db.kysely, ref);
      const { key: plain, view, graceSeconds } = await rotateKey(ctx.db, await ctx.feed(), k.id, grace, cliActor());
      emit(o, plain, { ...view, key: plain, grace_seconds: graceSeconds });
    });
  });
key
  .command('lock <keyOrId>')
  .description('Lock a key that may have leaked (by id or either of its sk- secrets): refused at once by every server with 401 key_locked; its owner sees a notice')
  .requiredOption('--reason <text>', 'why (required; shown to the owner and kept in the audit log)')
  .option('--json', 'print JSON')
  .action(async (ref: string, o: { reason: string; json: boolean }) => {
    await withContext(async (ctx) => {
      const [{ resolveKey, lockKey, keyView }, { cliActor }] = await Promise.all([import('../accounts/keys.js'), core()]);
      const k = await resolveKey(ctx.db.kysely, ref);
      const { after } = await lockKey(ctx.db, await ctx.feed(), k.id, o.reason, cliActor());
      emit(o, `key #${k.id} (${after.key_prefix}…${after.key_last4}) locked`, keyView(after));
    });
  });
key
  .command('list')
  .description('List keys (never the keys themselves)')
  .option('--user <user>', 'only this user\'s keys (email or id)')
  .option('--json', 'print JSON')
  .action(async (o: { user?: string; json: boolean }) => {
    await withContext(async (ctx) => {
      const [{ resolveUser }, { listKeys }] = await Promise.all([import('../accounts/users.js'), import('../accounts/keys.js')]);
      const userId = o.user ? (await resolveUser(ctx.db.kysely, o.user)).id : undefined;
      const page = await listKeys(ctx.db.kysely, { userId, page: 1, pageSize: 500 });
      emit(o, page.items.map((k) => `#${k.id}\t${k.display}\t${k.state}\t${k.owner_email}\t${k.name}`).join('\n') || '(no keys)', page);
    });
  });

async function fail(err: unknown, json: boolean): Promise<never> {
  const { AppError } = await import('../errors.js');
  const ConfigError = config?.ConfigError;
  const e =
    err instanceof AppError
      ? err
      : ConfigError && err instanceof ConfigError
        ? new AppError('validation_failed', err.message)
        : new AppError('internal', (err as Error)?.message ?? String(err));
  if (json) process.stdout.write(JSON.stringify({ error: { code: e.code, message: e.message, path: e.path ?? null } }) + '\n');
  process.stderr.write(`tollgate: ${e.message}\n`);
  process.exit(e.code === 'internal' ? 1 : e.status >= 500 ? 1 : 1);
}

const wantsJson = process.argv.includes('--json');
program.exitOverride();
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
    if (wantsJson) process.stdout.write(JSON.stringify({ error: { code: 'usage', message: err.message, path: null } }) + '\n');
    process.exit(2);
  }
  await fail(err, wantsJson);
}
