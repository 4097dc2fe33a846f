import { describe, expect, it } from 'vitest';
import { chatToMessages, completionToMessage, messagesToChat, messageToCompletion, anthropicErrorBody, usageFromAnthropic } from './anthropic.js';
import { AnthropicToChatStream, ChatToAnthropicStream } from './anthropic-stream.js';

const sse = (events: [string, unknown][]) => Buffer.from(events.map(([e, d]) => `event: ${e}\ndata: ${JSON.stringify(d)}\n\n`).join(''));
const dataEvents = (text: string) =>
  text
    .split('\n\n')
    .filter(Boolean)
    .map((b) => {
      const ev = /^event: (.*)$/m.exec(b)?.[1] ?? null;
      const data = /^data: (.*)$/m.exec(b)![1]!;
      return { ev, data: data === '[DONE]' ? data : JSON.parse(data) };
    });

describe('Anthropic ⇄ canonical requests', () => {
  const anthropic = {
    model: 'claude',
    max_tokens: 100,
    system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
    tools: [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }, { type: 'web_search_20250305', name: 'web_search' }],
    tool_choice: { type: 'tool', name: 'get_weather' },
    stop_sequences: ['END'],
    temperature: 0.5,
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'Weather?' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAA' } }] },
      { role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm', signature: 's' }, { type: 'tool_use', id: 't1', name: 'get_weather', input: { city: 'Paris' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'Sunny' }] },
    ],
  };

  it('Messages → chat: system, images, tool calls and results, tool choice; server tools and thinking left out', () => {
    const chat = messagesToChat(anthropic, 'gpt-x', true);
    expect(chat).toEqual({
      model: 'gpt-x',
      max_tokens: 100,
      temperature: 0.5,
      stop: ['END'],
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'Weather?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAA' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 't1', content: 'Sunny' },
      ],
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: anthropic.tools[0]!.input_schema } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
  });

  it('round trip: Messages → chat → Messages keeps the conversation', () => {
    const back = chatToMessages(messagesToChat(anthropic, 'gpt-x', false), 'claude', 4096);
    expect(back).toMatchObject({
      model: 'claude',
      max_tokens: 100,
      system: 'Be brief.',
      stop_sequences: ['END'],
      tool_choice: { type: 'tool', name: 'get_weather' },
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather?' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAA' } }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'Sunny' }] },
      ],
    });
  });

  it('chat → Messages: consecutive tool results merge into one user turn; a missing max_tokens gets the default; temperature capped at 1', () => {
    const m = chatToMessages(
      {
        messages: [
          { role: 'user', content: 'go' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } }, { id: 'b', type: 'function', function: { name: 'g', arguments: 'not json' } }] },
          { role: 'tool', tool_call_id: 'a', content: '1' },
          { role: 'tool', tool_call_id: 'b', content: '2' },
        ],
        temperature: 1.6,
        parallel_tool_calls: false,
        tools: [{ type: 'function', function: { name: 'f' } }],
      },
      'claude',
      512,
    );
    expect(m.max_tokens).toBe(512);
    expect(m.temperature).toBe(1);
    expect(m.tool_choice).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(m.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'go' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'a', name: 'f', input: {} }, { type: 'tool_use', id: 'b', name: 'g', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'a', content: '1' }, { type: 'tool_result', tool_use_id: 'b', content: '2' }] },
    ]);
  });
});

