// A fake Anthropic API over real HTTP, written from Anthropic's API reference (Messages, streaming,
// errors, count_tokens, models) and the shapes in @anthropic-ai/sdk: the gateway's Anthropic
// provider talks to it exactly as it would talk to https://api.anthropic.com.
//
// Deterministic: input tokens are the o200k count of the request's text (system, turns, tool
// definitions) plus 1000 per image; the answer is "hello" + " hello" × (n-1), n = 10 by default
// (capped by max_tokens). Directives in the last user text steer it:
//   [[fake:tool]]            answer with a tool_use of the first tool, input {"city":"Paris"}
//   [[fake:tokens=N]]        N output tokens
//   [[fake:cacheRead=N,cacheWrite=M]]  report N input tokens read from and M written to the cache
//   [[fake:status=529]]      fail with that status (Anthropic's error shape)
//   [[fake:errorAfter=K]]    stream: an `error` event (overloaded_error) after K text deltas
//   [[fake:dropAfter=K]]     stream: cut the connection after K text deltas
//   [[fake:delayMs=N]]       stream: wait N ms between deltas
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { countTokens } from 'gpt-tokenizer';

export interface AnthropicRecord {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
}

export interface FakeAnthropic {
  /** API root, as an operator configures it: http://127.0.0.1:PORT */
  url: string;
  requests: AnthropicRecord[];
  close(): Promise<void>;
}

export const FAKE_ANTHROPIC_KEY = 'sk-ant-fake-upstream';
const IMAGE_TOKENS = 1000;
const ANY = { disallowedSpecial: new Set<string>() };
const count = (t: string) => (t ? countTokens(t, ANY) : 0);

type Json = Record<string, any>;

function contentText(c: unknown): { text: string; images: number } {
  if (typeof c === 'string') return { text: c, images: 0 };
  let text = '';
  let images = 0;
  for (const b of Array.isArray(c) ? (c as Json[]) : []) {
    if (b.type === 'text') text += b.text;
    else if (b.type === 'image') images++;
    else if (b.type === 'tool_use') text += b.name + JSON.stringify(b.input);
    else if (b.type === 'tool_result') {
      const r = contentText(b.content);
      text += r.text;
      images += r.images;
    }
  }
  return { text, images };
}

/** The input tokens this fake bills for a request (tests compute the same to check charges). */
export function fakeAnthropicInputTokens(body: Json): number {
  let n = 0;
  const sys = contentText(body.system ?? '');
  n += count(sys.text);
  for (const m of body.messages as Json[]) {
    const c = contentText(m.content);
    n += count(c.text) + c.images * IMAGE_TOKENS;
  }
  if (Array.isArray(body.tools) && body.tools.length) n += count(JSON.stringify(body.tools));
  return n;
}

function directives(body: Json): Record<string, string> {
  const last = [...(body.messages as Json[])].reverse().find((m) => m.role === 'user');
  const text = last ? contentText(last.content).text : '';
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/\[\[fake:([^\]]*)\]\]/g)) {
    for (const pair of (m[1] ?? '').split(',')) {
      const [k, v = 'true'] = pair.split('=').map((x) => x.trim());
      if (k) out[k] = v;
    }
  }
  return out;
}

const errorJson = (type: string, message: string) => JSON.stringify({ type: 'error', error: { type, message } });
const ERROR_TYPES: Record<number, string> = { 400: 'invalid_request_error', 401: 'authentication_error', 402: 'billing_error', 403: 'permission_error', 404: 'not_found_error', 429: 'rate_limit_error', 500: 'api_error', 529: 'overloaded_error' };

