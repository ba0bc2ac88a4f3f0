/**
 * The live topology doctor refines findings with (refine.ts): per cluster its nodes, its
 * clustermesh-apiserver Service, Cilium version, kube-proxy replacement, whom it dials where, which
 * peers it declares and which users it admits. Every field is optional: a refinement that needs a
 * missing fact does not run, and the finding keeps its text classification.
 */
import { parse as parseYaml } from 'yaml';
import { field, strMap, type ClusterClient } from '../kube/client.js';
import { kubeProxyReplacementOn, type ClusterFacts, type NodeFact } from '../kube/facts.js';
import { mapBounded } from '../kube/pool.js';
import { DEFAULT_RELEASE, discoverCluster, type ReleaseRef } from '../discover/discover.js';
import { certificateUser, liveMeshConfig, liveRemoteUsers, type LiveMeshConfig } from './live.js';
import type { ProbeTarget } from './probe.js';

/** What doctor knows about one cluster. */
export interface ClusterTopology {
  /** Position in the spec's `clusters[]`, to name spec paths in fixes. */
  index?: number;
  nodes?: NodeFact[];
  /** Service clustermesh-apiserver. */
  service?: ClusterFacts['service'];
  ciliumVersion?: string;
  /** Whether kube-proxy replacement handles NodePorts (cilium-config, else the release values). */
  kubeProxyReplacement?: boolean;
  /** `clustermesh.apiserver.tls.authMode` from the release values, when set there. */
  authMode?: string;
  /** Every peer endpoint this cluster dials (its clustermesh Secret and hostAliases). */
  dials?: ProbeTarget[];
  /** Every peer this cluster declares. */
  declaredPeers?: string[];
  /** Users its clustermesh-apiserver admits (ConfigMap clustermesh-remote-users); absent in authMode legacy. */
  admittedUsers?: string[];
  /** The etcd user this cluster logs in to peers as (CN of its remote client certificate). */
  loginUser?: string;
}

/** The topology of the whole mesh, keyed by cluster name. */
export interface MeshTopology {
  clusters: Record<string, ClusterTopology>;
}

/** What was read live beside discover's facts. */
export interface LiveMeshReading {
  config?: LiveMeshConfig;
  admittedUsers?: string[];
  loginUser?: string;
}

function valuesField(facts: ClusterFacts, ...path: string[]): unknown {
  const fromRelease = field(facts.values, ...path);
  if (fromRelease !== undefined) return fromRelease;
  const text = facts.helmChartConfig?.valuesContent;
  if (!text) return undefined;
  try {
    return field(parseYaml(text), ...path);
  } catch {
    return undefined;
  }
}

/** One cluster's topology from discover's facts and the live clustermesh reading. Pure. */
export function clusterTopology(facts: ClusterFacts | undefined, live: LiveMeshReading = {}, index?: number): ClusterTopology {
  const t: ClusterTopology = {};
  if (index !== undefined) t.index = index;
  if (facts?.nodes) t.nodes = facts.nodes;
  if (facts?.service) t.service = facts.service;
  // The agents' image is what runs; the chart's appVersion only says what the chart ships (a HelmChart may pin
  // image.tag to another version).
  const version = live.config?.imageVersion ?? facts?.ciliumVersion;
  if (version) t.ciliumVersion = version;
  // cilium-config is what the agents run with; the values only say what was asked for.
  const kpr = kubeProxyReplacementOn(facts?.kubeProxyReplacement) ?? (facts ? kubeProxyReplacementOn(valuesField(facts, 'kubeProxyReplacement')) : undefined);
  if (kpr !== undefined) t.kubeProxyReplacement = kpr;
  const authMode = facts ? valuesField(facts, 'clustermesh', 'apiserver', 'tls', 'authMode') : undefined;
  if (typeof authMode === 'string') t.authMode = authMode;
  if (live.config) {
    t.dials = live.config.targets;
    t.declaredPeers = live.config.declaredPeers;
  }
  if (live.admittedUsers) t.admittedUsers = live.admittedUsers;
  if (live.loginUser) t.loginUser = live.loginUser;
  return t;
}

/** One cluster to read, as doctor gets it. */
export interface TopologyTarget {
  name: string;
  client: ClusterClient;
  index?: number;
}

export interface TopologyOptions {
  ref?: ReleaseRef;
  /** Clusters read at once (default 8). */
  concurrency?: number;
}

export interface TopologyResult {
  topology: MeshTopology;
  /** Clusters of which nothing could be read, with why; they are absent from `topology`. */
  unreadable: { cluster: string; error: string }[];
}

const settle = async <T>(p: Promise<T>): Promise<{ value?: T; error?: unknown }> => {
  try {
    return { value: await p };
  } catch (error) {
    return { error };
  }
};

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Reads every cluster's topology concurrently (at most `concurrency` at once). Each part is read on
 * its own, so a cluster that refuses one read (RBAC) still contributes the rest; a cluster of which
 * nothing can be read is listed in `unreadable`.
 */
export async function readTopology(targets: readonly TopologyTarget[], opts: TopologyOptions = {}): Promise<TopologyResult> {
  const ref = opts.ref ?? DEFAULT_RELEASE;
  const ns = ref.namespace;
  const read = async (t: TopologyTarget): Promise<ClusterTopology> => {
    const [facts, config, users, cert] = await Promise.all([
      settle(discoverCluster(t.client, ref)),
      settle(liveMeshConfig(t.client, ns)),
      settle(liveRemoteUsers(t.client, ns)),
      settle(t.client.get('Secret', 'clustermesh-apiserver-remote-cert', ns)),
    ]);
    const parts = [facts, config, users, cert];
    if (parts.every((p) => p.error !== undefined)) throw facts.error;
    // Only the certificate is decoded: its key is never needed to know whom it logs in as.
    const crt = strMap(field(cert.value, 'data'))['tls.crt'];
    const loginUser = crt ? certificateUser(Buffer.from(crt, 'base64').toString('utf8')) : undefined;
    return clusterTopology(facts.value, {
      ...(config.value ? { config: config.value } : {}),
      ...(users.value ? { admittedUsers: users.value } : {}),
      ...(loginUser ? { loginUser } : {}),
    }, t.index);
  };
  const results = await mapBounded(targets, opts.concurrency ?? 8, read);
  const topology: MeshTopology = { clusters: {} };
  const unreadable: TopologyResult['unreadable'] = [];
  results.forEach((r, i) => {
    const t = targets[i] as TopologyTarget;
    if (r.ok) topology.clusters[t.name] = r.value;
    else unreadable.push({ cluster: t.name, error: message(r.error) });
  });
  return { topology, unreadable };
}
