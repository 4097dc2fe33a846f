import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { countTokens } from 'gpt-tokenizer';
import { openaiProvider } from '../providers/openai.js';
import { MAX_EVENT_CHARS, SseMeter } from './sse.js';

const ev = (o: unknown) => `data: ${typeof o === 'string' ? o : JSON.stringify(o)}\n\n`;
const chunk = (i: number, content: string) => ({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }] });
const usageEvent = { id: 'c', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } };

/** Feed a text split at the given byte offsets; returns everything passed on. */
function feed(m: SseMeter, text: string | Buffer, cuts: number[] = []): string {
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text);
  let out = '';
  let at = 0;
  for (const c of [...cuts, buf.length]) {
    out += m.push(buf.subarray(at, c));
    at = c;
  }
  return out + m.end();
}

const STREAM = ev(chunk(0, 'hello')) + ev(chunk(1, ' hello')) + ev(chunk(2, ' hello')) + ev(usageEvent) + ev('[DONE]');

describe('SseMeter', () => {
  it('passes complete events on as they arrive', () => {
    const m = new SseMeter(false);
    expect(m.push(Buffer.from(ev(chunk(0, 'a'))))).toBe(ev(chunk(0, 'a')));
    expect(m.push(Buffer.from('data: {"x":'))).toBe('');
    expect(m.push(Buffer.from('1}\n'))).toBe('');
    expect(m.push(Buffer.from('\n'))).toBe('data: {"x":1}\n\n');
    expect(m.delivered).toBe(2);
    expect(m.end()).toBe('');
  });

  it('gives the same output however the stream is split into chunks', () => {
    const whole = feed(new SseMeter(false), STREAM);
    expect(whole).toBe(STREAM);
    const bytes = Buffer.from(STREAM);
    for (let cut = 1; cut < bytes.length; cut += 7) {
      const m = new SseMeter(false);
      expect(feed(m, bytes, [cut])).toBe(STREAM);
      expect(m.sawDone).toBe(true);
    }
    // byte by byte
    const m = new SseMeter(false);
    expect(feed(m, bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1))).toBe(STREAM);
    expect(m.delivered).toBe(4);
    expect(m.usageJson).toEqual(usageEvent);
  });

  it('normalises CRLF line endings, also when a CRLF is split across chunks', () => {
    const crlf = STREAM.replaceAll('\n', '\r\n');
    expect(feed(new SseMeter(false), crlf)).toBe(STREAM);
    const bytes = Buffer.from(crlf);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(feed(new SseMeter(false), bytes, [cut]), `cut at ${cut}`).toBe(STREAM);
    }
    // an event name and its data stay one event when the CRLF between them is split
    const named = 'event: message_start\r\ndata: {"a":1}\r\n\r\n';
    const i = named.indexOf('\r\n') + 1;
    expect(feed(new SseMeter(false), Buffer.from(named), [i])).toBe('event: message_start\ndata: {"a":1}\n\n');
    // lone CR line endings are line endings too
    expect(feed(new SseMeter(false), 'data: {"a":1}\r\r')).toBe('data: {"a":1}\n\n');
  });

  it('strips the usage event only when asked, and reads usage either way', () => {
    const keep = new SseMeter(false);
    expect(feed(keep, STREAM)).toBe(STREAM);
    expect(keep.usageJson).toEqual(usageEvent);

    const strip = new SseMeter(true);
    expect(feed(strip, STREAM)).toBe(ev(chunk(0, 'hello')) + ev(chunk(1, ' hello')) + ev(chunk(2, ' hello')) + ev('[DONE]'));
    expect(strip.usageJson).toEqual(usageEvent);
    expect(strip.sawDone).toBe(true);
    // the stripped event is not "delivered"
    expect(strip.delivered).toBe(3);
  });

  it('never strips an event that carries content along with usage, nor one whose usage is null', () => {
    const both = { choices: [{ index: 0, delta: { content: 'x' } }], usage: { prompt_tokens: 1, completion_tokens: 1 } };
    const nullUsage = { choices: [], usage: null };
    const m = new SseMeter(true);
    expect(feed(m, ev(both) + ev(nullUsage))).toBe(ev(both) + ev(nullUsage));
    expect(m.usageJson).toEqual(both);
  });

  it('passes comments and other fields through untouched', () => {
    const m = new SseMeter(true);
    const text = ': keep-alive\n\nretry: 1000\n\n' + ev(chunk(0, 'a'));
    expect(feed(m, text)).toBe(text);
    expect(m.delivered).toBe(1);
  });

  it('joins multi-line data fields', () => {
    const seen: unknown[] = [];
    const m = new SseMeter(false, (json) => (seen.push(json), ''));
    feed(m, 'data: {"a":\ndata: 1}\n\n');
    m.completionTokens();
    expect(seen).toEqual([{ a: 1 }]);
  });

  it('detects a malformed event, withholds it and stops there', () => {
    const m = new SseMeter(false);
    const text = ev(chunk(0, 'hello')) + ev(chunk(1, ' hello')) + 'data: {"this is not json\n\n' + ev(chunk(2, ' more')) + ev('[DONE]');
    const out = feed(m, text);
    expect(out).toBe(ev(chunk(0, 'hello')) + ev(chunk(1, ' hello')));
    expect(m.malformed).toBe(true);
    expect(m.sawDone).toBe(false);
    expect(m.delivered).toBe(2);
  });

  it('treats an unparsable usage event as malformed', () => {
    const m = new SseMeter(false);
    expect(feed(m, 'data: {"usage": {"prompt_tokens": 1,,}}\n\n')).toBe('');
    expect(m.malformed).toBe(true);
    expect(m.usageJson).toBeNull();
  });

  it('decodes multi-byte UTF-8 split across chunks', () => {
    const text = ev(chunk(0, '你好，世界 🌍')) + ev(chunk(1, 'é')) + ev('[DONE]');
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const seen: string[] = [];
      const m = new SseMeter(false, (json) => (seen.push(openaiProvider.textFromStreamEvent(json)), ''));
      expect(feed(m, bytes, [cut]), `cut at ${cut}`).toBe(text);
      m.completionTokens();
      expect(seen).toEqual(['你好，世界 🌍', 'é']);
    }
    // every byte of a 4-byte character in its own chunk
    const emoji = Buffer.from(ev(chunk(0, '🌍')));
    const start = emoji.indexOf(Buffer.from('🌍'));
    expect(feed(new SseMeter(false), emoji, [start + 1, start + 2, start + 3])).toBe(ev(chunk(0, '🌍')));
  });

  it('passes a last event without its blank line on at the end', () => {
    const m = new SseMeter(false);
    expect(m.push(Buffer.from(ev(chunk(0, 'a')) + 'data: [DONE]'))).toBe(ev(chunk(0, 'a')));
    expect(m.end()).toBe('data: [DONE]\n\n');
    expect(m.sawDone).toBe(true);
  });

  it('counts events', () => {
    const m = new SseMeter(true);
    feed(m, STREAM);
    expect(m.events).toBe(5);
  });
});

