/**
 * meshform's defaults and the fixed names of the objects it reads and writes, one home for each:
 * the spec schema's defaults, discover, apply, diff, status and doctor take them from here. A value
 * the spec can set (`cilium.release`, `cilium.namespace`, a NodePort) is only a default here: live
 * code reads the spec's value (`releaseRefOf`), never these constants directly.
 */
import { featuresOf, parseCiliumVersion } from './util/version.js';

/** The certificate methods `meshform init` can write (`init --certificates`). */
export const INIT_CERTIFICATES = ['keep', 'provided'] as const;
export type InitCertificates = (typeof INIT_CERTIFICATES)[number];

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
/** The Secret that holds a cluster's Cilium CA (ca.crt, ca.key): the chart's `cilium-ca`. */
export const CILIUM_CA_SECRET = 'cilium-ca';
/**
 * The clustermesh certificate Secrets meshform pre-creates (method provided, where the chart takes
 * no certificate values). Under the chart's own methods (`tls.auto`: a cluster meshform adopts with
 * certificates.method keep) the chart's release owns Secrets of the same names; taking a cluster
 * over onto provided certificates (phase 2 of an adoption) therefore applies them taking over the
 * chart's fields, and annotates them `helm.sh/resource-policy: keep`, so the helm upgrade that stops
 * rendering them does not delete them (helm's Update skips resources with that policy).
 */
export const PRECREATED_CERT_SECRET = /^clustermesh-apiserver-(server|admin|remote|local|client)-cert$/;
export const HELM_KEEP_ANNOTATION = { 'helm.sh/resource-policy': 'keep' } as const;
/** The ConfigMap holding cluster-name, cluster-id and the datapath settings. */
export const CILIUM_CONFIG = 'cilium-config';
/**
 * Pod-template annotation of the clustermesh-apiserver carrying the SHA-256 of `tls.caBundle`. Its etcd
 * reads the client CA pool once, at start (etcd v3.5 client/pkg/transport), and the chart restarts
 * nothing when only the bundle's content changes: the annotation makes a new bundle roll the pods.
 */
export const CA_BUNDLE_ANNOTATION = 'meshform.io/ca-bundle-sha256';

/** How long apply waits per cluster for the helm-controller and the rollouts (`--timeout`). */
export const DEFAULT_ROLLOUT_TIMEOUT_MS = 300_000;
/** How often a wait polls the cluster. */
export const DEFAULT_POLL_MS = 2000;
/** Clusters read or applied at once. */
export const DEFAULT_CLUSTER_CONCURRENCY = 8;

/**
 * Every default of the mesh spec (`mesh.yaml`): the schema and the loader fill them from here, the
 * README's "Defaults" table quotes them, and nothing else decides them.
 */
export const SPEC_DEFAULTS = {
  /** RKE2's HelmChart (and so the HelmChartConfig) that installs Cilium. */
  release: DEFAULT_RELEASE.release,
  namespace: DEFAULT_RELEASE.namespace,
  /** Peers are dialled as `<name>.<domain>`; the chart's server certificate covers `*.mesh.cilium.io`. */
  domain: DEFAULT_DOMAIN,
  maxConnectedClusters: 255,
  authMode: 'cluster',
  apiserverReplicas: 2,
  /** kube-apiserver's `--service-node-port-range` on RKE2. */
  nodePortRange: '30000-32767',
  nodePort: DEFAULT_NODE_PORT,
  /** Port of the clustermesh-apiserver Service behind a LoadBalancer. */
  apiserverPort: CLUSTERMESH_PORT,
  certificates: {
    method: 'provided',
    /**
     * The renewal window: a render (or apply) re-issues a certificate meshform issued once it
     * expires within this many days, and `render` names the day a re-render will do so. 30 days
     * leaves a month of renders to pick the new certificate up before the old one expires.
     */
    renewBeforeDays: 30,
    keyAlgorithm: 'ecdsa-p256',
  },
} as const;

/**
 * The default leaf validity (`certificates.validityDays`): the chart's own default for the
 * clustermesh certificates (`clustermesh.apiserver.tls.auto.certValidityDuration`, 1095 days up to
 * Cilium 1.19, 365 from 1.20), and of a mesh whose clusters run different minors the shortest of
 * them, so that no cluster gets certificates longer-lived than its chart would issue. Unparseable
 * versions are left out (validate reports them); none left gives 1095.
 */
export function defaultValidityDays(ciliumVersions: readonly string[]): number {
  let days: number | undefined;
  for (const text of ciliumVersions) {
    const v = parseCiliumVersion(text);
    if (!v) continue;
    const d = featuresOf(v).chartCertValidityDays;
    days = days === undefined ? d : Math.min(days, d);
  }
  return days ?? 1095;
}
