import { describe, expect, it } from 'vitest';
import { countTokens } from 'gpt-tokenizer';
import { AppError } from '../../errors.js';
import { parseChat, parseCompletion, parseEmbeddings } from './openai.js';

const MAX = 4096;
const chat = (b: unknown) => parseChat(b, MAX);
const user = [{ role: 'user', content: 'hi' }];

/** The AppError a parse throws, or fail. */
function refusal(fn: () => unknown): AppError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error('expected the parser to refuse this body');
}

function expectBad(fn: () => unknown, param: string | undefined, message?: RegExp) {
  const e = refusal(fn);
  expect(e.status).toBe(400);
  expect(e.code).toBe('bad_request');
  expect(e.path).toBe(param);
  if (message) expect(e.message).toMatch(message);
}

describe('parseChat', () => {
  it('accepts a minimal request and keeps every field', () => {
    const body = { model: 'gpt-4o-mini', messages: user, temperature: 0.2, tools: [{ type: 'function', function: { name: 'f' } }], x_vendor: { a: 1 } };
    const p = chat(body);
    expect(p).toMatchObject({ endpoint: 'chat.completions', model: 'gpt-4o-mini', stream: false, wantsUsage: false, choices: 1, maxOutputTokens: MAX });
    expect(p.body).toBe(body);
  });

  it('estimates prompt tokens as content + 3 per message + 3', () => {
    const p = chat({ model: 'm', messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: [{ type: 'text', text: 'Say hi.' }] }] });
    expect(p.promptTokens).toBe(countTokens('You are terse.') + countTokens('Say hi.') + 3 * 2 + 3);
  });

  it('reserves max_completion_tokens, else max_tokens, else the default, times n', () => {
    expect(chat({ model: 'm', messages: user, max_tokens: 10 }).maxOutputTokens).toBe(10);
    expect(chat({ model: 'm', messages: user, max_completion_tokens: 7, max_tokens: 10 }).maxOutputTokens).toBe(7);
    expect(chat({ model: 'm', messages: user, max_tokens: 10, n: 3 })).toMatchObject({ maxOutputTokens: 30, choices: 3 });
    expect(chat({ model: 'm', messages: user, n: 2 }).maxOutputTokens).toBe(2 * MAX);
    expect(chat({ model: 'm', messages: user, max_tokens: null }).maxOutputTokens).toBe(MAX);
  });

  it('knows whether the caller wants the usage event', () => {
    expect(chat({ model: 'm', messages: user, stream: true }).wantsUsage).toBe(false);
    expect(chat({ model: 'm', messages: user, stream: true, stream_options: { include_usage: true } })).toMatchObject({ stream: true, wantsUsage: true });
    expect(chat({ model: 'm', messages: user, stream: true, stream_options: { include_usage: false } }).wantsUsage).toBe(false);
    expect(chat({ model: 'm', messages: user, stream: false }).stream).toBe(false);
  });

  it('refuses a body that is not an object (no param)', () => {
    for (const b of [null, undefined, 'text', 42, true, [], [{ model: 'm' }]]) expectBad(() => chat(b), undefined, /JSON object/);
  });

  it('refuses a missing or bad model with param "model"', () => {
    expectBad(() => chat({ messages: user }), 'model', /model/);
    for (const model of [null, 42, '', '   ', ['m'], { id: 'm' }, 'x'.repeat(192)]) expectBad(() => chat({ model, messages: user }), 'model');
  });

  it('refuses bad messages with the path of the offending field', () => {
    expectBad(() => chat({ model: 'm' }), 'messages', /messages/);
    expectBad(() => chat({ model: 'm', messages: [] }), 'messages');
    expectBad(() => chat({ model: 'm', messages: 'hi' }), 'messages');
    expectBad(() => chat({ model: 'm', messages: { role: 'user' } }), 'messages');
    expectBad(() => chat({ model: 'm', messages: [...user, 'hi'] }), 'messages.1');
    expectBad(() => chat({ model: 'm', messages: [null] }), 'messages.0');
    expectBad(() => chat({ model: 'm', messages: [[]] }), 'messages.0');
    expectBad(() => chat({ model: 'm', messages: [{ content: 'hi' }] }), 'messages.0.role');
    expectBad(() => chat({ model: 'm', messages: [...user, { role: '', content: 'x' }] }), 'messages.1.role');
    expectBad(() => chat({ model: 'm', messages: [{ role: 7, content: 'x' }] }), 'messages.0.role');
    expectBad(() => chat({ model: 'm', messages: [{ role: 'user', content: 5 }] }), 'messages.0.content');
    expectBad(() => chat({ model: 'm', messages: [user[0], user[0], { role: 'user', content: { text: 'x' } }] }), 'messages.2.content');
  });

  it('allows content to be null or absent (assistant tool calls)', () => {
    expect(() => chat({ model: 'm', messages: [...user, { role: 'assistant', content: null, tool_calls: [] }] })).not.toThrow();
    expect(() => chat({ model: 'm', messages: [{ role: 'assistant' }] })).not.toThrow();
  });

  it('refuses a non-boolean stream and stream_options without stream', () => {
    for (const stream of ['true', 1, 0, {}, []]) expectBad(() => chat({ model: 'm', messages: user, stream }), 'stream');
    expectBad(() => chat({ model: 'm', messages: user, stream_options: { include_usage: true } }), 'stream_options');
    expectBad(() => chat({ model: 'm', messages: user, stream: false, stream_options: { include_usage: true } }), 'stream_options');
    expectBad(() => chat({ model: 'm', messages: user, stream: true, stream_options: 'yes' }), 'stream_options');
    expectBad(() => chat({ model: 'm', messages: user, stream: true, stream_options: [true] }), 'stream_options');
    expect(() => chat({ model: 'm', messages: user, stream: null, stream_options: null })).not.toThrow();
  });

  it('refuses zero, negative, fractional, string and huge token limits', () => {
    for (const field of ['max_tokens', 'max_completion_tokens']) {
      for (const v of [0, -1, 1.5, '10', Number.NaN, 1e12, true]) expectBad(() => chat({ model: 'm', messages: user, [field]: v }), field, new RegExp(field));
    }
  });

  it('refuses n outside 1..128', () => {
    for (const n of [0, -2, 1.5, 129, 10_000, '2']) expectBad(() => chat({ model: 'm', messages: user, n }), 'n', /\bn\b/);
    expect(chat({ model: 'm', messages: user, n: 128, max_tokens: 1 }).maxOutputTokens).toBe(128);
  });
});

