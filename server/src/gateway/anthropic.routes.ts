import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { toAppError } from '../http/errors.js';
import { anthropicAppErrorBody } from './formats/anthropic.js';
import { countMessagesTokens, parseMessages } from './inbound/anthropic.js';
import { presentedKey } from './key-cache.js';

const noValidation = () => (data: unknown) => ({ value: data });
const anthropicKey: { [label: string]: string[] }[] = [{ anthropicKey: [] }, { apiKey: [] }];

const MessagesBody = z
  .looseObject({
    model: z.string(),
    max_tokens: z.number().int(),
    messages: z.array(z.looseObject({ role: z.enum(['user', 'assistant']), content: z.unknown() })),
    system: z.unknown().optional(),
    tools: z.array(z.looseObject({ name: z.string() })).optional(),
    stream: z.boolean().optional(),
  })
  .describe('An Anthropic Messages request; every other Anthropic field is passed to an Anthropic upstream untouched.');

/**
 * Anthropic's Messages API at /v1/messages (Claude Code, the Anthropic SDKs). Errors here are in
 * Anthropic's shape, so its clients show the message (a refused top-up reads as a billing_error).
 * Keys come as `x-api-key` or `Authorization: Bearer`.
 */
export async function anthropicRoutes(app: FastifyInstance, ctx: AppContext) {
  app.setErrorHandler((err, req, reply) => {
    const e = toAppError(err);
    if (e.status >= 500 && e.code === 'internal') req.log.error({ err, reqId: req.id, url: req.url }, 'request failed');
    if (e.headers) reply.headers(e.headers);
    reply.header('x-request-id', req.id).header('request-id', req.id);
    return reply.code(e.status).send(anthropicAppErrorBody(e));
  });

  app.post('/messages', {
    schema: { summary: 'Create a message (Anthropic Messages API; streaming or not)', tags: ['gateway'], security: anthropicKey, body: MessagesBody },
    validatorCompiler: noValidation,
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      await ctx.relay.handle(req, reply, () => parseMessages(req.body, req.headers));
      return reply;
    },
  });

  app.post('/messages/count_tokens', {
    schema: { summary: "Count a message's input tokens (Tollgate's tokenizer; free)", tags: ['gateway'], security: anthropicKey, body: MessagesBody.partial() },
    validatorCompiler: noValidation,
    handler: async (req) => {
      await ctx.keys.authenticate(presentedKey(req.headers));
      return countMessagesTokens(req.body);
    },
  });
}
