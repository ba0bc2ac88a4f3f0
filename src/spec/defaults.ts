/**
 * Every default of the mesh spec (`mesh.yaml`), in one place: the schema and the loader fill them
 * from here, the README's "Defaults" table quotes them, and nothing else decides them.
 */
import { DEFAULT_DOMAIN } from '../pki/names.js';
import { featuresOf, parseCiliumVersion } from '../util/version.js';

export const SPEC_DEFAULTS = {
  /** RKE2's HelmChart (and so the HelmChartConfig) that installs Cilium. */
  release: 'rke2-cilium',
  namespace: 'kube-system',
  /** Peers are dialled as `<name>.<domain>`; the chart's server certificate covers `*.mesh.cilium.io`. */
  domain: DEFAULT_DOMAIN,
  maxConnectedClusters: 255,
  authMode: 'cluster',
  apiserverReplicas: 2,
  /** kube-apiserver's `--service-node-port-range` on RKE2. */
  nodePortRange: '30000-32767',
  /** NodePort of the clustermesh-apiserver Service (the chart's default). */
  nodePort: 32379,
  /** Port of the clustermesh-apiserver Service behind a LoadBalancer. */
  apiserverPort: 2379,
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