/** A deterministic mixed text: English, code, digits, CJK with its punctuation, emoji, line breaks. */
function mixedText(chars: number, seed = 1): string {
  const parts = ['Hello', 'world', 'the', 'quick', "don't", 'x = y[i];', '12345', '中文内容', '你好，世界。', '🌍', '\n', '\n\n', '  ', '/\n', 'é', 'TOLLGATE', '\t'];
  let s = '';
  let r = seed;
  while (s.length < chars) {
    r = (r * 1103515245 + 12345) & 0x7fffffff;
    s += parts[r % parts.length]! + (r % 3 ? ' ' : '');
  }
  return s;
}

/** The text as an OpenAI chat stream without usage, in deltas of 1–40 characters. */
function streamOf(text: string): Buffer {
  let out = '';
  let r = 7;
  for (let i = 0; i < text.length; ) {
    r = (r * 1103515245 + 12345) & 0x7fffffff;
    let n = 1 + (r % 40);
    if (/[\uD800-\uDBFF]/.test(text[i + n - 1] ?? '')) n++; // JSON.stringify would escape a split pair
    out += ev(chunk(0, text.slice(i, i + n)));
    i += n;
  }
  return Buffer.from(out + ev('[DONE]'));
}

const gcNow = (() => {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
})();

describe('SseMeter over long streams', () => {
  const text = mixedText(300_000);
  const bytes = streamOf(text);

  it('counts the completion of a stream without usage exactly as if it had kept every event', () => {
    const m = new SseMeter(true, (json) => openaiProvider.textFromStreamEvent(json));
    let maxHeld = 0;
    for (let at = 0; at < bytes.length; at += 1500) {
      m.push(bytes.subarray(at, at + 1500));
      maxHeld = Math.max(maxHeld, m.held);
    }
    m.end();
    expect(m.sawDone).toBe(true);
    expect(m.completionTokens()).toBe(countTokens(text));
    // 32K characters of uncounted events, the count's tail below 64K, one split event
    expect(maxHeld).toBeLessThan(100_000);
  });

  it('retains a bounded amount of memory per stream, however long the stream was', () => {
    const meters: SseMeter[] = [];
    gcNow();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 12; i++) {
      const m = new SseMeter(true, (json) => openaiProvider.textFromStreamEvent(json));
      for (let at = 0; at < bytes.length; at += 4096) m.push(bytes.subarray(at, at + 4096));
      meters.push(m);
    }
    gcNow();
    const grown = process.memoryUsage().heapUsed - before;
    // Keeping every event would hold 12 × ~1.7 MB; the meters hold well under 0.2 MB each.
    expect(bytes.length).toBeGreaterThan(1_500_000);
    expect(grown).toBeLessThan(5 * 1024 * 1024);
    expect(meters.every((m) => m.delivered > 10_000)).toBe(true);
  });

  it('cuts a stream whose event never ends', () => {
    const m = new SseMeter(false);
    const piece = Buffer.from('data: {"choices":[{"delta":{"content":"' + 'x'.repeat(64 * 1024));
    m.push(piece);
    for (let sent = piece.length; sent <= MAX_EVENT_CHARS && !m.malformed; sent += 64 * 1024) m.push(Buffer.from('x'.repeat(64 * 1024)));
    expect(m.malformed).toBe(true);
    expect(m.oversized).toBe(true);
    expect(m.held).toBe(0);
  });
});
