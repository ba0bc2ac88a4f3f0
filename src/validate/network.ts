/**
 * Address-space rules: pod/service/node CIDRs and endpoint IPs, checked in one sort-and-sweep
 * over every range of the mesh (DESIGN.md §5), plus the values-file and facts cross-checks.
 */
import { isWorker } from '../kube/facts.js';
import type { ClusterSpec, MeshSpec } from '../spec/types.js';
import { contains, findOverlaps, parseCidr, parseIp, type Cidr, type IpRange, type TaggedRange } from '../util/cidr.js';
import { at, cidrPath, cpath, isMap, type Rule, type Sink, type ValidateContext, type Where } from './context.js';
import { checkNativeRouting } from './datapath.js';

type Kind = 'pod' | 'service' | 'node' | 'ip' | 'lb';
interface Tag {
  cluster: number;
  kind: Kind;
  path: string;
  text: string;
}

const RKE2_DEFAULT_POD_CIDR = '10.42.0.0/16';
const KIND_WORDS: Record<Kind, string> = {
  pod: 'pod CIDR',
  service: 'service CIDR',
  node: 'node CIDR',
  ip: 'endpoint IP',
  lb: 'load-balancer IP',
};

/** Parsed CIDRs per cluster, with findings for unparseable ones (in-memory specs). */
export interface ParsedNet {
  pod: Cidr[][];
  service: Cidr[][];
  node: Cidr[][];
}

function parseList(c: ClusterSpec, list: string[], pathOf: (j: number) => string, out: Sink): Cidr[] {
  const res: Cidr[] = [];
  list.forEach((t, j) => {
    const r = parseCidr(t);
    if (r.ok) res.push(r.cidr);
    else if (r.canonical) out.add('CIDR_NOT_CANONICAL', at.path(c, pathOf(j), 'cluster'), t, `${t} is not a canonical CIDR: host bits are set (the block is ${r.canonical})`, `write ${r.canonical}`);
    else out.add('CIDR_INVALID', at.path(c, pathOf(j), 'cluster'), t, `${JSON.stringify(t)} of ${c.name} is not a CIDR: ${r.reason}`, 'write the block as e.g. 10.244.0.0/16');
  });
  return res;
}

export function parseNet(spec: MeshSpec, out: Sink): ParsedNet {
  const net: ParsedNet = { pod: [], service: [], node: [] };
  for (const c of spec.clusters) {
    net.pod.push(parseList(c, c.podCIDRs, (j) => cidrPath(c, 'podCIDR', j, c.podCIDRs.length), out));
    net.service.push(parseList(c, c.serviceCIDRs, (j) => cidrPath(c, 'serviceCIDR', j, c.serviceCIDRs.length), out));
    net.node.push(parseList(c, c.nodeCIDRs, (j) => cpath(c, 'nodeCIDRs', `[${j}]`), out));
    if (c.podCIDRs.length === 0) {
      out.add('POD_CIDR_MISSING', at.cluster(c, 'podCIDR'), undefined, `cluster ${c.name} has no pod CIDR`, `set ${cpath(c, 'podCIDR')} (RKE2 cluster-cidr), name a values file with global.clusterCIDR, or run discover`);
    }
    if (c.serviceCIDRs.length === 0) {
      out.add('SERVICE_CIDR_MISSING', at.cluster(c, 'serviceCIDR'), undefined, `cluster ${c.name} has no service CIDR`, `set ${cpath(c, 'serviceCIDR')} (RKE2 service-cidr), name a values file with global.serviceCIDR, or run discover`);
    }
  }
  return net;
}

