import { parse as parseYaml } from 'yaml';
import type { Finding } from '../errors.js';
import { MeshformError } from '../errors.js';
import { field, num, str, strMap, type ClusterClient, type KubeObject } from '../kube/client.js';
import { asClusterError, clusterError, errorCode } from '../kube/errors.js';
import type { ClusterFacts, Facts, NodeFact, NodeRole } from '../kube/facts.js';
import { currentReleaseSecret, decodeHelmReleaseSecret } from '../kube/helm-release.js';
import { mapBounded } from '../kube/pool.js';
import { RULES } from '../validate/catalogue.js';
import { holdsPrivateKey } from '../spec/credentials.js';

import { CILIUM_CA_SECRET, CLUSTERMESH_APISERVER, CILIUM_CONFIG, CLUSTERMESH_PORT, DEFAULT_CLUSTER_CONCURRENCY, DEFAULT_RELEASE, KUBE_SYSTEM, RKE2_CHART_NAMESPACE, type ReleaseRef } from '../defaults.js';

export { DEFAULT_RELEASE, type ReleaseRef };

const ROLE_LABELS: Record<string, NodeRole> = {
  'node-role.kubernetes.io/control-plane': 'control-plane',
  'node-role.kubernetes.io/master': 'master',
  'node-role.kubernetes.io/etcd': 'etcd',
};

/** A Node object as a NodeFact: roles from labels (none of control-plane/master/etcd = worker). */
export function nodeFact(node: KubeObject): NodeFact {
  const labels = strMap(node.metadata.labels);
  const roles: NodeRole[] = [];
  for (const [label, role] of Object.entries(ROLE_LABELS)) {
    // RKE2 sets these to "true"; kubeadm sets control-plane to "". Presence is what counts.
    if (label in labels && labels[label] !== 'false') roles.push(role);
  }
  if (roles.length === 0) roles.push('worker');
  const addresses = (field(node, 'status', 'addresses') as { type?: string; address?: string }[] | undefined) ?? [];
  const pick = (type: string) => addresses.filter((a) => a.type === type && typeof a.address === 'string').map((a) => a.address as string);
  const podCIDRs = (field(node, 'spec', 'podCIDRs') as unknown[] | undefined)?.filter((c): c is string => typeof c === 'string') ??
    (str(field(node, 'spec', 'podCIDR')) ? [str(field(node, 'spec', 'podCIDR')) as string] : []);
  return { name: node.metadata.name, roles, internalIPs: pick('InternalIP'), externalIPs: pick('ExternalIP'), podCIDRs };
}

/** rke2-cilium chart version → Cilium version: 1.15.500 → 1.15.5, 1.16.302 → 1.16.3. */
export function ciliumVersionFromChart(chartVersion: string): string | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(chartVersion);
  if (!m) return undefined;
  const patch = Number(m[3]);
  return `${m[1]}.${m[2]}.${patch >= 100 ? Math.floor(patch / 100) : patch}`;
}

function splitList(v: string | undefined): string[] | undefined {
  if (!v) return undefined;
  const parts = v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  return parts.length ? parts : undefined;
}

function setMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = String(x);
  }
  return out;
}

/**
 * Reads one cluster's facts (DESIGN.md §8.1). An unreachable or unauthorised cluster throws (exit 3);
 * a single object the user may not read (403) becomes a warning in `warnings` and the rest is read.
 */
