/**
 * The mesh spec (`mesh.yaml`, DESIGN.md §3) after loading: schema-checked, defaults filled,
 * relative paths resolved against the spec file's folder, values files read and parsed.
 */
import type { Document } from 'yaml';

export type AuthMode = 'legacy' | 'migration' | 'cluster';
/**
 * Who issues the clustermesh certificates: meshform from the shared CA (`provided`), the chart
 * (`helm`, `cronJob`), cert-manager, or nobody new (`keep`: each cluster keeps the certificates and
 * the CA it has, and trusts the shared CA and the CAs of `ca.trust` beside its own — the first step
 * of adopting clusters with their own CAs; `meshform ca rotate` then converges onto the shared CA).
 */
export type CertMethod = 'provided' | 'helm' | 'cronJob' | 'certmanager' | 'keep';
export type KeyAlgorithm = 'ecdsa-p256' | 'rsa-2048' | 'rsa-4096';

/** How peers reach a cluster's clustermesh-apiserver. */
export type Endpoint =
  | {
      type: 'NodePort';
      nodePort: number;
      /** Worker node IPs; empty when left to `discover` (then a validation error without facts). */
      ips: string[];
    }
  | {
      type: 'LoadBalancer';
      /** The Service's load-balancer IP, if known; peers dial it through `ips`. */
      loadBalancerIP?: string;
      /** A DNS name in front of the load balancer; peers dial it as `address`. */
      address?: string;
      /** Port peers dial; the Service port, default 2379. */
      port: number;
    };

/** A values file the user already has (`helm get values` output), kept as it is. */
export interface ValuesFile {
  /** Absolute path. */
  path: string;
  /** Raw text, to keep comments and key order when merging. */
  text: string;
  /** Parsed document (comments kept). */
  doc: Document;
  /** Plain JS view of the document. */
  data: Record<string, unknown>;
}

export interface ClusterSpec {
  /** Position in `clusters[]`, for finding paths. */
  index: number;
  name: string;
  id: number;
  kubeconfig?: string;
  context?: string;
  /** One per IP family (dual-stack gives two). */
  podCIDRs: string[];
  serviceCIDRs: string[];
  nodeCIDRs: string[];
  endpoint: Endpoint;
  /** The cluster's current values, if given. */
  values?: ValuesFile;
  /** Cilium version of this cluster (default: the spec's `cilium.version`). */
  ciliumVersion: string;
  /** rke2-cilium chart version (default derived from the Cilium version, 1.15.5 → 1.15.500). */
  chartVersion: string;
  /** RKE2 version, e.g. `v1.31.8+rke2r1`; decides whether HelmChartConfig valuesSecrets can be used. */
  rke2Version?: string;
  /** Extra names and IPs for this cluster's clustermesh-apiserver server certificate. */
  tls: { extraDnsNames: string[]; extraIpAddresses: string[] };
  /** KVStoreMesh override; default follows the Cilium version (on from 1.16). */
  kvstoremesh?: boolean;
  /** Expose Hubble UI as a NodePort (the seed's Step 5). */
  hubbleUiNodePort?: number;
  /** Peers this cluster connects to (default: every other cluster: full mesh). */
  peers: string[];
  /** True when `peers` was given in the spec rather than defaulted. */
  peersExplicit: boolean;
  /** RKE2/Rancher machine settings for the Terraform fragment. */
  disableKubeProxy: boolean;
}

export interface MeshSpec {
  /** Absolute path of the spec file. */
  path: string;
  /** Folder of the spec file; relative paths resolve from here. */
  dir: string;
  name: string;
  cilium: { version: string; release: string; namespace: string };
  domain: string;
  maxConnectedClusters: 255 | 511;
  authMode: AuthMode;
  certificates: {
    method: CertMethod;
    /**
     * Leaf certificate validity (days): what meshform issues for method `provided`, and the
     * chart's `tls.auto.certValidityDuration` for the auto methods. Default: the chart's default
     * of the mesh's Cilium versions (src/defaults.ts: 1095, or 365 with any cluster on 1.20+).
     */
    validityDays: number;
    /** The renewal window: re-issue a leaf certificate when it expires within this many days (default 30, src/defaults.ts). */
    renewBeforeDays: number;
    /** Leaf key algorithm for method `provided`. */
    keyAlgorithm: KeyAlgorithm;
  };
  /**
   * Absolute paths of the shared CA files (required for `provided` and `helm`); `trust`: CA
   * certificates every cluster trusts beside it (rendered as `tls.caBundle`), e.g. while a CA rotates.
   */
  ca?: { cert: string; key: string; trust?: string[] };
  apiserver: { replicas: number };
  /** NodePort range of the clusters' kube-apiservers (RKE2 default 30000-32767). */
  nodePortRange: { min: number; max: number };
  clusters: ClusterSpec[];
}
