/**
 * Names the cause of a failing link from the live topology, where the failure text alone cannot
 * (DESIGN.md §4, §8.4): "etcdserver: permission denied" may mean a one-sided peering, a control-plane
 * IP or a connection that never left the cluster; "connection refused" may mean a wrong IP, a wrong
 * port or the same NodePort on both sides. Pure: findings and topology in, findings out.
 *
 * Precedence (first that holds wins), for a failure of cluster A dialling peer B:
 *  1. WRONG_ENDPOINT_IP  A dials an address of another mesh cluster (or of A itself): it never gets to B.
 *  2. SAME_NODEPORT      A's kube-proxy replacement (≤ 1.18) takes the port for its own NodePort: the
 *                        connection lands on A's own clustermesh-apiserver, which explains any text
 *                        (permission denied: A's etcd does not admit remote-A). Not for probes: they
 *                        run from outside A.
 *  3. ENDPOINT_CONTROL_PLANE  an address A dials is a control-plane node of B.
 *  4. WRONG_ENDPOINT_IP  a connection failure to an address that is no node (nor LoadBalancer) of B.
 *  5. WRONG_PORT         an address of B on a port B's Service does not listen on.
 *  6. PEER_ONE_SIDED     a permission denied while B does not admit A's user (B does not list A).
 * Otherwise (or when facts are missing) the text classification stands.
 */
import { isIP } from 'node:net';
import { isWorker, type NodeFact } from '../kube/facts.js';
import { featuresOf, parseCiliumVersion } from '../util/version.js';
import type { DoctorFinding } from './doctor.js';
import type { DiagnosisCode } from './rules.js';
import type { ClusterTopology, MeshTopology } from './topology.js';
import { CLUSTERMESH_PORT } from '../defaults.js';

/** Codes of a failure on the way from A to B's clustermesh-apiserver; the others are not refined. */
const DIAL_CODES: ReadonlySet<DiagnosisCode> = new Set<DiagnosisCode>([
  'PERMISSION_DENIED', 'CA_MISMATCH', 'SAN_MISSING', 'CONFIG_NOT_FOUND', 'CLUSTER_ID_CLASH', 'UNREACHABLE', 'NOT_CONNECTED', 'UNKNOWN',
]);
/** Texts that say the connection itself failed (or say nothing): all an unknown address explains. */
const CONNECT_CODES: ReadonlySet<DiagnosisCode> = new Set<DiagnosisCode>(['UNREACHABLE', 'NOT_CONNECTED', 'UNKNOWN']);
/** Texts a missing remote user explains: a permission denied, or one that names no cause. */
const AUTH_CODES: ReadonlySet<DiagnosisCode> = new Set<DiagnosisCode>(['PERMISSION_DENIED', 'NOT_CONNECTED', 'UNKNOWN']);

/** The chart's clustermesh-apiserver Service port (what a LoadBalancer address is dialled on). */
const SERVICE_PORT = CLUSTERMESH_PORT;

interface Endpoint {
  host: string;
  port: number;
}

interface Refined {
  code: DiagnosisCode;
  cause: string;
  fix: string;
}

interface Link {
  A: string;
  B: string;
  a: ClusterTopology | undefined;
  b: ClusterTopology | undefined;
  topo: MeshTopology;
  endpoints: Endpoint[];
  code: DiagnosisCode;
  source: DoctorFinding['source'];
}

const addresses = (n: NodeFact) => [...n.internalIPs, ...n.externalIPs];
const nodeWith = (t: ClusterTopology | undefined, host: string) => t?.nodes?.find((n) => addresses(n).includes(host));
const lbIngress = (t: ClusterTopology | undefined) => t?.service?.loadBalancerIngress ?? [];
const isOwn = (t: ClusterTopology | undefined, host: string) => !!nodeWith(t, host) || lbIngress(t).includes(host);
const list = (xs: readonly string[]) => xs.join(', ');
/** A list cut after `max` items, for clusters with many nodes. */
const short = (xs: readonly string[], max = 6) => (xs.length > max ? `${xs.slice(0, max).join(', ')} +${xs.length - max} more` : list(xs));
const uniq = <T>(xs: readonly T[]) => [...new Set(xs)];

