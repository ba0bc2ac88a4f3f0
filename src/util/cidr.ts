/**
 * IPv4/IPv6 addresses and CIDR blocks as bigint ranges, and the sort-and-sweep overlap finder the
 * validator runs over every pod, service and node range of a mesh (DESIGN.md §5: O(n log n), never
 * pairwise).
 */
import { isIP } from 'node:net';

export type IpFamily = 4 | 6;

/** An inclusive range of addresses of one family. */
export interface IpRange {
  family: IpFamily;
  start: bigint;
  end: bigint;
}

export interface ParsedIp {
  family: IpFamily;
  value: bigint;
}

/** A canonical CIDR block (no host bits set). */
export interface Cidr extends IpRange {
  prefix: number;
  /** Canonical text, e.g. `10.244.0.0/16`, `fd00::/48` (IPv6 compressed, lower case). */
  text: string;
}

export type CidrParseResult =
  | { ok: true; cidr: Cidr }
  | {
      ok: false;
      /** Why the text is not a canonical CIDR. */
      reason: string;
      /** For a block with host bits set: the canonical block that contains it. */
      canonical?: string;
    };

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };

/**
 * Parses an IPv4 address (dotted quad, no leading zeros) or an IPv6 address (no zone index).
 * Returns undefined for anything else.
 */
export function parseIp(text: string): ParsedIp | undefined {
  if (typeof text !== 'string') return undefined;
  const fam = isIP(text);
  if (fam === 4) {
    let v = 0n;
    for (const part of text.split('.')) v = (v << 8n) | BigInt(Number(part));
    return { family: 4, value: v };
  }
  if (fam === 6) {
    // Zone indexes (fe80::1%eth0) name an interface of one host; they mean nothing in a mesh spec.
    if (text.includes('%')) return undefined;
    return { family: 6, value: parseIpv6(text) };
  }
  return undefined;
}

function parseIpv6(text: string): bigint {
  let s = text.toLowerCase();
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    const p = tail.split('.').map(Number);
    const hi = ((p[0]! << 8) | p[1]!).toString(16);
    const lo = ((p[2]! << 8) | p[3]!).toString(16);
    s = `${s.slice(0, lastColon + 1)}${hi}:${lo}`;
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const r = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? h : [...h, ...Array<string>(8 - h.length - r.length).fill('0'), ...r];
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(parseInt(g, 16));
  return v;
}

/** Formats an address: dotted quad, or RFC 5952 compressed IPv6. */
export function formatIp(family: IpFamily, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => ((value >> s) & 0xffn).toString()).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (≥ 2) of zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Parses `addr/prefix`; rejects blocks with host bits set, naming the canonical block. */
export function parseCidr(text: string): CidrParseResult {
  if (typeof text !== 'string') return { ok: false, reason: 'not a string' };
  const t = text.trim();
  const slash = t.indexOf('/');
  if (slash < 0) return { ok: false, reason: 'missing "/<prefix length>"' };
  const ip = parseIp(t.slice(0, slash));
  if (!ip) return { ok: false, reason: `"${t.slice(0, slash)}" is not an IPv4 or IPv6 address` };
  const pText = t.slice(slash + 1);
  const bits = BITS[ip.family];
  if (!/^\d{1,3}$/.test(pText) || Number(pText) > bits) {
    return { ok: false, reason: `prefix length "${pText}" must be a number from 0 to ${bits}` };
  }
  const prefix = Number(pText);
  const hostBits = BigInt(bits - prefix);
  const hostMask = (1n << hostBits) - 1n;
  const start = ip.value & ~hostMask;
  const canonical = `${formatIp(ip.family, start)}/${prefix}`;
  if ((ip.value & hostMask) !== 0n) {
    return { ok: false, reason: 'host bits are set', canonical };
  }
  return { ok: true, cidr: { family: ip.family, start, end: start | hostMask, prefix, text: canonical } };
}

/** The one-address range of an IP. */
export function ipRange(ip: ParsedIp): IpRange {
  return { family: ip.family, start: ip.value, end: ip.value };
}

/** True when `inner` (a range or an address) lies entirely inside `outer`. */
export function contains(outer: IpRange, inner: IpRange | ParsedIp): boolean {
  if (outer.family !== inner.family) return false;
  const s = 'value' in inner ? inner.value : inner.start;
  const e = 'value' in inner ? inner.value : inner.end;
  return outer.start <= s && e <= outer.end;
}

/** True when the two ranges share at least one address. */
export function overlaps(a: IpRange, b: IpRange): boolean {
  return a.family === b.family && a.start <= b.end && b.start <= a.end;
}

/** A range with whatever the caller needs to name its owner (cluster, kind, path...). */
export interface TaggedRange<T> extends IpRange {
  tag: T;
}

/**
 * Every pair of overlapping ranges, each pair once, as `[earlier, later]` in input order.
 *
 * Sort-and-sweep: ranges sorted by (family, start); an active set (a min-heap on `end`) holds the
 * ranges that still reach the current start. Everything left in it after evicting the ranges that
 * end before the current start overlaps the current range, so the cost is O(n log n + k) for k
 * reported pairs: disjoint input never compares more than neighbours.
 */
export function findOverlaps<T>(ranges: readonly TaggedRange<T>[]): Array<[TaggedRange<T>, TaggedRange<T>]> {
  const order = ranges.map((_, i) => i);
  order.sort((i, j) => {
    const a = ranges[i]!;
    const b = ranges[j]!;
    if (a.family !== b.family) return a.family - b.family;
    if (a.start !== b.start) return a.start < b.start ? -1 : 1;
    return i - j;
  });
  const out: Array<[number, number]> = [];
  const heap: number[] = []; // indexes into ranges, min-heap by end
  let family: IpFamily | undefined;
  const endOf = (k: number) => ranges[heap[k]!]!.end;
  const swap = (a: number, b: number) => {
    const t = heap[a]!;
    heap[a] = heap[b]!;
    heap[b] = t;
  };
  const push = (idx: number) => {
    heap.push(idx);
    let k = heap.length - 1;
    while (k > 0) {
      const p = (k - 1) >> 1;
      if (endOf(p) <= endOf(k)) break;
      swap(p, k);
      k = p;
    }
  };
  const pop = () => {
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let k = 0;
    for (;;) {
      const l = 2 * k + 1;
      const r = l + 1;
      let m = k;
      if (l < heap.length && endOf(l) < endOf(m)) m = l;
      if (r < heap.length && endOf(r) < endOf(m)) m = r;
      if (m === k) break;
      swap(m, k);
      k = m;
    }
  };
  for (const i of order) {
    const cur = ranges[i]!;
    if (cur.family !== family) {
      heap.length = 0;
      family = cur.family;
    }
    while (heap.length > 0 && endOf(0) < cur.start) pop();
    for (const j of heap) out.push(j < i ? [j, i] : [i, j]);
    push(i);
  }
  out.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return out.map(([a, b]) => [ranges[a]!, ranges[b]!]);
}