describe('parseCompletion', () => {
  it('accepts the prompt shapes and reserves max_tokens (default 16) × max(n, best_of) × prompts', () => {
    expect(parseCompletion({ model: 'i', prompt: 'Say hi' })).toMatchObject({ endpoint: 'completions', maxOutputTokens: 16, promptTokens: countTokens('Say hi') });
    expect(parseCompletion({ model: 'i', prompt: ['a', 'b'], max_tokens: 5 }).maxOutputTokens).toBe(10);
    expect(parseCompletion({ model: 'i', prompt: [1, 2, 3], max_tokens: 5 })).toMatchObject({ maxOutputTokens: 5, promptTokens: 3 });
    expect(parseCompletion({ model: 'i', prompt: [[1, 2], [3]], max_tokens: 5 })).toMatchObject({ maxOutputTokens: 10, promptTokens: 3 });
    expect(parseCompletion({ model: 'i', prompt: 'x', max_tokens: 5, n: 2, best_of: 3 }).maxOutputTokens).toBe(15);
    expect(parseCompletion({ model: 'i', prompt: 'x', stream: true, stream_options: { include_usage: true } })).toMatchObject({ stream: true, wantsUsage: true });
  });

  it('refuses a bad prompt with param "prompt"', () => {
    expectBad(() => parseCompletion({ model: 'i' }), 'prompt', /prompt/);
    expectBad(() => parseCompletion({ model: 'i', prompt: null }), 'prompt');
    for (const prompt of [5, {}, [], [1, 'a'], [true], ['a', 1]]) expectBad(() => parseCompletion({ model: 'i', prompt }), 'prompt');
  });

  it('checks the shared fields and limits', () => {
    expectBad(() => parseCompletion({ prompt: 'x' }), 'model');
    expectBad(() => parseCompletion({ model: 'i', prompt: 'x', stream: 'no' }), 'stream');
    expectBad(() => parseCompletion({ model: 'i', prompt: 'x', max_tokens: 0 }), 'max_tokens');
    expectBad(() => parseCompletion({ model: 'i', prompt: 'x', best_of: 200 }), 'best_of');
    expectBad(() => parseCompletion({ model: 'i', prompt: 'x', n: 0 }), 'n');
  });
});

describe('parseEmbeddings', () => {
  it('accepts text, texts and token arrays, reserving no output', () => {
    expect(parseEmbeddings({ model: 'e', input: 'alpha' })).toMatchObject({ endpoint: 'embeddings', stream: false, maxOutputTokens: 0, promptTokens: countTokens('alpha') });
    expect(parseEmbeddings({ model: 'e', input: ['alpha', 'beta'], encoding_format: 'base64' }).promptTokens).toBe(countTokens('alpha') + countTokens('beta'));
    expect(parseEmbeddings({ model: 'e', input: [1, 2, 3], encoding_format: 'float' }).promptTokens).toBe(3);
  });

  it('refuses empty or bad input with param "input"', () => {
    expectBad(() => parseEmbeddings({ model: 'e' }), 'input', /input/);
    for (const input of [null, '', [], [''], ['a', ''], 5, {}, Array.from({ length: 2049 }, () => 'a'), [null]]) {
      expectBad(() => parseEmbeddings({ model: 'e', input }), 'input');
    }
  });

  it('refuses streaming and unknown encodings', () => {
    expectBad(() => parseEmbeddings({ model: 'e', input: 'a', stream: true }), 'stream', /stream/);
    expectBad(() => parseEmbeddings({ model: 'e', input: 'a', encoding_format: 'hex' }), 'encoding_format');
    expectBad(() => parseEmbeddings({ input: 'a' }), 'model');
  });
});
