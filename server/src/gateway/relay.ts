import { once } from 'node:events';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import { costMicros, type PriceCard, type TokenUsage } from '../billing/pricing.js';
import type { HeldAmount, UsageDraft } from '../billing/money-store.js';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import { scrubSecrets } from '../lib/scrub.js';
import type { Channel } from './catalog.js';
import type { ParsedCall } from './inbound/openai.js';
import { presentedKey, refusedPrincipal, type Principal } from './key-cache.js';
import type { TokenReservation } from './rate-limit.js';
import { requestOrigin } from '../lib/origins.js';
import { providerFor } from './providers/index.js';
import type { Endpoint, Failure, Provider } from './providers/types.js';
import { pickChannel } from './router.js';
import { anthropicErrorBody, chatToMessages, completionToMessage, messagesToChat, messageToCompletion, anthropicUsage, openaiUsage } from './formats/anthropic.js';
import { AnthropicPassthrough, AnthropicToChatStream, ChatToAnthropicStream } from './formats/anthropic-stream.js';
import { OpenAIPassthrough } from './formats/openai-pipe.js';
import type { StreamPipe } from './formats/types.js';
import { countCompletionTokens } from './tokenizer.js';

/** What the relay uses of the application context. */
export type RelayDeps = Pick<AppContext, 'config' | 'catalog' | 'keys' | 'limiter' | 'cooldowns' | 'pools' | 'money' | 'health' | 'touches' | 'channelStats' | 'metrics' | 'log'>;

/** Everything known about one call once it has been admitted and its hold placed. */
interface Call {
  requestId: string;
  startedAt: number;
  t0: number;
  principal: Principal;
  parsed: ParsedCall;
  price: PriceCard;
  multiplierPpm: number;
  hold: HeldAmount;
  clientIp: string;
  attempts: number;
  channel: Channel | null;
  upstreamModel: string | null;
  /** The key's tokens-per-minute count for this call, corrected when it settles. */
  tpm: TokenReservation | null;
}

/** What the attempt loop ended with, for the usage record and the log line. */
interface Outcome {
  status: number;
  usage: TokenUsage | null;
  usageSource: 'upstream' | 'estimated' | 'none';
  errorCode: string | null;
  errorMessage: string | null;
  ttfbMs: number | null;
  /** Whether the caller got (some of) an answer and must pay for it. */
  billable: boolean;
}

const REFUSAL_MESSAGES = {
  insufficient_funds: 'Insufficient balance to make this request. Please top up your account.',
  key_quota_exceeded: "This API key's quota is used up. Raise the key's quota or use another key.",
  account_in_arrears: 'Your account has unpaid usage (arrears). Please top up to continue.',
} as const;

/** Read at most `limit` bytes of an upstream error body (a misbehaving upstream could send a lot). */
async function readErrorBody(body: Dispatcher.ResponseData['body'], limit = 64 * 1024): Promise<string> {
  let out = '';
  for await (const chunk of body) {
    out += chunk.toString('utf8');
    if (out.length > limit) {
      body.destroy();
      break;
    }
  }
  return out;
}

/**
 * Whether a stream that ended (completely, cut by the caller, or broken upstream) is charged.
 *  - Completed, or cut by the caller: charged for what was delivered — a caller who hangs up
 *    after the opening event still made the upstream read the prompt.
 *  - Broken upstream: charged only if it delivered output (completion tokens). A stream that
 *    failed after only its opening role event gave the caller nothing; DESIGN.md: "nothing is
 *    charged for a call that failed upstream".
 */
export function streamBillable(errorCode: string | null, eventsDelivered: number, completionTokens: number): boolean {
  if (errorCode && errorCode !== 'client_closed') return completionTokens > 0;
  return eventsDelivered > 0 || completionTokens > 0;
}

/**
 * The relay: admit a call (key, model, IP, rate), hold its estimated cost, forward it to the best
 * channel with failover, relay the answer (streamed chunk by chunk, or whole), and settle the
 * actual cost — or void the hold when nothing was delivered. No path leaves a hold open: every
 * exit goes through `#finish`, and the sweeper expires holds of a process that died.
 */
export class Relay {
  readonly #active = new Set<AbortController>();

  constructor(private readonly d: RelayDeps) {}