export async function discoverCluster(client: ClusterClient, ref: ReleaseRef = DEFAULT_RELEASE): Promise<ClusterFacts> {
  const warnings: string[] = [];
  const soft = async <T>(what: string, p: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await p();
    } catch (err) {
      const code = errorCode(err);
      if (code === 'KUBE_FORBIDDEN' || code === 'KUBE_NOT_FOUND') {
        warnings.push(`${what}: ${(err as Error).message.replace(`cluster ${client.cluster}: `, '')}`);
        return undefined;
      }
      throw err;
    }
  };
  // The first call doubles as the reachability check: if it fails hard, nothing else is tried.
  const ns = await soft(`namespace ${KUBE_SYSTEM}`, () => client.get('Namespace', KUBE_SYSTEM));
  const [nodes, chart, chartConfig, secrets, ciliumConfig, service, caSecret] = await Promise.all([
    soft('nodes', () => client.list('Node')),
    soft(`HelmChart ${RKE2_CHART_NAMESPACE}/${ref.release}`, () => client.get('HelmChart', ref.release, RKE2_CHART_NAMESPACE)),
    soft(`HelmChartConfig ${RKE2_CHART_NAMESPACE}/${ref.release}`, () => client.get('HelmChartConfig', ref.release, RKE2_CHART_NAMESPACE)),
    soft(`helm release secrets in ${ref.namespace}`, () => client.list('Secret', { namespace: ref.namespace, labelSelector: `owner=helm,name=${ref.release}` })),
    soft(`ConfigMap ${ref.namespace}/${CILIUM_CONFIG}`, () => client.get('ConfigMap', CILIUM_CONFIG, ref.namespace)),
    soft(`Service ${ref.namespace}/${CLUSTERMESH_APISERVER}`, () => client.get('Service', CLUSTERMESH_APISERVER, ref.namespace)),
    // A cluster without Cluster Mesh has no CA yet: not found is no warning. Only ca.crt is kept.
    client.get('Secret', CILIUM_CA_SECRET, ref.namespace).catch((err: unknown) => {
      if (errorCode(err) === 'KUBE_NOT_FOUND') return undefined;
      if (errorCode(err) === 'KUBE_FORBIDDEN') {
        warnings.push(`Secret ${ref.namespace}/${CILIUM_CA_SECRET}: forbidden (its CA certificate is not compared with the other clusters')`);
        return undefined;
      }
      throw err;
    }),
  ]);

  const facts: ClusterFacts = {};
  if (ns?.metadata.uid) facts.kubeSystemUID = ns.metadata.uid;
  if (nodes) {
    facts.nodes = nodes.map(nodeFact).sort((a, b) => a.name.localeCompare(b.name));
    const rke2 = nodes.map((n) => str(field(n, 'status', 'nodeInfo', 'kubeletVersion'))).find((v) => v?.includes('+rke2'));
    if (rke2) facts.rke2Version = rke2;
  }
  if (chart) {
    const set = setMap(field(chart, 'spec', 'set'));
    const version = str(field(chart, 'spec', 'version'));
    const valuesContent = str(field(chart, 'spec', 'valuesContent'));
    facts.helmChart = { set, ...(version ? { version } : {}), ...(valuesContent ? { valuesContent } : {}) };
    const cc = splitList(set['global.clusterCIDR']);
    const sc = splitList(set['global.serviceCIDR']);
    if (cc) facts.clusterCIDR = cc;
    if (sc) facts.serviceCIDR = sc;
    if (version) facts.chartVersion = version;
  }
  if (chartConfig) {
    const valuesContent = str(field(chartConfig, 'spec', 'valuesContent')) ?? '';
    const failurePolicy = str(field(chartConfig, 'spec', 'failurePolicy'));
    facts.helmChartConfig = { valuesContent, ...(failurePolicy ? { failurePolicy } : {}) };
  }
  const current = secrets ? currentReleaseSecret(secrets, ref.release) : undefined;
  if (current) {
    try {
      const rel = decodeHelmReleaseSecret(current);
      facts.helmRelease = {
        revision: rel.revision,
        status: rel.status,
        ...(rel.chartVersion ? { chartVersion: rel.chartVersion } : {}),
        ...(rel.appVersion ? { appVersion: rel.appVersion } : {}),
      };
      facts.values = rel.config;
      if (rel.chartVersion) facts.chartVersion = rel.chartVersion;
      if (rel.appVersion) facts.ciliumVersion = rel.appVersion.replace(/^v/, '');
    } catch (err) {
      warnings.push(`helm release ${current.metadata.name} does not decode: ${(err as Error).message}`);
    }
  } else if (secrets) {
    warnings.push(`no helm release "${ref.release}" in ${ref.namespace}`);
  }
  if (!facts.ciliumVersion && facts.chartVersion) {
    const v = ciliumVersionFromChart(facts.chartVersion);
    if (v) facts.ciliumVersion = v;
  }
  if (ciliumConfig) {
    const d = strMap(field(ciliumConfig, 'data'));
    if (d['cluster-name']) facts.clusterName = d['cluster-name'];
    const id = num(d['cluster-id']);
    if (id !== undefined) facts.clusterId = id;
    const max = num(d['max-connected-clusters']);
    if (max !== undefined) facts.maxConnectedClusters = max;
    // Cilium ≥ 1.14 says routing-mode; older configs say tunnel: disabled|vxlan|geneve.
    const routing = d['routing-mode'] ?? (d['tunnel'] ? (d['tunnel'] === 'disabled' ? 'native' : 'tunnel') : undefined);
    if (routing) facts.routingMode = routing;
    const proto = d['tunnel-protocol'] ?? (d['tunnel'] && d['tunnel'] !== 'disabled' ? d['tunnel'] : undefined);
    if (proto) facts.tunnelProtocol = proto;
    if (d['kube-proxy-replacement']) facts.kubeProxyReplacement = d['kube-proxy-replacement'];
  }
  const kvs = field(facts.values, 'clustermesh', 'apiserver', 'kvstoremesh', 'enabled') ?? kvstoremeshFromValuesContent(facts.helmChartConfig?.valuesContent);
  if (typeof kvs === 'boolean') facts.kvstoremesh = kvs;
  const peers = meshPeersOf(facts.values);
  if (peers) facts.peers = peers;
  if (service) {
    const type = str(field(service, 'spec', 'type')) ?? 'ClusterIP';
    const ports = (field(service, 'spec', 'ports') as { port?: number; nodePort?: number }[] | undefined) ?? [];
    const port = ports.find((p) => p.port === CLUSTERMESH_PORT) ?? ports[0];
    const ingress = ((field(service, 'status', 'loadBalancer', 'ingress') as { ip?: string; hostname?: string }[] | undefined) ?? [])
      .map((i) => i.ip ?? i.hostname)
      .filter((x): x is string => typeof x === 'string');
    facts.service = { type, ...(port?.nodePort ? { nodePort: port.nodePort } : {}), ...(ingress.length ? { loadBalancerIngress: ingress } : {}) };
  }
  const caB64 = str(field(caSecret, 'data', 'ca.crt'));
  if (caB64) {
    const pem = Buffer.from(caB64, 'base64').toString('utf8');
    if (pem.includes('-----BEGIN CERTIFICATE-----') && !holdsPrivateKey(pem)) facts.caCert = pem.endsWith('\n') ? pem : `${pem}\n`;
  }
  if (warnings.length) facts.warnings = warnings;
  return facts;
}