export async function startFakeAnthropic(): Promise<FakeAnthropic> {
  const requests: AnthropicRecord[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      let body: any = null;
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : null;
      } catch {
        body = null;
      }
      requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body });
      handle(req.method ?? 'GET', path, req.headers, body, res).catch(() => res.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;

  function fail(res: ServerResponse, status: number, message: string) {
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${randomUUID()}` });
    res.end(errorJson(ERROR_TYPES[status] ?? 'api_error', message));
  }

  async function handle(method: string, path: string, h: IncomingHttpHeaders, body: Json | null, res: ServerResponse) {
    if (h['x-api-key'] !== FAKE_ANTHROPIC_KEY) return fail(res, 401, 'invalid x-api-key');
    if (!h['anthropic-version']) return fail(res, 400, 'anthropic-version: header is required');
    if (method === 'GET' && path === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ data: [{ type: 'model', id: 'claude-sonnet-4-5', display_name: 'Claude Sonnet 4.5', created_at: '2025-09-29T00:00:00Z' }], has_more: false, first_id: 'claude-sonnet-4-5', last_id: 'claude-sonnet-4-5' }));
    }
    if (method !== 'POST' || (path !== '/v1/messages' && path !== '/v1/messages/count_tokens')) return fail(res, 404, `Not found: ${method} ${path}`);
    if (!body || typeof body.model !== 'string') return fail(res, 400, 'model: Field required');
    if (!Array.isArray(body.messages) || body.messages.length === 0) return fail(res, 400, 'messages: Field required');
    if (path === '/v1/messages/count_tokens') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ input_tokens: fakeAnthropicInputTokens(body) }));
    }
    if (typeof body.max_tokens !== 'number') return fail(res, 400, 'max_tokens: Field required');
    if (body.stream_options !== undefined) return fail(res, 400, 'stream_options: Extra inputs are not permitted');
    const d = directives(body);
    if (d.status) return fail(res, Number(d.status), `fake failure ${d.status}`);

    const input = fakeAnthropicInputTokens(body);
    const cacheRead = Math.min(Number(d.cacheRead ?? 0), input);
    const cacheWrite = Math.min(Number(d.cacheWrite ?? 0), input - cacheRead);
    const usageIn = { input_tokens: input - cacheRead - cacheWrite, cache_creation_input_tokens: cacheWrite, cache_read_input_tokens: cacheRead };
    const id = `msg_${randomUUID().replaceAll('-', '')}`;
    const tool = d.tool && Array.isArray(body.tools) && body.tools.length ? (body.tools[0] as Json) : null;
    const thinking = body.thinking?.type === 'enabled';
    const n = Math.max(0, Math.min(Number(d.tokens ?? 10), body.max_tokens - (thinking ? 1 : 0)));
    const words = Array.from({ length: n }, (_, i) => (i === 0 ? 'hello' : ' hello'));
    const toolInput = { city: 'Paris' };
    const toolJson = JSON.stringify(toolInput);
    // Output tokens: the text, the tool call's JSON, one for the thinking.
    const output = (tool ? count(toolJson) : n) + (thinking ? 1 : 0);
    const stop = tool ? 'tool_use' : n === body.max_tokens ? 'max_tokens' : 'end_turn';
    const toolId = `toolu_${randomUUID().replaceAll('-', '').slice(0, 24)}`;

    if (body.stream !== true) {
      const content: Json[] = [];
      if (thinking) content.push({ type: 'thinking', thinking: 'hmm', signature: 'sig-fake' });
      if (tool) content.push({ type: 'tool_use', id: toolId, name: tool.name, input: toolInput });
      else content.push({ type: 'text', text: words.join('') });
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_${id}` });
      return res.end(JSON.stringify({ id, type: 'message', role: 'assistant', model: body.model, content, stop_reason: stop, stop_sequence: null, usage: { ...usageIn, output_tokens: output } }));
    }

    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': `req_${id}` });
    const send = (event: string, data: Json) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    send('message_start', { type: 'message_start', message: { id, type: 'message', role: 'assistant', model: body.model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usageIn, output_tokens: 1 } } });
    send('ping', { type: 'ping' });
    let index = 0;
    if (thinking) {
      send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } });
      send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: 'hmm' } });
      send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: 'sig-fake' } });
      send('content_block_stop', { type: 'content_block_stop', index });
      index++;
    }
    if (tool) {
      send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: toolId, name: tool.name, input: {} } });
      send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: toolJson.slice(0, 5) } });
      send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: toolJson.slice(5) } });
    } else {
      send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      for (let i = 0; i < words.length; i++) {
        if (d.errorAfter !== undefined && i === Number(d.errorAfter)) {
          send('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
          return res.end();
        }
        if (d.dropAfter !== undefined && i === Number(d.dropAfter)) return res.destroy();
        if (d.delayMs) await sleep(Number(d.delayMs));
        if (res.destroyed) return;
        send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: words[i] } });
      }
    }
    send('content_block_stop', { type: 'content_block_stop', index });
    send('message_delta', { type: 'message_delta', delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: output } });
    send('message_stop', { type: 'message_stop' });
    res.end();
  }

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