  /** Calls between arrival and their final settle/release. */
  #calls = 0;
  #idleWaiters: (() => void)[] = [];

  get inflight(): number {
    return this.#calls;
  }

  /** Admit and forward one call, counted so that shutdown can wait for it to settle. */
  async handle(req: FastifyRequest, reply: FastifyReply, parse: () => ParsedCall): Promise<void> {
    this.#calls++;
    try {
      const t0 = performance.now();
      let parsed: ParsedCall | null = null;
      let principal: Principal | null = null;
      let call: Call;
      try {
        parsed = parse();
        principal = await this.d.keys.authenticate(presentedKey(req.headers));
        call = await this.admit(req, parsed, principal, t0);
      } catch (err) {
        await this.refused(req, err, principal, { endpoint: parsed?.endpoint ?? endpointOf(req), model: parsed?.model ?? '', stream: parsed?.stream ?? false }, t0);
        throw err;
      }
      await this.forward(call, req, reply);
    } finally {
      if (--this.#calls === 0) for (const w of this.#idleWaiters.splice(0)) w();
    }
  }

  /** Resolves when no call is in progress (or after `timeoutMs`). */
  async idle(timeoutMs: number): Promise<boolean> {
    if (this.#calls === 0) return true;
    return new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      t.unref();
      this.#idleWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** Shutdown after the grace period: cut every call; each settles for what it delivered. */
  abortAll(): void {
    for (const ac of this.#active) ac.abort(new Error('server shutting down'));
  }

  /**
   * A call refused before it reached an upstream (bad key, not allowed, rate limited, unknown
   * model or route, no money): counted and logged; when the key was valid it also gets a usage
   * record with its status and error code, costing nothing, so that its owner and the operator
   * see it in the usage lists. Written through the money store's group commit; never throws.
   */
  async refused(req: FastifyRequest, err: unknown, principal: Principal | null, what: { endpoint: string; model: string; stream: boolean }, t0: number): Promise<void> {
    const e = err instanceof AppError ? err : null;
    const status = e?.status ?? 500;
    const code = e?.code ?? 'internal';
    this.d.metrics.refusals.inc({ reason: code, status: String(status) });
    this.d.log.info({ reqId: req.id, key: principal?.keyId, user: principal?.userId, model: what.model || undefined, status, err: code }, 'refused');
    // A known key refused for its own or its account's state is recorded for its owner too.
    principal ??= refusedPrincipal(err);
    // Nobody to show it to without a known key; and a database that just failed cannot take the record either.
    if (!principal || code === 'database_unavailable' || code === 'internal') return;
    const price = what.model ? this.d.catalog.price(what.model) : null;
    try {
      await this.d.money.record({
        request_id: req.id,
        created_at: Date.now(),
        user_id: principal.userId,
        key_id: principal.keyId,
        wallet_id: principal.walletId,
        endpoint: what.endpoint.slice(0, 32),
        model: what.model.slice(0, 191),
        upstream_model: null,
        channel_id: null,
        stream: what.stream ? 1 : 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        cached_tokens: 0,
        input_price: price?.input ?? 0,
        output_price: price?.output ?? 0,
        cached_input_price: price ? (price.cachedInput ?? price.input) : 0,
        request_price: price?.request ?? 0,
        multiplier_ppm: this.d.catalog.multiplier(principal.group),
        cost_micros: 0,
        status_code: status,
        error_code: code,
        error_message: (e?.message ?? 'The gateway failed to handle this request.').slice(0, 1000),
        latency_ms: Math.round(performance.now() - t0),
        ttfb_ms: null,
        attempts: 0,
        usage_source: 'none',
        client_ip: req.ip,
      });
    } catch (recordErr) {
      this.d.log.error({ err: recordErr, reqId: req.id }, 'could not record a refused call');
    }
  }

  /**
   * A request to a /v1 path that does not exist: refused like any call (a 404 the key's owner
   * sees in their usage when the key is valid).
   */
  async refusedRoute(req: FastifyRequest, err: AppError): Promise<void> {
    const t0 = performance.now();
    const principal = await this.d.keys.authenticate(presentedKey(req.headers)).catch(() => null);
    const model = (req.body as { model?: unknown } | undefined)?.model;
    await this.refused(req, err, principal, { endpoint: endpointOf(req), model: typeof model === 'string' ? model : '', stream: false }, t0);
  }

  /** Admit and hold; throws the AppError the caller should see. */
  async admit(req: FastifyRequest, parsed: ParsedCall, principal: Principal, t0: number): Promise<Call> {
    const { catalog, config } = this.d;
    if (principal.ipAllowed && !principal.ipAllowed(req.ip)) {
      throw new AppError('ip_not_allowed', `This API key cannot be used from IP address ${req.ip}.`);
    }
    if (principal.originAllowed) {
      const h = req.headers;
      const origin = requestOrigin(typeof h.origin === 'string' ? h.origin : undefined, typeof h.referer === 'string' ? h.referer : undefined);
      if (!principal.originAllowed(origin)) {
        throw new AppError('origin_not_allowed', origin ? `This API key cannot be used from ${origin.origin}.` : 'This API key may only be used from the sites its owner allowed; the request named none (no Origin or Referer header).');
      }
    }
    if (principal.allowedModels && !principal.allowedModels(parsed.model)) {
      throw new AppError('model_not_allowed', `This API key is not allowed to use the model \`${parsed.model}\`.`, { path: 'model' });
    }
    const rpm = principal.rpmLimit ?? config.gateway.defaultKeyRpm;
    if (rpm > 0) await this.d.limiter.check(principal.keyId, rpm);

    const price = catalog.price(parsed.model);
    const tiers = catalog.tiers(principal.group, parsed.model);
    if (!price || tiers.length === 0) {
      if (price && catalog.channels.some((c) => c.groups.includes(principal.group) && c.matches(parsed.model))) {
        throw new AppError('no_channel', `No channel is available for the model \`${parsed.model}\` right now. Please try again later.`);
      }
      if (!price && tiers.length > 0) this.d.log.warn({ model: parsed.model }, 'model has channels but no price; refusing calls');
      throw new AppError('model_not_found', `The model \`${parsed.model}\` does not exist or you do not have access to it.`, { path: 'model' });
    }
    const multiplierPpm = catalog.multiplier(principal.group);
    const estimate = estimateCost(price, parsed, multiplierPpm);
    const now = Date.now();
    const requestId = req.id;
    const hold = {
      requestId,
      walletId: principal.walletId,
      keyId: principal.keyId,
      amount: estimate,
      keyQuota: principal.hasQuota,
      expiresAt: now + config.gateway.holdTtlMs,
    };
    const tpm = principal.tpmLimit ? await this.d.limiter.reserveTokens(principal.keyId, principal.tpmLimit, parsed.promptTokens + parsed.maxOutputTokens, now) : null;
    let held = await this.d.money.hold(hold, now).catch((err: unknown) => {
      if (tpm) this.d.limiter.correctTokens(tpm, 0);
      throw err;
    });
    // Arrears the account's own free cash can pay (cash left once the calls that held it settled)
    // are paid now, and the call tried once more; only refused calls take this path.
    if (!held.ok && held.reason === 'account_in_arrears' && (await this.d.money.repayArrears(principal.walletId)) > 0) {
      held = await this.d.money.hold(hold, now);
    }
    if (!held.ok) {
      if (tpm) this.d.limiter.correctTokens(tpm, 0);
      throw new AppError(held.reason, REFUSAL_MESSAGES[held.reason]);
    }
    this.d.touches.touch(principal.keyId, now);
    return {
      requestId,
      startedAt: now,
      t0,
      principal,
      parsed,
      price,
      multiplierPpm,
      hold: { id: held.holdId, amount: estimate, keyQuota: principal.hasQuota },
      clientIp: req.ip,
      attempts: 0,
      channel: null,
      upstreamModel: null,
      tpm,
    };
  }

  /** Forward an admitted call and answer the caller. Never throws after the hold: it settles or voids. */
  async forward(call: Call, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const ac = new AbortController();
    this.#active.add(ac);
    this.d.metrics.inflight.inc();
    // The caller hanging up aborts the upstream call; what was delivered is still charged.
    const onClose = () => {
      if (!reply.raw.writableFinished) ac.abort(new Error('client closed the connection'));
    };
    reply.raw.on('close', onClose);
    // The caller may have hung up while the hold was being placed, before we listened.
    if (reply.raw.destroyed || req.raw.socket?.destroyed) onClose();
    let outcome: Outcome | undefined;
    try {
      outcome = await this.#attempts(call, reply, ac.signal);
    } catch (err) {
      const e = err instanceof AppError ? err : new AppError('internal', 'The gateway failed to complete this request.', { cause: err });
      if (!(err instanceof AppError)) this.d.log.error({ err, reqId: call.requestId }, 'relay failed');
      outcome = { status: e.status, usage: null, usageSource: 'none', errorCode: e.code, errorMessage: e.message, ttfbMs: null, billable: false };
      await this.#finish(call, outcome);
      throw e;
    } finally {
      reply.raw.off('close', onClose);
      this.#active.delete(ac);
      this.d.metrics.inflight.dec();
    }
  }

  async #attempts(call: Call, reply: FastifyReply, signal: AbortSignal): Promise<Outcome> {
    const { catalog, config, cooldowns, metrics } = this.d;
    const tiers = catalog.tiers(call.principal.group, call.parsed.model);
    const tried = new Set<number>();
    let last: Failure | null = null;
    for (let attempt = 0; attempt <= config.gateway.retries; attempt++) {
      const channel = pickChannel(tiers, tried, cooldowns);
      if (!channel) break;
      tried.add(channel.id);
      call.attempts++;
      call.channel = channel;
      const provider = providerFor(channel.type);
      const upstreamModel = channel.mapping.get(call.parsed.model) ?? call.parsed.model;
      call.upstreamModel = upstreamModel;
      const rendered = this.#render(call, channel, provider, upstreamModel);
      if (!rendered) {
        last = { kind: 'mismatch', status: 404, message: `a ${channel.type} channel cannot serve ${call.parsed.endpoint}`, code: null };
        continue;
      }
      const up = provider.build(channel, rendered.endpoint, rendered.body, provider.wire === call.parsed.format ? call.parsed.headers : undefined);
      let res: Dispatcher.ResponseData;
      try {
        res = await this.d.pools.request(channel.origin, { path: up.path, method: 'POST', headers: up.headers, body: up.body, signal });
      } catch (err) {
        if (signal.aborted) return this.#finishAborted(call, null);
        last = networkFailure(err);
        metrics.upstreamFailures.inc({ channel: String(channel.id), kind: last.kind });
        this.d.channelStats.fail(channel.id, last.message);
        cooldowns.cool(channel.id, config.gateway.cooldownMs);
        this.d.log.warn({ reqId: call.requestId, channel: channel.id, err: scrubSecrets((err as Error).message, [channel.apiKey]) }, 'upstream request failed');
        continue;
      }
      if (res.statusCode >= 400) {
        let text = '';
        try {
          text = await readErrorBody(res.body);
        } catch {
          if (signal.aborted) return this.#finishAborted(call, null);
        }
        // The text goes to the caller (a 4xx passed through), the usage record, the channel's status
        // and the log: an upstream may echo the credentials it was sent.
        const classified = provider.classifyFailure(res.statusCode, text);
        const f = { ...classified, message: scrubSecrets(classified.message, [channel.apiKey]) };
        metrics.upstreamFailures.inc({ channel: String(channel.id), kind: f.kind });
        // A request the upstream refuses as malformed says nothing about the channel's health.
        if (f.kind === 'client') {
          this.d.channelStats.ok(channel.id);
          return this.#passThroughError(call, reply, f);
        }
        if (f.kind !== 'mismatch') this.d.channelStats.fail(channel.id, `${f.status}${f.code ? ` ${f.code}` : ''}: ${f.message}`);
        last = f;
        if (f.kind === 'auth' || f.kind === 'quota') {
          void this.d.health.autoDisable(channel.id, `upstream ${f.status} ${f.code ?? ''}: ${f.message}`.slice(0, 500));
        } else if (f.kind !== 'mismatch') {
          cooldowns.cool(channel.id, config.gateway.cooldownMs);
        }
        this.d.log.warn({ reqId: call.requestId, channel: channel.id, status: f.status, kind: f.kind, upstream_message: f.message }, 'upstream refused');
        continue;
      }
      this.d.channelStats.ok(channel.id);
      if (call.parsed.stream) return this.#relayStream(call, this.#pipeFor(call, provider), res, reply, signal);
      const got = await readJson(res);
      if (got === 'aborted' || signal.aborted) return this.#finishAborted(call, null);
      if ('failure' in got) {
        // A 200 with a broken or unreadable body: the next channel may do better.
        last = got.failure;
        metrics.upstreamFailures.inc({ channel: String(channel.id), kind: last.kind });
        this.d.channelStats.fail(channel.id, last.message);
        cooldowns.cool(channel.id, config.gateway.cooldownMs);
        this.d.log.warn({ reqId: call.requestId, channel: channel.id, problem: last.message }, 'upstream answer unusable');
        continue;
      }
      return this.#answerJson(call, provider, got.buf, got.json, res.headers['content-type'], reply);
    }
    throw exhausted(last, call.parsed.model);
  }

  /**
   * The upstream request body for this channel: the caller's own body (model replaced) when the
   * upstream speaks the caller's format — relayed as sent — or the call converted through the
   * canonical (OpenAI chat) form. Null when the channel cannot serve the operation at all.
   */
  #render(call: Call, channel: Channel, provider: Provider, upstreamModel: string): { endpoint: Endpoint; body: Record<string, unknown> } | null {
    const p = call.parsed;
    if (!provider.supports(p.endpoint)) return null;
    // Usage in the stream makes billing exact; a strict upstream that rejects the option has it turned off per channel.
    const askUsage = p.stream && channel.streamUsage;
    if (provider.wire === p.format) {
      const body: Record<string, unknown> = { ...p.body, model: upstreamModel };
      if (p.format === 'openai' && askUsage && p.endpoint !== 'embeddings') {
        // The usage event is removed again if the caller did not ask for it.
        body.stream_options = { ...(p.body.stream_options as object | undefined), include_usage: true };
      }
      return { endpoint: p.endpoint, body };
    }
    if (p.format === 'anthropic' && provider.wire === 'openai') {
      return { endpoint: 'chat.completions', body: messagesToChat(p.body, upstreamModel, askUsage) };
    }
    if (p.format === 'openai' && provider.wire === 'anthropic' && p.endpoint === 'chat.completions') {
      return { endpoint: 'messages', body: chatToMessages(p.body, upstreamModel, this.d.config.gateway.defaultMaxOutputTokens) };
    }
    return null;
  }

  #pipeFor(call: Call, provider: Provider): StreamPipe {
    const p = call.parsed;
    if (provider.wire === p.format) return p.format === 'anthropic' ? new AnthropicPassthrough() : new OpenAIPassthrough(provider, p.wantsUsage);
    if (p.format === 'anthropic') return new ChatToAnthropicStream(p.model, p.promptTokens);
    return new AnthropicToChatStream(p.model, p.wantsUsage);
  }

  async #answerJson(
    call: Call,
    provider: Provider,
    buf: Buffer,
    json: unknown,
    contentType: string | string[] | undefined,
    reply: FastifyReply,
  ): Promise<Outcome> {
    const ttfbMs = Math.round(performance.now() - call.t0);
    const endpoint = call.parsed.endpoint;
    let usage = provider.usageFromJson(endpoint, json);
    let source: Outcome['usageSource'] = 'upstream';
    if (!usage) {
      usage = {
        promptTokens: call.parsed.promptTokens,
        completionTokens: countCompletionTokens(provider.textFromJson(endpoint, json)),
        cachedTokens: 0,
      };
      source = 'estimated';
    }
    const outcome: Outcome = { status: 200, usage, usageSource: source, errorCode: null, errorMessage: null, ttfbMs, billable: true };
    // Settle before answering, so a caller who checks its balance right after sees the charge.
    await this.#finish(call, outcome);
    const j = json as Record<string, unknown>;
    let out: Buffer | Record<string, unknown> = buf;
    if (provider.wire !== call.parsed.format) {
      out = call.parsed.format === 'anthropic' ? completionToMessage(j, call.parsed.model, usage) : messageToCompletion(j, call.parsed.model, usage);
    } else if (source === 'estimated' && endpoint !== 'embeddings' && j && typeof j === 'object') {
      // The caller sees usage in its own format, also when Tollgate counted the tokens itself.
      out = { ...j, usage: call.parsed.format === 'anthropic' ? anthropicUsage(usage) : openaiUsage(usage) };
    }
    reply.code(200).header('x-request-id', call.requestId);
    if (Buffer.isBuffer(out)) reply.header('content-type', typeof contentType === 'string' ? contentType : 'application/json');
    reply.send(out);
    return outcome;
  }

