import { describe, expect, it } from 'vitest';
import { compileIpAllowList, parseIpRule } from './ip.js';

describe('parseIpRule', () => {
  it('accepts addresses and CIDRs of both families', () => {
    expect(parseIpRule('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseIpRule('203.0.113.7')).toEqual({ address: '203.0.113.7', prefix: 32, family: 'ipv4' });
    expect(parseIpRule(' 192.168.1.0/24 ')).toEqual({ address: '192.168.1.0', prefix: 24, family: 'ipv4' });
    expect(parseIpRule('2001:db8::/32')).toEqual({ address: '2001:db8::', prefix: 32, family: 'ipv6' });
    expect(parseIpRule('::1')).toEqual({ address: '::1', prefix: 128, family: 'ipv6' });
    expect(parseIpRule('0.0.0.0/0').prefix).toBe(0);
  });

  it('refuses anything else', () => {
    for (const bad of [
      '',
      'localhost',
      '10.0.0',
      '10.0.0.256',
      '10.0.0.0/33',
      '10.0.0.0/-1',
      '10.0.0.0/',
      '10.0.0.0/8.5',
      '10.0.0.0/ 8',
      '10.0.0.0/8/9',
      '10.0.0.0/0x8',
      '2001:db8::/129',
      '2001:db8::/abc',
      '*',
    ]) {
      expect(() => parseIpRule(bad), JSON.stringify(bad)).toThrow(RangeError);
    }
  });
});

describe('compileIpAllowList', () => {
  it('allows everyone when there are no rules', () => {
    expect(compileIpAllowList([])).toBeNull();
  });

  it('matches IPv4 addresses and CIDRs', () => {
    const allow = compileIpAllowList(['10.0.0.0/8', '203.0.113.7'])!;
    expect(allow('10.1.2.3')).toBe(true);
    expect(allow('10.255.255.255')).toBe(true);
    expect(allow('11.0.0.1')).toBe(false);
    expect(allow('203.0.113.7')).toBe(true);
    expect(allow('203.0.113.8')).toBe(false);
    expect(allow('127.0.0.1')).toBe(false);
  });

  it('matches IPv4-mapped IPv6 client addresses against IPv4 rules', () => {
    const allow = compileIpAllowList(['10.0.0.0/8'])!;
    expect(allow('::ffff:10.9.8.7')).toBe(true);
    expect(allow('::ffff:127.0.0.1')).toBe(false);
  });

  it('matches IPv6 rules', () => {
    const allow = compileIpAllowList(['2001:db8::/32', '::1'])!;
    expect(allow('2001:db8:1234::5')).toBe(true);
    expect(allow('2001:db9::1')).toBe(false);
    expect(allow('::1')).toBe(true);
    expect(allow('10.0.0.1')).toBe(false);
  });

  it('refuses what is not an address', () => {
    const allow = compileIpAllowList(['0.0.0.0/0'])!;
    expect(allow('1.2.3.4')).toBe(true);
    expect(allow('')).toBe(false);
    expect(allow('not-an-ip')).toBe(false);
  });

  it('throws on a bad rule instead of ignoring it', () => {
    expect(() => compileIpAllowList(['10.0.0.0/8', 'nope'])).toThrow(RangeError);
  });
});