/**
 * The peers a release's values connect the cluster to: the names in `clustermesh.config.clusters`
 * (a list, or Cilium 1.19's map keyed by name) when `clustermesh.config.enabled` is true (the
 * chart's default is false: no peer is dialled). Undefined without values.
 */
export function meshPeersOf(values: Record<string, unknown> | undefined): string[] | undefined {
  if (!values) return undefined;
  if (field(values, 'clustermesh', 'config', 'enabled') !== true) return [];
  const list = field(values, 'clustermesh', 'config', 'clusters');
  const names = Array.isArray(list) ? list.map((p) => field(p, 'name')) : list && typeof list === 'object' ? Object.keys(list) : [];
  return names.filter((n): n is string => typeof n === 'string' && n.length > 0).sort();
}

function kvstoremeshFromValuesContent(text: string | undefined): unknown {
  if (!text) return undefined;
  try {
    return field(parseYaml(text), 'clustermesh', 'apiserver', 'kvstoremesh', 'enabled');
  } catch {
    return undefined;
  }
}

/** One cluster to talk to. */
export interface ClusterTarget {
  name: string;
  client: ClusterClient;
  /** Position in the spec's `clusters[]`, for finding paths. */
  index?: number;
}

export interface ClusterFailure {
  cluster: string;
  error: MeshformError;
}

export interface DiscoverResult {
  facts: Facts;
  /** Clusters that could not be read; the others are in `facts`. */
  failures: ClusterFailure[];
}