  async #relayStream(call: Call, pipe: StreamPipe, res: Dispatcher.ResponseData, reply: FastifyReply, signal: AbortSignal): Promise<Outcome> {
    const raw = reply.raw;
    reply.hijack();
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-request-id': call.requestId,
    });
    let ttfbMs: number | null = null;
    let errorCode: string | null = null;
    let errorMessage: string | null = null;
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        const out = pipe.push(chunk);
        if (out.length > 0) {
          ttfbMs ??= Math.round(performance.now() - call.t0);
          if (!raw.write(out)) await drained(raw, signal);
        }
        if (pipe.malformed) break;
      }
      const tail = pipe.end();
      if (tail) raw.write(tail);
      if (pipe.malformed) {
        errorCode = 'upstream_malformed';
        errorMessage = pipe.oversized
          ? 'The upstream sent an event larger than 4 MB; the stream was cut there.'
          : 'The upstream sent a malformed event; the stream was cut there.';
      } else if (pipe.upstreamError !== null) {
        errorCode = 'upstream_error';
        errorMessage = `The upstream reported an error in the stream: ${pipe.upstreamError}`;
      } else if (!pipe.complete) {
        errorCode = 'upstream_incomplete';
        errorMessage = 'The upstream ended the stream before its end marker.';
      }
    } catch (err) {
      if (signal.aborted || raw.destroyed) {
        errorCode = 'client_closed';
        errorMessage = 'The caller closed the connection before the stream ended.';
      } else {
        errorCode = 'upstream_broken';
        errorMessage = `The upstream stream broke: ${(err as Error).message}`;
      }
    }
    const outcome = this.#streamOutcome(call, pipe, ttfbMs, errorCode, errorMessage);
    // Settle before the caller learns the stream is over (its SDK raises at the error event), so
    // that a balance read right after sees the charge — as after [DONE] and a whole answer.
    await this.#finish(call, outcome);
    if (!raw.destroyed) {
      // A converted stream's closing events carry the usage billed.
      if (!errorCode && outcome.usage) raw.write(pipe.finish(outcome.usage));
      else if (errorCode && errorCode !== 'client_closed') raw.write(pipe.errorEvent(errorCode, errorMessage ?? 'stream failed'));
      raw.end();
    }
    return outcome;
  }

  #streamOutcome(call: Call, pipe: StreamPipe, ttfbMs: number | null, errorCode: string | null, errorMessage: string | null): Outcome {
    let usage = pipe.usage;
    let source: Outcome['usageSource'] = 'upstream';
    if (!usage) {
      usage = { promptTokens: call.parsed.promptTokens, completionTokens: pipe.completionTokens(), cachedTokens: 0 };
      source = 'estimated';
    }
    return {
      status: errorCode === 'client_closed' ? 499 : 200,
      usage,
      usageSource: source,
      errorCode,
      errorMessage,
      ttfbMs,
      billable: streamBillable(errorCode, pipe.deliveredEvents, usage.completionTokens),
    };
  }

  async #finishAborted(call: Call, ttfbMs: number | null): Promise<Outcome> {
    const outcome: Outcome = {
      status: 499,
      usage: null,
      usageSource: 'none',
      errorCode: 'client_closed',
      errorMessage: 'The caller closed the connection before the upstream answered.',
      ttfbMs,
      billable: false,
    };
    await this.#finish(call, outcome);
    return outcome;
  }

  async #passThroughError(call: Call, reply: FastifyReply, f: Failure): Promise<Outcome> {
    const outcome: Outcome = { status: f.status, usage: null, usageSource: 'none', errorCode: f.code ?? 'upstream_client_error', errorMessage: f.message, ttfbMs: null, billable: false };
    await this.#finish(call, outcome);
    const upstreamType = f.upstreamError?.type as string | undefined;
    if (call.parsed.format === 'anthropic') {
      const same = call.channel && providerFor(call.channel.type).wire === 'anthropic';
      reply.code(f.status).header('x-request-id', call.requestId).send(anthropicErrorBody(f.status, f.message, same ? upstreamType : undefined));
      return outcome;
    }
    const error = {
      message: f.message,
      type: upstreamType ?? 'invalid_request_error',
      param: (f.upstreamError?.param as string | undefined) ?? null,
      code: f.code,
    };
    reply.code(f.status).header('x-request-id', call.requestId).send({ error });
    return outcome;
  }

  /** Settle (billable) or void (not), write the usage record, log and count. Exactly once per call. */
  async #finish(call: Call, o: Outcome): Promise<void> {
    const { metrics } = this.d;
    const now = Date.now();
    const usage = o.usage ?? { promptTokens: 0, completionTokens: 0, cachedTokens: 0 };
    if (call.tpm) this.d.limiter.correctTokens(call.tpm, o.billable ? usage.promptTokens + usage.completionTokens : 0);
    const charge = o.billable ? costMicros(call.price, usage, call.multiplierPpm) : 0;
    const upstreamCost = o.billable && call.channel ? costMicros(call.price, usage, call.channel.costRatioPpm) : 0;
    const draft: UsageDraft = {
      request_id: call.requestId,
      created_at: call.startedAt,
      user_id: call.principal.userId,
      key_id: call.principal.keyId,
      wallet_id: call.principal.walletId,
      endpoint: call.parsed.endpoint,
      model: call.parsed.model,
      upstream_model: call.upstreamModel,
      channel_id: call.channel?.id ?? null,
      stream: call.parsed.stream ? 1 : 0,
      prompt_tokens: usage.promptTokens,
      completion_tokens: usage.completionTokens,
      cached_tokens: usage.cachedTokens,
      cache_write_tokens: usage.cacheWriteTokens ?? 0,
      reasoning_tokens: usage.reasoningTokens ?? 0,
      input_price: call.price.input,
      output_price: call.price.output,
      cached_input_price: call.price.cachedInput ?? call.price.input,
      cache_write_price: call.price.cacheWrite ?? call.price.input,
      request_price: call.price.request,
      multiplier_ppm: call.multiplierPpm,
      cost_micros: upstreamCost,
      status_code: o.status,
      error_code: o.errorCode,
      error_message: o.errorMessage?.slice(0, 1000) ?? null,
      latency_ms: Math.round(performance.now() - call.t0),
      ttfb_ms: o.ttfbMs,
      attempts: call.attempts,
      usage_source: o.usageSource,
      client_ip: call.clientIp,
    };
    let charged = 0;
    try {
      if (o.billable) {
        const r = await this.d.money.settle({
          hold: call.hold,
          requestId: call.requestId,
          walletId: call.principal.walletId,
          userId: call.principal.userId,
          keyId: call.principal.keyId,
          cost: charge,
          usage: draft,
          now,
        });
        charged = r.charged;
        if (r.arrears > 0) this.d.log.warn({ reqId: call.requestId, arrears: r.arrears }, 'charge exceeded available funds; booked as arrears');
      } else {
        await this.d.money.release({ hold: call.hold, walletId: call.principal.walletId, keyId: call.principal.keyId, status: 'voided', usage: draft, now });
      }
    } catch (err) {
      // The money store keeps retrying the write until it lands (billing/durable.ts); the caller's
      // answer does not wait for the database to come back.
      metrics.settlementFailures.inc({ op: o.billable ? 'settle' : 'release' });
      this.d.log.error({ err, reqId: call.requestId }, 'settlement failed; retrying in the background');
    }
    const status = String(o.status);
    const stream = call.parsed.stream ? '1' : '0';
    metrics.requests.inc({ endpoint: call.parsed.endpoint, status });
    metrics.calls.inc({ model: call.parsed.model, channel: call.channel ? String(call.channel.id) : 'none', status });
    metrics.latency.observe({ endpoint: call.parsed.endpoint, stream }, draft.latency_ms / 1000);
    if (o.ttfbMs !== null) metrics.ttfb.observe({ endpoint: call.parsed.endpoint, stream }, o.ttfbMs / 1000);
    if (charged > 0) metrics.chargedMicros.inc(charged);
    this.d.log.info(
      {
        reqId: call.requestId,
        key: call.principal.keyId,
        user: call.principal.userId,
        model: call.parsed.model,
        channel: call.channel?.id,
        status: o.status,
        ms: draft.latency_ms,
        ttfb: o.ttfbMs,
        in: usage.promptTokens,
        out: usage.completionTokens,
        charged,
        err: o.errorCode ?? undefined,
      },
      'relay',
    );
  }
}

