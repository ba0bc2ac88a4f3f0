/**
 * Facts about live clusters: what `discover` reads (DESIGN.md §8.1), or what a facts file given to
 * `validate --facts` states. Keyed by cluster name. Every field is optional: a rule that needs a
 * missing fact does not run.
 */

export type NodeRole = 'control-plane' | 'master' | 'etcd' | 'worker';

export interface NodeFact {
  name: string;
  /** From labels node-role.kubernetes.io/*; a node with none of control-plane/master/etcd is a worker. */
  roles: NodeRole[];
  internalIPs: string[];
  externalIPs: string[];
  podCIDRs: string[];
}

export interface ClusterFacts {
  nodes?: NodeFact[];
  /** From the helm release or the HelmChart. */
  ciliumVersion?: string;
  chartVersion?: string;
  /** From ConfigMap cilium-config. */
  clusterName?: string;
  clusterId?: number;
  maxConnectedClusters?: number;
  /** From HelmChart spec.set globals. */
  clusterCIDR?: string[];
  serviceCIDR?: string[];
  rke2Version?: string;
  /** Current user values of the rke2-cilium release. */
  values?: Record<string, unknown>;
  /** Service clustermesh-apiserver. */
  service?: { type: string; nodePort?: number; loadBalancerIngress?: string[] };
  /** Added by discover: UID of namespace kube-system, a stable identity of the cluster. */
  kubeSystemUID?: string;
  /** Added by discover: datapath settings from ConfigMap cilium-config. */
  routingMode?: string;
  tunnelProtocol?: string;
  /**
   * Added by discover: cilium-config `kube-proxy-replacement` as written (`true`/`false` from 1.14;
   * older `strict`/`partial`/`probe`/`disabled`). See `kubeProxyReplacementOn`.
   */
  kubeProxyReplacement?: string;
  /** Added by discover: `enable-kvstoremesh`/clustermesh settings as found in cilium-config. */
  kvstoremesh?: boolean;
  /** Added by discover: HelmChart kube-system/<release> (RKE2). */
  helmChart?: { version?: string; set: Record<string, string>; valuesContent?: string };
  /** Added by discover: HelmChartConfig kube-system/<release> (RKE2), the text as stored. */
  helmChartConfig?: { valuesContent: string; failurePolicy?: string };
  /** Added by discover: the current Helm release (from its Secret, decoded without helm). */
  helmRelease?: { revision: number; status: string; chartVersion?: string; appVersion?: string };
  /** Added by discover: what could not be read (e.g. no RBAC on secrets); the rest was still read. */
  warnings?: string[];
}

export interface Facts {
  clusters: Record<string, ClusterFacts>;
}

export function isWorker(n: NodeFact): boolean {
  return !n.roles.some((r) => r === 'control-plane' || r === 'master' || r === 'etcd');
}

/**
 * Whether kube-proxy replacement handles NodePorts: `true`/`strict` → on, `false`/`disabled` → off;
 * `partial`/`probe` (before 1.14) depend on further settings, so `undefined` (unknown).
 */
export function kubeProxyReplacementOn(value: unknown): boolean | undefined {
  if (value === true || value === false) return value;
  if (typeof value !== 'string') return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === 'strict') return true;
  if (v === 'false' || v === 'disabled') return false;
  return undefined;
}