/** Discovers every cluster concurrently (at most `concurrency` at once); failures do not stop the rest. */
export async function discoverAll(targets: readonly ClusterTarget[], opts: { ref?: ReleaseRef; concurrency?: number } = {}): Promise<DiscoverResult> {
  const results = await mapBounded(targets, opts.concurrency ?? DEFAULT_CLUSTER_CONCURRENCY, (t) => discoverCluster(t.client, opts.ref ?? DEFAULT_RELEASE));
  const facts: Facts = { clusters: {} };
  const failures: ClusterFailure[] = [];
  results.forEach((r, i) => {
    const t = targets[i] as ClusterTarget;
    if (r.ok) facts.clusters[t.name] = r.value;
    else failures.push({ cluster: t.name, error: asClusterError(t.name, r.error) });
  });
  return { facts, failures };
}

/** What the spec says a cluster is, for the identity check. */
export interface ExpectedIdentity {
  name: string;
  id: number;
  index?: number;
  /** kube-system UID recorded earlier (e.g. in plan.json), if any. */
  kubeSystemUID?: string;
}

/**
 * How to change the name or ID of a meshed cluster (cilium#36338, cilium#48800: never in place;
 * disconnect, change both together, reconnect), as the fix of CLUSTER_RENAME_MESHED and
 * CLUSTER_ID_CHANGE_MESHED.
 */
export function guidedIdentityChange(expected: ExpectedIdentity, live: { name: string; id: number }): string {
  return [
    `if the context of ${expected.name} is right and this is a rename, do it in three steps:`,
    `1. disconnect: keep name ${live.name} and id ${live.id} in the spec for now, give it peers: [] and take it out of the other clusters' peers lists, then meshform apply (they drop it, it drops them);`,
    `2. change name and ID together (never one alone: with only the ID changed Cilium reuses the old identities, cilium#36338), then meshform apply --only ${expected.name} --allow-identity-change; workloads: Cilium's docs ask to restart every workload on the cluster afterwards (security identities carry the cluster name and ID), and Hubble's server certificates carry the name (cilium#48800);`,
    '3. reconnect: remove the peers lists again, meshform apply, then meshform status --wait.',
    `Otherwise point kubeconfig/context of ${expected.name} at the right cluster.`,
  ].join(' ');
}

/**
 * Checks that the kubeconfig context really points at the cluster the spec names. A cluster that
 * already runs Cilium under another name or ID, or a recorded kube-system UID that differs, is an
 * error (warning with `allowIdentityChange`, since renaming restarts workloads) — except on a
 * meshed cluster (its live values list peers), where a name or ID change is refused even with
 * `allowIdentityChange`, with the guided sequence as the fix.
 */