export function checkAddressSpace(spec: MeshSpec, ctx: ValidateContext, out: Sink, net: ParsedNet): void {
  const ranges: TaggedRange<Tag>[] = [];
  const push = (r: IpRange, tag: Tag) => ranges.push({ family: r.family, start: r.start, end: r.end, tag });
  for (const c of spec.clusters) {
    const i = c.index;
    net.pod[i]!.forEach((r, j) => push(r, { cluster: i, kind: 'pod', path: cidrPath(c, 'podCIDR', j, c.podCIDRs.length), text: r.text }));
    net.service[i]!.forEach((r, j) => push(r, { cluster: i, kind: 'service', path: cidrPath(c, 'serviceCIDR', j, c.serviceCIDRs.length), text: r.text }));
    net.node[i]!.forEach((r, j) => push(r, { cluster: i, kind: 'node', path: cpath(c, 'nodeCIDRs', `[${j}]`), text: r.text }));
    const ep = c.endpoint;
    if (ep.type === 'NodePort') {
      ep.ips.forEach((t, j) => {
        const p = cpath(c, 'endpoint', 'ips', `[${j}]`);
        const ip = parseIp(t);
        if (!ip) {
          out.add('IP_INVALID', at.path(c, p, 'dialled'), t, `${JSON.stringify(t)} is not an IPv4 or IPv6 address`, 'write a plain address, e.g. 192.0.2.21');
          return;
        }
        push({ family: ip.family, start: ip.value, end: ip.value }, { cluster: i, kind: 'ip', path: p, text: t });
        const nodes = net.node[i]!;
        if (c.nodeCIDRs.length > 0 && nodes.length > 0 && !nodes.some((n) => contains(n, ip))) {
          out.add('ENDPOINT_IP_OUTSIDE_NODE_CIDRS', at.path(c, p, 'dialled'), t, `endpoint IP ${t} of ${c.name} lies outside its nodeCIDRs (${c.nodeCIDRs.join(', ')})`, `use worker IPs of ${c.name}, or add their network to ${cpath(c, 'nodeCIDRs')}`);
        }
      });
    } else if (ep.loadBalancerIP !== undefined) {
      const p = cpath(c, 'endpoint', 'loadBalancerIP');
      const ip = parseIp(ep.loadBalancerIP);
      if (!ip) out.add('IP_INVALID', at.path(c, p, 'dialled'), ep.loadBalancerIP, `${JSON.stringify(ep.loadBalancerIP)} is not an IPv4 or IPv6 address`, 'write a plain address, e.g. 198.51.100.7');
      else push({ family: ip.family, start: ip.value, end: ip.value }, { cluster: i, kind: 'lb', path: p, text: ep.loadBalancerIP });
    }
  }

  // Identical blocks shared by many clusters (typically every cluster left on RKE2's defaults)
  // are reported against their first holder only: n−1 findings instead of n(n−1)/2.
  const firstSame = new Map<string, number>();
  const keyOf = (r: TaggedRange<Tag>) => `${r.tag.kind}|${r.family}|${r.start}|${r.end}`;
  ranges.forEach((r, k) => {
    if (!firstSame.has(keyOf(r))) firstSame.set(keyOf(r), k);
  });
  const index = new Map<TaggedRange<Tag>, number>(ranges.map((r, k) => [r, k]));

  for (const [a, b] of findOverlaps(ranges)) {
    if (a.start === b.start && a.end === b.end && a.tag.kind === b.tag.kind && firstSame.get(keyOf(a)) !== index.get(a)) continue;
    classify(spec, a, b, out);
  }
}

/** Where a finding on range `r` sits: an endpoint address is dialled by peers, a CIDR is its cluster's own. */
function whereOf(spec: MeshSpec, r: TaggedRange<Tag>): Where {
  return at.path(spec.clusters[r.tag.cluster]!, r.tag.path, r.tag.kind === 'ip' || r.tag.kind === 'lb' ? 'dialled' : 'cluster');
}