/** The endpoint a request was for, as usage records name it (`chat.completions`, `models`, …). */
export function endpointOf(req: FastifyRequest): string {
  return (req.url.split('?')[0] ?? '').replace(/^\/v1\/?/, '').replaceAll('/', '.').slice(0, 32);
}

/**
 * Wait until the caller's socket takes more data. A socket that closes never drains, so closing
 * (or the call being aborted) ends the wait too — otherwise a vanished caller would hang the call,
 * and its hold, forever.
 */
async function drained(raw: NodeJS.WritableStream & { destroyed?: boolean }, signal: AbortSignal): Promise<void> {
  if (raw.destroyed) throw new Error('client closed the connection');
  const ac = new AbortController();
  const both = AbortSignal.any([signal, ac.signal]);
  try {
    await Promise.race([once(raw, 'drain', { signal: both }), once(raw, 'close', { signal: both })]);
  } finally {
    ac.abort();
  }
  if (raw.destroyed) throw new Error('client closed the connection');
}

/** Read a whole (non-streamed) upstream answer; a broken or non-JSON body is a failure to fail over from. */
async function readJson(res: Dispatcher.ResponseData): Promise<{ buf: Buffer; json: unknown } | { failure: Failure } | 'aborted'> {
  let buf: Buffer;
  try {
    buf = Buffer.from(await res.body.arrayBuffer());
  } catch (err) {
    if ((err as Error).name === 'AbortError') return 'aborted';
    return { failure: { kind: 'server', status: 502, message: `upstream connection broke: ${(err as Error).message}`, code: null } };
  }
  try {
    return { buf, json: JSON.parse(buf.toString('utf8')) };
  } catch {
    return { failure: { kind: 'server', status: 502, message: 'upstream answered with invalid JSON', code: null } };
  }
}

