/**
 * meshform's defaults and the fixed names of the objects it reads and writes, one home for each:
 * the spec schema's defaults, discover, apply, diff, status and doctor take them from here. A value
 * the spec can set (`cilium.release`, `cilium.namespace`, a NodePort) is only a default here: live
 * code reads the spec's value (`releaseRefOf`), never these constants directly.
 */

/** Where the Cilium release lives on a cluster: the spec's `cilium.release` and `cilium.namespace`. */
export interface ReleaseRef {
  /** The Helm release, and the RKE2 HelmChart and HelmChartConfig of the same name. */
  release: string;
  /** The release's namespace: its Secrets, cilium-config, the agents and the clustermesh-apiserver. */
  namespace: string;
}

/** RKE2's own: HelmChart `rke2-cilium` installs release `rke2-cilium` into `kube-system`. */
export const DEFAULT_RELEASE: ReleaseRef = { release: 'rke2-cilium', namespace: 'kube-system' };

/** The release of a spec (its `cilium.release/namespace`, defaults filled by the schema). */
export function releaseRefOf(spec: { cilium: ReleaseRef }): ReleaseRef {
  return { release: spec.cilium.release, namespace: spec.cilium.namespace };
}

/**
 * Where RKE2 keeps its HelmCharts, and so their HelmChartConfigs (a HelmChartConfig configures the
 * HelmChart of its name in its namespace); the release itself may target another namespace.
 */
export const RKE2_CHART_NAMESPACE = 'kube-system';

/** The namespace whose UID tells one cluster from another (and that every cluster has). */
export const KUBE_SYSTEM = 'kube-system';

/** Port of the clustermesh-apiserver Service (its etcd); what a LoadBalancer endpoint is dialled on. */
export const CLUSTERMESH_PORT = 2379;
/** NodePort of the clustermesh-apiserver Service when none is given (the chart's default). */
export const DEFAULT_NODE_PORT = 32379;
/** The domain Cilium's server certificate covers with `*.mesh.cilium.io` out of the box. */
export const DEFAULT_DOMAIN = 'mesh.cilium.io';

/** The chart's agent DaemonSet, whose rollout apply waits for. */
export const AGENT_DAEMONSET = 'cilium';
/** The chart's clustermesh-apiserver: its Deployment (apply waits for its rollout) and Service. */
export const CLUSTERMESH_APISERVER = 'clustermesh-apiserver';
/** The ConfigMap holding cluster-name, cluster-id and the datapath settings. */
export const CILIUM_CONFIG = 'cilium-config';

/** How long apply waits per cluster for the helm-controller and the rollouts (`--timeout`). */
export const DEFAULT_ROLLOUT_TIMEOUT_MS = 300_000;
/** How often a wait polls the cluster. */
export const DEFAULT_POLL_MS = 2000;
/** Clusters read or applied at once. */
export const DEFAULT_CLUSTER_CONCURRENCY = 8;