describe('whole answers and usage', () => {
  it('stop reasons map both ways', () => {
    for (const [stop, finish] of [['end_turn', 'stop'], ['max_tokens', 'length'], ['tool_use', 'tool_calls'], ['stop_sequence', 'stop']] as const) {
      const c = messageToCompletion({ id: 'm', content: [{ type: 'text', text: 'x' }], stop_reason: stop }, 'claude', null);
      expect((c.choices as { finish_reason: string }[])[0]!.finish_reason).toBe(finish);
    }
    for (const [finish, stop] of [['stop', 'end_turn'], ['length', 'max_tokens'], ['tool_calls', 'tool_use'], ['content_filter', 'refusal']] as const) {
      const m = completionToMessage({ id: 'c', choices: [{ message: { content: 'x' }, finish_reason: finish }] }, 'gpt', { promptTokens: 1, completionTokens: 1, cachedTokens: 0 });
      expect(m.stop_reason).toBe(stop);
    }
  });

  it('Anthropic usage: input apart from cache reads and writes; the canonical prompt count holds all three', () => {
    const u = usageFromAnthropic({ input_tokens: 10, cache_read_input_tokens: 100, cache_creation_input_tokens: 50, output_tokens: 7 })!;
    expect(u).toEqual({ promptTokens: 160, completionTokens: 7, cachedTokens: 100, cacheWriteTokens: 50 });
    const m = completionToMessage({ choices: [{ message: { content: 'hi', tool_calls: [{ id: 'x', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }, finish_reason: 'tool_calls' }] }, 'gpt', u);
    expect(m.usage).toEqual({ input_tokens: 10, output_tokens: 7, cache_read_input_tokens: 100, cache_creation_input_tokens: 50 });
    expect(m.content).toEqual([{ type: 'text', text: 'hi' }, { type: 'tool_use', id: 'x', name: 'f', input: { a: 1 } }]);
  });

  it('errors in Anthropic\'s shape and types', () => {
    expect(anthropicErrorBody(402, 'Top up')).toEqual({ type: 'error', error: { type: 'billing_error', message: 'Top up' } });
    expect(anthropicErrorBody(529, 'busy').error.type).toBe('overloaded_error');
    expect(anthropicErrorBody(404, 'no').error.type).toBe('not_found_error');
  });
});

describe('streams converted event by event', () => {
  it('Anthropic events → chat chunks, split anywhere, including inside a UTF-8 character', () => {
    const s = new AnthropicToChatStream('claude', true);
    const bytes = sse([
      ['message_start', { type: 'message_start', message: { id: 'msg_1', usage: { input_tokens: 5, output_tokens: 1 } } }],
      ['ping', { type: 'ping' }],
      ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
      ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'héllo' } }],
      ['content_block_stop', { type: 'content_block_stop', index: 0 }],
      ['content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 't', name: 'f', input: {} } }],
      ['content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"a"' } }],
      ['content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: ':1}' } }],
      ['message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 9 } }],
      ['message_stop', { type: 'message_stop' }],
    ]);
    let out = '';
    for (let i = 0; i < bytes.length; i += 7) out += s.push(bytes.subarray(i, i + 7));
    out += s.end();
    expect(s.complete).toBe(true);
    expect(s.usage).toEqual({ promptTokens: 5, completionTokens: 9, cachedTokens: 0, cacheWriteTokens: 0 });
    out += s.finish(s.usage!);
    const ev = dataEvents(out).map((e) => e.data);
    expect(ev[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(ev[1].choices[0].delta).toEqual({ content: 'héllo' });
    expect(ev[2].choices[0].delta.tool_calls[0]).toMatchObject({ index: 0, id: 't', function: { name: 'f', arguments: '' } });
    expect(ev[3].choices[0].delta.tool_calls[0].function.arguments + ev[4].choices[0].delta.tool_calls[0].function.arguments).toBe('{"a":1}');
    expect(ev[5].choices[0].finish_reason).toBe('tool_calls');
    expect(ev[6]).toMatchObject({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 9 } });
    expect(ev[7]).toBe('[DONE]');
  });

  it('chat chunks → Anthropic events: message_start, blocks opened and closed in order, usage in message_delta', () => {
    const s = new ChatToAnthropicStream('claude', 12);
    const chunk = (delta: unknown, finish: string | null = null) => `data: ${JSON.stringify({ id: 'chatcmpl-1', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const text =
      chunk({ role: 'assistant', reasoning_content: 'think' }) +
      chunk({ content: 'Hi' }) +
      chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":' } }] }) +
      chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] }) +
      chunk({}, 'tool_calls') +
      `data: ${JSON.stringify({ id: 'chatcmpl-1', choices: [], usage: { prompt_tokens: 11, completion_tokens: 6 } })}\n\n` +
      'data: [DONE]\n\n';
    let out = s.push(Buffer.from(text)) + s.end();
    expect(s.complete).toBe(true);
    out += s.finish(s.usage!);
    const ev = dataEvents(out);
    expect(ev.map((e) => e.ev)).toEqual([
      'message_start',
      'content_block_start', 'content_block_delta', 'content_block_stop',
      'content_block_start', 'content_block_delta', 'content_block_stop',
      'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop',
      'message_delta', 'message_stop',
    ]);
    expect(ev[0]!.data.message).toMatchObject({ id: 'msg_1', role: 'assistant', usage: { input_tokens: 12 } });
    expect(ev[1]!.data.content_block).toMatchObject({ type: 'thinking' });
    expect(ev[5]!.data.delta).toEqual({ type: 'text_delta', text: 'Hi' });
    expect(ev[7]!.data.content_block).toEqual({ type: 'tool_use', id: 'call_1', name: 'f', input: {} });
    expect(ev[11]!.data).toEqual({ type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { input_tokens: 11, output_tokens: 6, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 } });
  });

  it('an upstream error inside the stream stops it; the caller gets it in its own format', () => {
    const s = new AnthropicToChatStream('claude', false);
    s.push(sse([['message_start', { type: 'message_start', message: { id: 'm', usage: { input_tokens: 1 } } }], ['error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }]]));
    expect(s.upstreamError).toBe('Overloaded');
    expect(JSON.parse(s.errorEvent('upstream_error', 'x').slice(6))).toMatchObject({ error: { message: 'Overloaded', code: 'upstream_error' } });
    const t = new ChatToAnthropicStream('claude', 1);
    t.push(Buffer.from('data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"this is not json\n\n'));
    expect(t.malformed).toBe(true);
    expect(t.errorEvent('upstream_malformed', 'bad')).toMatch(/^event: error\ndata: {"type":"error","error":{"type":"api_error","message":"bad"}}/);
  });
});
