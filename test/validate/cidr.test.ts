import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { contains, findOverlaps, formatIp, parseCidr, parseIp, type TaggedRange } from '../../src/util/cidr.js';

test('parseIp / formatIp round-trip and reject junk', () => {
  assert.equal(parseIp('10.244.0.1')!.value, (10n << 24n) | (244n << 16n) | 1n);
  assert.equal(formatIp(6, parseIp('2001:DB8:0:0:0:0:0:1')!.value), '2001:db8::1');
  assert.equal(formatIp(6, parseIp('::ffff:1.2.3.4')!.value), '::ffff:102:304');
  assert.equal(formatIp(6, 0n), '::');
  for (const bad of ['010.1.1.1', '1.2.3', '256.1.1.1', 'fe80::1%eth0', '', 'x']) assert.equal(parseIp(bad), undefined, bad);
  fc.assert(fc.property(fc.ipV6(), (t) => parseIp(formatIp(6, parseIp(t)!.value))!.value === parseIp(t)!.value));
  fc.assert(fc.property(fc.ipV4(), (t) => formatIp(4, parseIp(t)!.value) === t));
});

test('parseCidr rejects host bits with the canonical form', () => {
  const r = parseCidr('10.244.1.0/16');
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.canonical, '10.244.0.0/16');
  const v6 = parseCidr('fd00:10:244::1/56');
  assert.equal(!v6.ok && v6.canonical, 'fd00:10:244::/56');
  for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0.0/-1', 'fd00::/129', 'x/8', '10.0.0.0/1a']) assert.equal(parseCidr(bad).ok, false, bad);
  const ok = parseCidr('FD00:0:0::/48');
  assert.ok(ok.ok && ok.cidr.text === 'fd00::/48');
  const ten = parseCidr('10.0.0.0/8');
  assert.ok(ten.ok && contains(ten.cidr, parseIp('10.9.9.9')!) && !contains(ten.cidr, parseIp('11.0.0.0')!));
});

type R = TaggedRange<number>;

function cidrArb(family: 4 | 6): fc.Arbitrary<{ start: bigint; end: bigint }> {
  const bits = family === 4 ? 32 : 128;
  // Small address windows make overlaps frequent enough to matter.
  const space = family === 4 ? 12 : 20;
  return fc.tuple(fc.bigInt(0n, (1n << BigInt(space)) - 1n), fc.integer({ min: bits - space, max: bits })).map(([v, prefix]) => {
    const host = BigInt(bits - prefix);
    const start = (v >> host) << host;
    return { start, end: start + (1n << host) - 1n };
  });
}

function bruteForce(ranges: R[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < ranges.length; i++)
    for (let j = i + 1; j < ranges.length; j++) {
      const a = ranges[i]!;
      const b = ranges[j]!;
      if (a.family === b.family && a.start <= b.end && b.start <= a.end) out.push(`${a.tag}-${b.tag}`);
    }
  return out.sort();
}

test('findOverlaps equals the O(n²) oracle (IPv4, IPv6, mixed; CIDRs and arbitrary ranges)', () => {
  const tagged = (xs: { family: 4 | 6; start: bigint; end: bigint }[]): R[] => xs.map((x, k) => ({ ...x, tag: k }));
  const cidrs = fc.array(fc.oneof(cidrArb(4).map((r) => ({ ...r, family: 4 as const })), cidrArb(6).map((r) => ({ ...r, family: 6 as const }))), { maxLength: 60 });
  const anyRanges = fc.array(
    fc.tuple(fc.constantFrom(4 as const, 6 as const), fc.bigInt(0n, 200n), fc.bigInt(0n, 30n)).map(([family, s, len]) => ({ family, start: s, end: s + len })),
    { maxLength: 60 },
  );
  for (const arb of [cidrs, anyRanges]) {
    fc.assert(
      fc.property(arb, (xs) => {
        const rs = tagged(xs);
        const got = findOverlaps(rs).map(([a, b]) => {
          assert.ok(a.tag < b.tag, 'pairs come in input order');
          return `${a.tag}-${b.tag}`;
        });
        assert.equal(new Set(got).size, got.length, 'each pair once');
        assert.deepEqual([...got].sort(), bruteForce(rs));
      }),
      { numRuns: 300 },
    );
  }
});

test('findOverlaps on many disjoint ranges returns nothing', () => {
  const rs: R[] = Array.from({ length: 20000 }, (_, k) => ({ family: 4, start: BigInt(k * 256), end: BigInt(k * 256 + 255), tag: k }));
  assert.deepEqual(findOverlaps(rs.reverse()), []);
});