export function identityFindings(expected: ExpectedIdentity, facts: ClusterFacts, opts: { allowIdentityChange?: boolean } = {}): Finding[] {
  const out: Finding[] = [];
  const path = expected.index !== undefined ? `clusters[${expected.index}]` : '';
  const severity = opts.allowIdentityChange ? 'warning' : 'error';
  if (expected.kubeSystemUID && facts.kubeSystemUID && expected.kubeSystemUID !== facts.kubeSystemUID) {
    out.push({
      code: 'CLUSTER_IDENTITY_MISMATCH', severity: 'error', path: `${path}.context`, value: facts.kubeSystemUID, scope: { kind: 'cluster', cluster: expected.name },
      message: `cluster ${expected.name}: the context points at another cluster (kube-system UID ${facts.kubeSystemUID}, recorded ${expected.kubeSystemUID})`,
      rule: 'each spec cluster must be reached through its own kubeconfig context',
      fix: `point kubeconfig/context of ${expected.name} at the right cluster`,
    });
  }
  const renamed = !!facts.clusterName && facts.clusterName !== 'default' && facts.clusterName !== expected.name;
  const idChanged = facts.clusterId !== undefined && facts.clusterId !== 0 && facts.clusterId !== expected.id;
  if (renamed && facts.peers?.includes(expected.name)) {
    // A cluster never peers with itself: one that lists the expected cluster as a peer is another
    // cluster of the mesh, not this one renamed.
    out.push({
      code: 'CLUSTER_IDENTITY_MISMATCH', severity: 'error', path: `${path}.context`, value: facts.clusterName, scope: { kind: 'cluster', cluster: expected.name },
      message: `cluster ${expected.name}: the context points at ${facts.clusterName}, a peer of ${expected.name} (its values list ${expected.name} as a peer), not at ${expected.name}`,
      rule: 'each spec cluster must be reached through its own kubeconfig context',
      fix: `point kubeconfig/context of ${expected.name} at the right cluster`,
    });
    return out;
  }
  if ((renamed || idChanged) && facts.peers && facts.peers.length > 0) {
    const live = { name: facts.clusterName && facts.clusterName !== 'default' ? facts.clusterName : expected.name, id: facts.clusterId ?? expected.id };
    const change = [renamed ? `name ${live.name} → ${expected.name}` : '', idChanged ? `ID ${live.id} → ${expected.id}` : ''].filter(Boolean).join(', ');
    const code = renamed ? 'CLUSTER_RENAME_MESHED' : 'CLUSTER_ID_CHANGE_MESHED';
    out.push({
      code, severity: 'error', path: `${path}.${renamed ? 'name' : 'id'}`, value: renamed ? live.name : String(live.id), scope: { kind: 'dialled', cluster: expected.name },
      message: `cluster ${expected.name}: the cluster behind its context runs Cilium as ${live.name} (cluster-id ${live.id}) and is meshed with ${facts.peers.join(', ')}: the spec would change its ${change} in place, which breaks the mesh (peers know it by name and ID, and its identities and certificates carry them); refused, with or without --allow-identity-change`,
      rule: RULES[code].rule,
      fix: guidedIdentityChange(expected, live),
    });
    return out;
  }
  if (renamed) {
    out.push({
      code: 'CLUSTER_IDENTITY_MISMATCH', severity, path: `${path}.name`, value: facts.clusterName, scope: { kind: 'dialled', cluster: expected.name },
      message: `cluster ${expected.name}: the context points at a cluster whose Cilium is named "${facts.clusterName}" (cilium-config cluster-name)`,
      rule: 'a running cluster is never renamed silently: the context must point at the cluster the spec names',
      fix: `fix the kubeconfig/context of ${expected.name}; to rename on purpose, pass --allow-identity-change (workloads restart)`,
    });
  }
  if (idChanged) {
    out.push({
      code: 'CLUSTER_ID_CHANGE', severity, path: `${path}.id`, value: String(facts.clusterId), scope: { kind: 'dialled', cluster: expected.name },
      message: `cluster ${expected.name}: Cilium runs with cluster-id ${facts.clusterId}, the spec says ${expected.id}`,
      rule: 'a running cluster\'s ID is never changed silently',
      fix: `set id: ${facts.clusterId} in the spec, or pass --allow-identity-change (workloads restart)`,
    });
  }
  return out;
}

/** Two spec clusters reaching the same real cluster (same kube-system UID). */
export function duplicateClusterFindings(facts: Facts, names: readonly string[]): Finding[] {
  const seen = new Map<string, string>();
  const out: Finding[] = [];
  names.forEach((name, i) => {
    const uid = facts.clusters[name]?.kubeSystemUID;
    if (!uid) return;
    const other = seen.get(uid);
    if (other) {
      out.push({
        code: 'CLUSTER_IDENTITY_MISMATCH', severity: 'error', path: `clusters[${i}].context`, value: uid, scope: { kind: 'cluster', cluster: name },
        message: `clusters ${other} and ${name} reach the same cluster (kube-system UID ${uid})`,
        rule: 'each spec cluster must be a different cluster', fix: `fix the kubeconfig/context of ${name}`,
      });
    } else seen.set(uid, name);
  });
  return out;
}

/** Throws (exit 3) when identityFindings has errors. */
export function assertIdentity(expected: ExpectedIdentity, facts: ClusterFacts, opts: { allowIdentityChange?: boolean } = {}): Finding[] {
  const findings = identityFindings(expected, facts, opts);
  const errors = findings.filter((f) => f.severity === 'error');
  if (errors.length) {
    const first = errors[0] as Finding;
    const e = clusterError({ cluster: expected.name, code: 'CLUSTER_IDENTITY_MISMATCH', message: first.message, rule: first.rule, fix: first.fix, path: first.path, value: first.value });
    e.findings.splice(0, e.findings.length, ...errors);
    throw e;
  }
  return findings;
}