/** `clusters[1].endpoint.ips` when the spec position is known, else `endpoint.ips of mesh02`. */
function specPath(name: string, t: ClusterTopology | undefined, path: string): string {
  return t?.index !== undefined ? `clusters[${t.index}].${path} (${name})` : `${path} of ${name}`;
}

/** Worker IPs of a cluster, of the same kind (InternalIP/ExternalIP) as the address dialled. */
function workerIPs(t: ClusterTopology | undefined, external: boolean): string[] {
  const workers = (t?.nodes ?? []).filter(isWorker);
  const ext = uniq(workers.flatMap((n) => n.externalIPs));
  if (external && ext.length) return ext.sort();
  return uniq(workers.flatMap((n) => n.internalIPs)).sort();
}

/** Where A should dial B instead: B's LoadBalancer, or its worker IPs. */
function rightAddressFix(l: Link, external: boolean): string {
  if (l.b?.service?.type === 'LoadBalancer' && lbIngress(l.b).length) {
    return `dial ${l.B} at its LoadBalancer address ${list(lbIngress(l.b))} (port ${SERVICE_PORT}): set ${specPath(l.B, l.b, 'endpoint')} in the spec, then render and apply ${l.A}`;
  }
  const ips = workerIPs(l.b, external);
  if (ips.length === 0) {
    return `${l.B} has no worker node: add an RKE2 agent node to ${l.B} and use its IP, or expose ${l.B}'s clustermesh-apiserver as a LoadBalancer (endpoint.type LoadBalancer); then render and apply ${l.A}`;
  }
  return `use ${l.B}'s worker node IPs: set ${specPath(l.B, l.b, 'endpoint.ips')} to [${list(ips)}] in the spec, then render and apply ${l.A}`;
}

function ipEndpoints(l: Link): Endpoint[] {
  return l.endpoints.filter((e) => isIP(e.host) !== 0);
}

/** 1: an address of another mesh cluster. Needs B's nodes, so an address both share is never blamed. */
function otherClustersAddress(l: Link): Refined | undefined {
  if (!l.b?.nodes) return undefined;
  for (const e of ipEndpoints(l)) {
    if (isOwn(l.b, e.host)) continue;
    for (const [C, c] of Object.entries(l.topo.clusters)) {
      if (C === l.B) continue;
      const n = nodeWith(c, e.host);
      const what = n ? (C === l.A ? `${l.A}'s own node ${n.name}` : `node ${n.name} of ${C}`) : lbIngress(c).includes(e.host) ? `the LoadBalancer address of ${C === l.A ? `${l.A} itself` : C}` : undefined;
      if (!what) continue;
      return {
        code: 'WRONG_ENDPOINT_IP',
        cause: `${l.A} dials ${l.B} at ${e.host}, which is ${what}, not an address of ${l.B}: the connection never reaches ${l.B}`,
        fix: rightAddressFix(l, !!n?.externalIPs.includes(e.host)),
      };
    }
  }
  return undefined;
}

/** The lowest NodePort above `from` that no cluster of the mesh uses (wrapping within 30000–32767). */
function freeNodePort(topo: MeshTopology, from: number): number {
  const used = new Set(Object.values(topo.clusters).map((c) => c.service?.nodePort).filter((p): p is number => p !== undefined));
  for (let i = 1; i <= 2768; i++) {
    const p = 30000 + ((from - 30000 + i + 2768) % 2768);
    if (!used.has(p)) return p;
  }
  return from + 1;
}