function classify(spec: MeshSpec, a: TaggedRange<Tag>, b: TaggedRange<Tag>, out: Sink): void {
  const ca = spec.clusters[a.tag.cluster]!;
  const cb = spec.clusters[b.tag.cluster]!;
  const same = ca.index === cb.index;
  const kinds = new Set([a.tag.kind, b.tag.kind]);
  const has = (k: Kind) => kinds.has(k);
  const pick = (k: Kind) => (a.tag.kind === k ? [a, b] : [b, a]) as [TaggedRange<Tag>, TaggedRange<Tag>];
  const desc = (r: TaggedRange<Tag>) => `${spec.clusters[r.tag.cluster]!.name}'s ${KIND_WORDS[r.tag.kind]} ${r.tag.text} (${r.tag.path})`;
  // Findings sit on the later range; the message names both sides.
  const vs = `${b.tag.text} of ${cb.name} overlaps ${desc(a)}`;

  if (a.tag.kind === 'pod' && b.tag.kind === 'pod') {
    if (a.tag.text === RKE2_DEFAULT_POD_CIDR && b.tag.text === RKE2_DEFAULT_POD_CIDR && !same) {
      out.add('POD_CIDR_RKE2_DEFAULT_SHARED', whereOf(spec, b), b.tag.text, `${cb.name} and ${ca.name} both use RKE2's default pod CIDR 10.42.0.0/16; pod addresses would collide across the mesh, and a cluster's cluster-cidr cannot change after install`, `give ${cb.name} its own pod CIDR (RKE2 cluster-cidr) — for an installed cluster this means rebuilding it`);
    } else {
      out.add('POD_CIDR_OVERLAP', whereOf(spec, b), b.tag.text, `pod CIDR ${vs}`, `give ${cb.name} a pod CIDR that no other cluster uses`);
    }
  } else if (a.tag.kind === 'service' && b.tag.kind === 'service') {
    out.add('SERVICE_CIDR_OVERLAP', whereOf(spec, b), b.tag.text, `service CIDR ${vs}`, `give ${cb.name} a service CIDR of its own`);
  } else if (has('service') && has('pod')) {
    const [s, p] = pick('service');
    const cs = spec.clusters[s.tag.cluster]!;
    out.add('SERVICE_POD_CIDR_OVERLAP', whereOf(spec, s), s.tag.text, `service CIDR ${s.tag.text} of ${cs.name} overlaps ${desc(p)}`, `move ${cs.name}'s service CIDR out of every pod CIDR`);
  } else if (a.tag.kind === 'node' && b.tag.kind === 'node') {
    if (!same) out.add('NODE_CIDR_OVERLAP', whereOf(spec, b), b.tag.text, `node CIDR ${vs}`, 'clusters of a mesh need disjoint node networks; correct the nodeCIDRs');
  } else if (has('node') && (has('pod') || has('service'))) {
    const [n, o] = pick('node');
    const cn = spec.clusters[n.tag.cluster]!;
    out.add('NODE_CIDR_IN_CLUSTER_CIDR', whereOf(spec, n), n.tag.text, `node CIDR ${n.tag.text} of ${cn.name} overlaps ${desc(o)}`, 'node networks, pod CIDRs and service CIDRs must be disjoint; change the pod/service CIDR or correct the nodeCIDRs');
  } else if ((has('ip') || has('lb')) && (has('pod') || has('service'))) {
    const [ip, o] = a.tag.kind === 'ip' || a.tag.kind === 'lb' ? [a, b] : [b, a];
    const ci = spec.clusters[ip.tag.cluster]!;
    out.add('ENDPOINT_IP_IN_CLUSTER_CIDR', whereOf(spec, ip), ip.tag.text, `${KIND_WORDS[ip.tag.kind]} ${ip.tag.text} of ${ci.name} lies inside ${desc(o)}`, 'use a node (or load-balancer) address outside every pod and service CIDR');
  } else if (has('ip') && has('node')) {
    const [ip, n] = pick('ip');
    if (!same) {
      const ci = spec.clusters[ip.tag.cluster]!;
      out.add('IP_IN_TWO_CLUSTERS', whereOf(spec, ip), ip.tag.text, `endpoint IP ${ip.tag.text} of ${ci.name} lies in ${desc(n)}`, `use IPs of ${ci.name}'s own worker nodes`);
    }
  } else if ((a.tag.kind === 'ip' || a.tag.kind === 'lb') && (b.tag.kind === 'ip' || b.tag.kind === 'lb')) {
    if (same) {
      if (a.tag.kind === 'ip' && b.tag.kind === 'ip') out.add('ENDPOINT_IP_DUPLICATE', whereOf(spec, b), b.tag.text, `${cb.name} lists endpoint IP ${b.tag.text} twice (${a.tag.path})`, 'list each IP once');
    } else {
      out.add('IP_IN_TWO_CLUSTERS', whereOf(spec, b), b.tag.text, `${KIND_WORDS[b.tag.kind]} ${b.tag.text} of ${cb.name} is also ${desc(a)}`, 'an address belongs to one cluster: correct the endpoint of one of them');
    }
  }
}

function sameSet(a: readonly Cidr[], b: readonly Cidr[]): boolean {
  const ka = a.map((c) => c.text).sort();
  const kb = b.map((c) => c.text).sort();
  return ka.length === kb.length && ka.every((x, k) => x === kb[k]);
}

function parseAll(list: readonly string[]): Cidr[] | undefined {
  const out: Cidr[] = [];
  for (const t of list) {
    const r = parseCidr(t.trim());
    if (!r.ok) return undefined;
    out.push(r.cidr);
  }
  return out;
}

