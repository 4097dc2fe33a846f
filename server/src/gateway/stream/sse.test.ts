import { describe, expect, it } from 'vitest';
import { SseMeter } from './sse.js';

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
    expect(m.delivered).toEqual([JSON.stringify(chunk(0, 'a')), '{"x":1}']);
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
    expect(m.delivered).toHaveLength(4);
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
    expect(strip.delivered).toHaveLength(3);
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
    expect(m.delivered).toHaveLength(1);
  });

  it('joins multi-line data fields', () => {
    const m = new SseMeter(false);
    feed(m, 'data: {"a":\ndata: 1}\n\n');
    expect(m.delivered).toEqual(['{"a":\n1}']);
  });

  it('detects a malformed event, withholds it and stops there', () => {
    const m = new SseMeter(false);
    const text = ev(chunk(0, 'hello')) + ev(chunk(1, ' hello')) + 'data: {"this is not json\n\n' + ev(chunk(2, ' more')) + ev('[DONE]');
    const out = feed(m, text);
    expect(out).toBe(ev(chunk(0, 'hello')) + ev(chunk(1, ' hello')));
    expect(m.malformed).toBe(true);
    expect(m.sawDone).toBe(false);
    expect(m.delivered).toHaveLength(2);
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
      const m = new SseMeter(false);
      expect(feed(m, bytes, [cut]), `cut at ${cut}`).toBe(text);
      expect(JSON.parse(m.delivered[0]!).choices[0].delta.content).toBe('你好，世界 🌍');
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