/** 2: the connection lands on A's own clustermesh-apiserver. */
function sameNodePort(l: Link): Refined | undefined {
  if (l.source === 'probe' || !l.a || l.a.kubeProxyReplacement !== true) return undefined;
  const version = l.a.ciliumVersion ? parseCiliumVersion(l.a.ciliumVersion) : undefined;
  const P = l.a.service?.nodePort;
  if (!version || !featuresOf(version).distinctNodePorts || P === undefined) return undefined;
  const e = l.endpoints.find((x) => x.port === P && !lbIngress(l.b).includes(x.host));
  if (!e) return undefined;
  const Q = l.b?.service?.nodePort;
  const both = Q === P;
  const cause =
    `${l.A}'s kube-proxy replacement catches connections to port ${P} (${l.A}'s own clustermesh NodePort) and sends them to ${l.A}'s own clustermesh-apiserver: ` +
    `${l.A} dials ${l.B} on ${P}${both ? `, the NodePort ${l.B} uses too,` : ''} so it never reaches ${l.B} (Cilium ≤ 1.18 with kube-proxy replacement; ${l.A} runs ${version.raw})`;
  const fix = both || Q === undefined
    ? `give every cluster its own NodePort: ${l.A} and ${l.B} both use ${P}; set ${specPath(l.B, l.b, 'endpoint.nodePort')} to another port (e.g. ${freeNodePort(l.topo, P)}) in the spec, then render and apply ${l.B} and ${l.A}`
    : `give every cluster its own NodePort and dial each on its own: ${l.A} serves on ${P}, ${l.B} on ${Q}, but ${l.A} dials ${l.B} on ${P}; render and apply ${l.A} so it dials ${l.B} on ${Q}`;
  return { code: 'SAME_NODEPORT', cause, fix };
}

/** 3: a control-plane node of B. */
function controlPlane(l: Link): Refined | undefined {
  const hits = ipEndpoints(l)
    .map((e) => ({ e, n: nodeWith(l.b, e.host) }))
    .filter((x): x is { e: Endpoint; n: NodeFact } => !!x.n && !isWorker(x.n));
  if (hits.length === 0) return undefined;
  const what = uniq(hits.map(({ e, n }) => `${e.host} (node ${n.name}, ${n.roles.join('/')})`));
  return {
    code: 'ENDPOINT_CONTROL_PLANE',
    cause: `${l.A} dials ${l.B} at ${list(what)}: ${what.length === 1 ? 'a control-plane node' : 'control-plane nodes'} of ${l.B}; on RKE2 control-plane node IPs do not work as peer endpoints (RKE2's own etcd runs there), only worker nodes do`,
    fix: rightAddressFix(l, hits.some(({ e, n }) => n.externalIPs.includes(e.host))),
  };
}

/** 4: a connection failure to an address that is not B's at all. */
function unknownAddress(l: Link): Refined | undefined {
  if (!CONNECT_CODES.has(l.code) || !l.b?.nodes?.length) return undefined;
  const stray = uniq(ipEndpoints(l).filter((e) => !isOwn(l.b, e.host)).map((e) => e.host));
  if (stray.length === 0) return undefined;
  const lb = lbIngress(l.b).length ? ' nor its LoadBalancer' : '';
  return {
    code: 'WRONG_ENDPOINT_IP',
    cause: `${l.A} dials ${l.B} at ${list(stray)}, which ${stray.length === 1 ? 'is' : 'are'} not the address of any node of ${l.B}${lb} (${l.B}'s nodes: ${short(l.b.nodes.flatMap(addresses))})`,
    fix: rightAddressFix(l, false),
  };
}

