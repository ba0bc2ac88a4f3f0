import type { Finding } from '../errors.js';
import type { AuthMode, CertMethod, ValuesFile } from '../spec/types.js';
import type { CaMaterial, ClusterCerts } from '../pki/types.js';
import type { CiliumVersion, VersionFeatures } from '../util/version.js';

import type { Dial } from '../pki/names.js';

export type { Dial };

export interface PlannedCluster {
  index: number;
  name: string;
  id: number;
  version: CiliumVersion;
  features: VersionFeatures;
  chartVersion: string;
  rke2Version?: string;
  /** Whether this cluster's RKE2 supports HelmChartConfig spec.valuesSecrets. */
  valuesSecrets: boolean;
  kvstoremesh: boolean;
  /**
   * Provided certificates go in values (`features.certsInValues`), except on 1.16–1.17 with a CA
   * bundle and KVStoreMesh: there KVStoreMesh trusts only the remote certificate Secret's `ca.crt`,
   * so every certificate becomes a pre-created Secret whose `ca.crt` is the bundle.
   */
  certsInValues: boolean;
  service: { type: 'NodePort'; nodePort: number } | { type: 'LoadBalancer'; loadBalancerIP?: string };
  dial: Dial;
  /** SANs of the clustermesh-apiserver server certificate beyond the chart's defaults (`serverCertNames(…).extra`). */
  serverExtra: { dnsNames: string[]; ipAddresses: string[] };
  /** Names of the clusters this one connects to, in spec order (full mesh unless the spec narrows it). */
  peers: string[];
  podCIDRs: string[];
  serviceCIDRs: string[];
  nodeCIDRs: string[];
  disableKubeProxy: boolean;
  hubbleUiNodePort?: number;
  /**
   * How meshform reaches the cluster, as the spec gives it (kubeconfig relative to the spec's
   * folder): recorded in plan.json, so that a cluster later taken out of the spec can still be
   * cleared (`apply --prune`).
   */
  connection?: { context?: string; kubeconfig?: string };
  /** Method `provided` only. */
  certs?: ClusterCerts;
  values?: ValuesFile;
}

export interface MeshPlan {
  name: string;
  domain: string;
  maxConnectedClusters: 255 | 511;
  authMode: AuthMode;
  certMethod: CertMethod;
  release: string;
  namespace: string;
  apiserverReplicas: number;
  /** Needed for methods `provided` and `helm` (`tls.ca` in values). */
  ca?: CaMaterial;
  /** PEM bundle of the shared CA and the CAs of `ca.trust` (`tls.caBundle`); absent without any. */
  caBundle?: string;
  /** Leaf validity in days (`certificates.validityDays`): issued by meshform, or the chart's `certValidityDuration`. */
  certValidityDays: number;
  clusters: PlannedCluster[];
  /** Lookup by name. */
  byName: Map<string, PlannedCluster>;
  /** Warnings the plan raises (unknown newer version, inline secrets, ...). */
  warnings: Finding[];
}