/** Values' RKE2 globals and discovered cluster/service CIDRs agree with the spec. */
export function checkCidrSources(spec: MeshSpec, ctx: ValidateContext, out: Sink, net: ParsedNet): void {
  for (const c of spec.clusters) {
    const i = c.index;
    const g = c.values && isMap(c.values.data.global) ? c.values.data.global : undefined;
    const pairs = [
      ['clusterCIDR', 'podCIDR', net.pod[i]!, 'VALUES_POD_CIDR_MISMATCH', 'FACTS_POD_CIDR_MISMATCH', ctx.facts?.clusters[c.name]?.clusterCIDR],
      ['serviceCIDR', 'serviceCIDR', net.service[i]!, 'VALUES_SERVICE_CIDR_MISMATCH', 'FACTS_SERVICE_CIDR_MISMATCH', ctx.facts?.clusters[c.name]?.serviceCIDR],
    ] as const;
    for (const [gkey, skey, mine, vcode, fcode, factList] of pairs) {
      const specList = skey === 'podCIDR' ? c.podCIDRs : c.serviceCIDRs;
      if (mine.length === 0 || mine.length !== specList.length) continue;
      const gv = g?.[gkey];
      if (typeof gv === 'string') {
        const theirs = parseAll(gv.split(','));
        if (!theirs || !sameSet(mine, theirs)) {
          out.add(vcode, at.cluster(c, skey), specList.join(','), `${c.name}: the spec's ${skey} ${specList.join(',')} disagrees with global.${gkey} ${gv} in ${c.values!.path}`, `make ${cpath(c, skey)} and global.${gkey} agree: RKE2 sets global.${gkey} from the cluster's real ${gkey === 'clusterCIDR' ? 'cluster-cidr' : 'service-cidr'}`);
        }
      }
      if (factList && factList.length > 0) {
        const theirs = parseAll(factList);
        if (!theirs || !sameSet(mine, theirs)) {
          out.add(fcode, at.cluster(c, skey), specList.join(','), `${c.name}: the spec's ${skey} ${specList.join(',')} disagrees with the live cluster's ${factList.join(',')}`, `set ${cpath(c, skey)} to ${factList.join(',')} (it cannot change after install)`);
        }
      }
    }
  }
}

/** With facts: endpoint IPs are worker nodes of their own cluster; pod CIDRs hold the nodes'. */
export function checkFacts(spec: MeshSpec, ctx: ValidateContext, out: Sink, net: ParsedNet): void {
  const facts = ctx.facts;
  if (!facts) return;
  const owners = new Map<string, { cluster: string; node: string; worker: boolean }[]>();
  for (const c of spec.clusters) {
    for (const n of facts.clusters[c.name]?.nodes ?? []) {
      for (const ip of [...n.internalIPs, ...n.externalIPs]) {
        const list = owners.get(ip) ?? [];
        list.push({ cluster: c.name, node: n.name, worker: isWorker(n) });
        owners.set(ip, list);
      }
    }
  }
  for (const c of spec.clusters) {
    const nodes = facts.clusters[c.name]?.nodes;
    if (!nodes) continue;
    const workers = nodes.filter(isWorker).flatMap((n) => n.internalIPs.slice(0, 1));
    if (c.endpoint.type === 'NodePort') {
      c.endpoint.ips.forEach((t, j) => {
        const p = at.dialled(c, 'endpoint', 'ips', `[${j}]`);
        const here = (owners.get(t) ?? []).filter((o) => o.cluster === c.name);
        if (here.some((o) => o.worker)) return;
        const fix = workers.length > 0 ? `use worker IPs of ${c.name}, e.g. ips: [${workers.slice(0, 3).join(', ')}]` : `use worker IPs of ${c.name}`;
        if (here.length > 0) {
          out.add('ENDPOINT_IP_CONTROL_PLANE', p, t, `endpoint IP ${t} of ${c.name} is control-plane/etcd node ${here[0]!.node}; peers dialling it fail on RKE2 with "etcdserver: permission denied"`, fix);
          return;
        }
        const elsewhere = (owners.get(t) ?? []).find((o) => o.cluster !== c.name);
        if (elsewhere) {
          out.add('ENDPOINT_IP_OTHER_CLUSTER', p, t, `endpoint IP ${t} of ${c.name} is node ${elsewhere.node} of cluster ${elsewhere.cluster}`, fix);
        } else {
          out.add('ENDPOINT_IP_UNKNOWN_NODE', p, t, `endpoint IP ${t} of ${c.name} is not an InternalIP/ExternalIP of any node of ${c.name}`, fix);
        }
      });
    }
    const pods = net.pod[c.index]!;
    if (pods.length === 0) continue;
    for (const n of nodes) {
      for (const t of n.podCIDRs) {
        const r = parseCidr(t);
        if (!r.ok) continue;
        if (!pods.some((p) => contains(p, r.cidr))) {
          out.add('POD_CIDR_FACTS_MISMATCH', at.cluster(c, 'podCIDR'), c.podCIDRs.join(','), `node ${n.name} of ${c.name} has pod CIDR ${t}, outside the spec's pod CIDRs ${c.podCIDRs.join(', ')}`, `set ${cpath(c, 'podCIDR')} to the cluster's real cluster-cidr`);
        }
      }
    }
  }
}

export const checkNetwork: Rule = (spec, ctx, out) => {
  const net = parseNet(spec, out);
  checkAddressSpace(spec, ctx, out, net);
  checkCidrSources(spec, ctx, out, net);
  checkFacts(spec, ctx, out, net);
  checkNativeRouting(spec, ctx, out, net);
};