/** 5: B's address on a port its clustermesh-apiserver Service does not listen on. */
function wrongPort(l: Link): Refined | undefined {
  const svc = l.b?.service;
  if (!svc) return undefined;
  for (const e of l.endpoints) {
    let expected: number | undefined;
    let what = '';
    if (nodeWith(l.b, e.host) && svc.nodePort !== undefined) {
      expected = svc.nodePort;
      what = `NodePort ${svc.nodePort}`;
    } else if (svc.type === 'LoadBalancer' && lbIngress(l.b).includes(e.host)) {
      expected = SERVICE_PORT;
      what = `port ${SERVICE_PORT} of its LoadBalancer ${e.host}`;
    }
    if (expected === undefined || e.port === expected) continue;
    return {
      code: 'WRONG_PORT',
      cause: `${l.A} dials ${l.B} at ${e.host} on port ${e.port}, but ${l.B}'s clustermesh-apiserver Service (${svc.type}) listens on ${what}`,
      fix: `make ${l.A} dial ${l.B} on ${expected}: ${specPath(l.B, l.b, svc.type === 'LoadBalancer' ? 'endpoint.port' : 'endpoint.nodePort')} must be ${expected} (the port ${l.B}'s Service uses), or apply ${l.B} so its Service takes the spec's port; then render and apply ${l.A}`,
    };
  }
  return undefined;
}

/** 6: B does not admit the user A logs in as. */
function oneSided(l: Link): Refined | undefined {
  if (!AUTH_CODES.has(l.code) || !l.b) return undefined;
  const user = l.a?.loginUser ?? `remote-${l.A}`;
  // The shared `remote` user of authMode legacy is admitted by every cluster: not a peering question.
  if (user === 'remote') return undefined;
  const declared = l.b.declaredPeers?.includes(l.A);
  let admitted: boolean;
  if (l.b.admittedUsers) admitted = l.b.admittedUsers.includes(user);
  else if (l.b.authMode === 'cluster' && declared !== undefined) admitted = declared;
  else return undefined;
  if (admitted) return undefined;
  if (declared) {
    return {
      code: 'PEER_ONE_SIDED',
      cause: `${l.B} lists ${l.A} as a peer, but ${l.B}'s clustermesh-apiserver does not admit user ${user} (ConfigMap clustermesh-remote-users of ${l.B} does not name it)`,
      fix: `render the full mesh and apply ${l.B} so its clustermesh-remote-users names ${user}; then restart ${l.B}'s clustermesh-apiserver if it does not pick it up`,
    };
  }
  return {
    code: 'PEER_ONE_SIDED',
    cause: `${l.B} does not list ${l.A} as a peer, so ${l.B}'s clustermesh-apiserver does not admit user ${user} (authMode cluster: a cluster admits only the remote-<name> users of its own peers)`,
    fix: `render the full mesh (${l.B} must list ${l.A} as a peer, as every cluster lists every other by default) and apply ${l.B}`,
  };
}

const RULES = [otherClustersAddress, sameNodePort, controlPlane, unknownAddress, wrongPort, oneSided];

/**
 * One finding, refined with the live topology: a link failure gets the code, cause and fix the
 * facts prove (see the precedence above); `seen` stays, `textCode` keeps the text-only code.
 * Anything else, or a link whose facts are missing, comes back unchanged.
 */
export function refineFinding(f: DoctorFinding, topo: MeshTopology): DoctorFinding {
  if (!f.peer || !DIAL_CODES.has(f.code)) return f;
  const a = topo.clusters[f.cluster];
  const b = topo.clusters[f.peer];
  const endpoints: Endpoint[] = f.endpoint
    ? [f.endpoint]
    : uniq((a?.dials ?? []).filter((t) => t.peer === f.peer).map((t) => `${t.host}\u0000${t.port}`)).map((k) => {
        const [host, port] = k.split('\u0000');
        return { host: host as string, port: Number(port) };
      });
  const link: Link = { A: f.cluster, B: f.peer, a, b, topo, endpoints, code: f.code, source: f.source };
  for (const rule of RULES) {
    const r = rule(link);
    if (r) return { ...f, code: r.code, cause: r.cause, fix: r.fix, textCode: f.textCode ?? f.code };
  }
  return f;
}

/** Every finding refined (see `refineFinding`). */
export function refineFindings(findings: readonly DoctorFinding[], topo: MeshTopology): DoctorFinding[] {
  return findings.map((f) => refineFinding(f, topo));
}
