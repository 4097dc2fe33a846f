import { BlockList, isIP } from 'node:net';

/** Parse and validate allowed IPs / CIDRs ("10.0.0.0/8", "2001:db8::/32", "1.2.3.4"). */
export function parseIpRule(rule: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const [addr, bits, ...extra] = rule.trim().split('/');
  const fam = isIP(addr ?? '');
  if (!addr || fam === 0 || extra.length > 0) throw new RangeError(`"${rule}" is not an IP address or CIDR`);
  const family = fam === 4 ? 'ipv4' : 'ipv6';
  const max = fam === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (bits !== undefined && !/^\d+$/.test(bits))) {
    throw new RangeError(`"${rule}" has an invalid prefix length`);
  }
  return { address: addr, prefix, family };
}

/** A matcher over allowed IP rules; IPv4-mapped IPv6 client addresses (::ffff:1.2.3.4) match IPv4 rules. */
export function compileIpAllowList(rules: readonly string[]): ((ip: string) => boolean) | null {
  if (rules.length === 0) return null;
  const list = new BlockList();
  for (const r of rules) {
    const { address, prefix, family } = parseIpRule(r);
    list.addSubnet(address, prefix, family);
  }
  return (ip) => {
    const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
    const fam = isIP(v4);
    if (fam === 0) return false;
    return list.check(v4, fam === 4 ? 'ipv4' : 'ipv6');
  };
}
