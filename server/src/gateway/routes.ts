import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import { parseJsonBody } from '../lib/json-body.js';
import { presentedKey, type Principal } from './key-cache.js';
import { parseChat, parseCompletion, parseEmbeddings, type ParsedCall } from './inbound/openai.js';
import { anthropicRoutes } from './anthropic.routes.js';

/** OpenAPI description only: /v1 bodies are checked by the inbound parsers (OpenAI-shaped errors, unknown fields kept). */
const noValidation = () => (data: unknown) => ({ value: data });
const loose = (shape: z.ZodRawShape, description: string) => z.looseObject(shape).describe(description);

const ChatBody = loose(
  {
    model: z.string(),
    messages: z.array(z.looseObject({ role: z.string(), content: z.unknown().optional() })),
    stream: z.boolean().optional(),
    max_tokens: z.number().int().optional(),
    max_completion_tokens: z.number().int().optional(),
    stream_options: z.looseObject({ include_usage: z.boolean().optional() }).optional(),
  },
  'An OpenAI chat completion request; every other OpenAI field is passed to the upstream untouched.',
);
const CompletionBody = loose(
  { model: z.string(), prompt: z.unknown(), stream: z.boolean().optional(), max_tokens: z.number().int().optional() },
  'A legacy completion request.',
);
const EmbeddingsBody = loose({ model: z.string(), input: z.unknown(), encoding_format: z.enum(['float', 'base64']).optional() }, 'An embeddings request.');

const bearer = [{ apiKey: [] }];

/** The OpenAI-compatible gateway, mounted at /v1. */
export async function gatewayRoutes(app: FastifyInstance, ctx: AppContext) {
  // curl -d sends form-encoded by default, fetch with a string body text/plain; treat any body
  // here as JSON rather than refusing it (Fastify's own text/plain parser would hand us a string).
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, body === '' ? undefined : parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  const relay = (parse: (body: unknown) => ParsedCall) => async (req: FastifyRequest, reply: FastifyReply) => {
    await ctx.relay.handle(req, reply, () => parse(req.body));
    return reply;
  };
  const maxOut = ctx.config.gateway.defaultMaxOutputTokens;

  app.post('/chat/completions', {
    schema: { summary: 'Create a chat completion (streaming or not)', tags: ['gateway'], security: bearer, body: ChatBody },
    validatorCompiler: noValidation,
    handler: relay((b) => parseChat(b, maxOut)),
  });
  app.post('/completions', {
    schema: { summary: 'Create a completion (legacy)', tags: ['gateway'], security: bearer, body: CompletionBody },
    validatorCompiler: noValidation,
    handler: relay(parseCompletion),
  });
  app.post('/embeddings', {
    schema: { summary: 'Create embeddings', tags: ['gateway'], security: bearer, body: EmbeddingsBody },
    validatorCompiler: noValidation,
    handler: relay(parseEmbeddings),
  });

  await app.register((i) => anthropicRoutes(i, ctx));

  const modelObject = (id: string) => ({ id, object: 'model', created: 0, owned_by: 'tollgate' });
  const anthropicModel = (id: string) => ({ type: 'model', id, display_name: id, created_at: '1970-01-01T00:00:00Z' });

  /** Run a model lookup; a refusal is counted, logged and (for a valid key) recorded like a refused call. */
  const lookup = async <T>(req: FastifyRequest, model: string, fn: (p: Principal) => T): Promise<T> => {
    const t0 = performance.now();
    let p: Principal | null = null;
    try {
      p = await ctx.keys.authenticate(presentedKey(req.headers));
      return fn(p);
    } catch (err) {
      await ctx.relay.refused(req, err, p, { endpoint: 'models', model, stream: false }, t0);
      throw err;
    }
  };

  app.get('/models', {
    schema: { summary: 'List the models this key may use (in Anthropic\'s shape when the request carries anthropic-version)', tags: ['gateway'], security: bearer },
    handler: (req) =>
      lookup(req, '', (p) => {
        const models = ctx.catalog.modelsFor(p.group).filter((m) => !p.allowedModels || p.allowedModels(m));
        if (req.headers['anthropic-version']) {
          return { data: models.map(anthropicModel), has_more: false, first_id: models[0] ?? null, last_id: models.at(-1) ?? null };
        }
        return { object: 'list', data: models.map(modelObject) };
      }),
  });
  app.get('/models/:model', {
    schema: { summary: 'Retrieve a model', tags: ['gateway'], security: bearer, params: z.object({ model: z.string() }) },
    validatorCompiler: noValidation,
    handler: (req) => {
      const id = (req.params as { model: string }).model;
      return lookup(req, id, (p) => {
        const ok = ctx.catalog.modelsFor(p.group).includes(id) && (!p.allowedModels || p.allowedModels(id));
        if (!ok) throw new AppError('model_not_found', `The model \`${id}\` does not exist or you do not have access to it.`, { path: 'model' });
        return modelObject(id);
      });
    },
  });
}
