/**
 * Cilium versions and the chart features that depend on them (DESIGN.md §7).
 */

export interface CiliumVersion {
  major: number;
  minor: number;
  patch: number;
  /** The original text, e.g. `1.15.5`. */
  raw: string;
}

const VERSION_RE = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/;

export function parseCiliumVersion(text: string): CiliumVersion | undefined {
  const m = VERSION_RE.exec(text.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), raw: text.trim() };
}

/**
 * Oldest minor meshform supports, and newest minor whose chart form it knows. 1.15 is the oldest
 * chart the output was checked against, and the first with keys meshform always renders
 * (`clustermesh.maxConnectedClusters`, `clustermesh.apiserver.tls.authMode`); 1.14 and older are refused.
 */
export const MIN_MINOR = 15;
export const NEWEST_KNOWN_MINOR = 20;

/** The chart's default validity of a CA it generates itself (`tls.ca.certValidityDuration`), the same 1.15–1.20. */
export const CHART_CA_VALIDITY_DAYS = 1095;

/**
 * RKE2 packages Cilium x.y.z as chart `x.y.z*100` (1.15.5 → 1.15.500). Later RKE2 builds add
 * a build suffix to the same number (1.15.501); pass the exact chart version to override.
 */
export function rke2ChartVersion(v: CiliumVersion): string {
  return `${v.major}.${v.minor}.${v.patch * 100}`;
}

/** Chart behaviour that differs between Cilium minors. */
export interface VersionFeatures {
  /** `clustermesh.config.clusters` may be a map keyed by name (1.19+); the list form always works. */
  clustersMap: boolean;
  /** KVStoreMesh is on by default (1.16+). */
  kvstoremeshDefault: boolean;
  /**
   * Provided clustermesh-apiserver certs go in values (≤ 1.18); from 1.19 as pre-created Secrets
   * (1.19 deprecates certs in values, 1.20's validate.yaml refuses them).
   */
  certsInValues: boolean;
  /**
   * The chart has `clustermesh.apiserver.tls.enableSecrets` (1.16–1.19): 1.19 needs it off for
   * pre-created Secrets (its deprecated tls-provided templates fail on empty cert values); 1.20
   * removed it with those templates.
   */
  enableSecretsKey: boolean;
  /**
   * The server certificate's names (chart `_helpers.tpl`, 1.20+): CN `clustermesh-apiserver.<namespace>.svc`,
   * DNS SANs that CN and `*.mesh.cilium.io`. Before 1.20: CN `clustermesh-apiserver.cilium.io`, DNS
   * SANs that CN, `*.mesh.cilium.io` and `clustermesh-apiserver.<namespace>.svc`. IPs 127.0.0.1, ::1 in both.
   */
  serverCnNamespaced: boolean;
  /**
   * Extra server SANs of the auto methods live under `clustermesh.apiserver.tls.auto.server.*`
   * (1.20+; `tls.server.*` is its deprecated fallback); before 1.20 under `tls.server.*`.
   */
  autoServerSans: boolean;
  /**
   * KVStoreMesh trusts the peers' CA from Secret `clustermesh-apiserver-remote-cert` (`ca.crt`)
   * even with `tls.caBundle` on (the chart's kvstoremesh-secrets volume, 1.15–1.17; 1.18 mounts
   * the bundle there too).
   */
  kvstoremeshIgnoresCaBundle: boolean;
  /** The chart's default validity of the clustermesh certificates (`tls.auto.certValidityDuration`): 365 days from 1.20, 1095 before. */
  chartCertValidityDays: number;
  /** The local cert (`clustermesh-apiserver-local-cert`, CN `local-<name>`) exists (1.16+). */
  localCert: boolean;
  /** The chart has no values for the local cert (1.16–1.18): render it as a pre-created Secret. */
  localCertAsSecret: boolean;
  /** Default authMode when unset (1.19: migration; before: legacy). */
  authModeDefault: 'legacy' | 'migration';
  /** Two clusters on the same NodePort break each other under kube-proxy replacement (≤ 1.18). */
  distinctNodePorts: boolean;
  /** Newer than any minor meshform knows: rendered in the newest known form with a warning. */
  unknownNewer: boolean;
}

export function featuresOf(v: CiliumVersion): VersionFeatures {
  const m = v.major > 1 ? 999 : v.minor;
  return {
    clustersMap: m >= 19,
    kvstoremeshDefault: m >= 16,
    certsInValues: m <= 18,
    enableSecretsKey: m >= 16 && m <= 19,
    serverCnNamespaced: m >= 20,
    autoServerSans: m >= 20,
    chartCertValidityDays: m >= 20 ? 365 : 1095,
    kvstoremeshIgnoresCaBundle: m <= 17,
    localCert: m >= 16,
    localCertAsSecret: m >= 16 && m <= 18,
    authModeDefault: m >= 19 ? 'migration' : 'legacy',
    distinctNodePorts: m <= 18,
    unknownNewer: m > NEWEST_KNOWN_MINOR,
  };
}

export function compareVersions(a: CiliumVersion, b: CiliumVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}