function networkFailure(err: unknown): Failure {
  const code = (err as { code?: string }).code ?? '';
  const timeout = /TIMEOUT/i.test(code);
  return {
    kind: timeout ? 'timeout' : 'network',
    status: timeout ? 504 : 502,
    message: timeout ? `upstream timed out (${code})` : `upstream unreachable: ${(err as Error).message}`,
    code: code || null,
  };
}

/** The error a caller sees when every channel tried failed. */
function exhausted(last: Failure | null, model: string): AppError {
  if (!last) return new AppError('no_channel', `No channel is available for the model \`${model}\` right now. Please try again later.`);
  switch (last.kind) {
    case 'timeout':
      return new AppError('upstream_timeout', 'The upstream did not answer in time. Please try again.');
    case 'rate_limit':
      return new AppError('rate_limited', 'The upstream provider is rate limiting requests right now. Please retry shortly.', {
        headers: { 'retry-after': '1' },
      });
    case 'mismatch':
      return new AppError('model_not_found', `The model \`${model}\` is not available upstream: ${last.message}`, { path: 'model' });
    case 'auth':
    case 'quota':
      return new AppError('upstream_unavailable', 'No working upstream channel is available for this model right now.');
    default:
      return new AppError('upstream_error', `The upstream failed to answer (${last.status}). Please try again.`);
  }
}

/** The most a call may cost; one that could cost more than any balance can hold is the caller's mistake. */
function estimateCost(price: PriceCard, parsed: ParsedCall, multiplierPpm: number): number {
  try {
    return costMicros(price, { promptTokens: parsed.promptTokens, completionTokens: parsed.maxOutputTokens, cachedTokens: 0 }, multiplierPpm);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw new AppError('bad_request', 'This call could cost more than any balance can hold: lower max_tokens, n, best_of or the number of prompts.', {
      path: parsed.endpoint === 'chat.completions' && parsed.body.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens',
    });
  }
}
