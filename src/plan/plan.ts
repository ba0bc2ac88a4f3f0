import { relative } from 'node:path';
import { Document } from 'yaml';
import { inputError, type Finding } from '../errors.js';
import type { Facts } from '../kube/facts.js';
import type { CaMaterial, ClusterCerts } from '../pki/types.js';
import type { MeshSpec, ValuesFile } from '../spec/types.js';
import { featuresOf, NEWEST_KNOWN_MINOR, parseCiliumVersion } from '../util/version.js';
import { dialOf, serverCertNames } from '../pki/names.js';
import { caBundlePem } from '../pki/trust.js';
import { CA_BUNDLE_ANNOTATION } from '../defaults.js';
import type { MeshPlan, PlannedCluster } from './types.js';

/** The cert-manager issuer the rendered values point at for method `certmanager`. */
export const CERT_MANAGER_ISSUER = { group: 'cert-manager.io', kind: 'ClusterIssuer', name: 'meshform-clustermesh-ca' } as const;

/** Oldest RKE2 patch per minor whose helm-controller honours HelmChartConfig `spec.valuesSecrets`. */
const VALUES_SECRETS_SINCE: Record<number, number> = { 30: 12, 31: 8, 32: 4, 33: 0 };

/**
 * Whether an RKE2 version (`v1.31.8+rke2r1`) supports HelmChartConfig `spec.valuesSecrets`:
 * RKE2 ≥ 1.30.12 / 1.31.8 / 1.32.4 / 1.33.0. Unknown or unparseable versions give false.
 */
export function rke2SupportsValuesSecrets(rke2Version: string | undefined): boolean {
  if (!rke2Version) return false;
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(rke2Version.trim());
  if (!m) return false;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (major !== 1) return major > 1;
  if (minor > 33) return true;
  const since = VALUES_SECRETS_SINCE[minor];
  return since !== undefined && patch >= since;
}

/**
 * The keys meshform itself renders that must not come back from a release's deployed values: those
 * values already carry meshform's earlier output, and a key meshform has stopped setting (the CA
 * bundle once a rotation is over, a peer taken out) would otherwise live on through them.
 */
const OWNED_PATHS: readonly (readonly string[])[] = [
  ['tls', 'ca'],
  ['tls', 'caBundle'],
  ['clustermesh', 'config', 'clusters'],
  ['clustermesh', 'apiserver', 'tls'],
  ['clustermesh', 'apiserver', 'podAnnotations', CA_BUNDLE_ANNOTATION],
];

function withoutOwned(data: Record<string, unknown>): Record<string, unknown> {
  const out = structuredClone(data);
  for (const path of OWNED_PATHS) {
    let node: unknown = out;
    for (const k of path.slice(0, -1)) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[k] : undefined;
    if (node && typeof node === 'object') delete (node as Record<string, unknown>)[path[path.length - 1]!];
  }
  return out;
}

/** A cluster's deployed values as the base of its render when the spec names no values file (meshform's own keys left out). */
function valuesFromFacts(raw: Record<string, unknown> | undefined): ValuesFile | undefined {
  if (!raw) return undefined;
  const data = withoutOwned(raw);
  const doc = new Document(data);
  return { path: '', text: doc.toString({ lineWidth: 0 }), doc, data };
}

function warning(path: string, code: Finding['code'], message: string, rule: string, fix: string, value?: string): Finding {
  return { code, severity: 'warning', path, message, rule, fix, ...(value === undefined ? {} : { value }) };
}

/**
 * Turns a validated spec (plus live facts, the CA and, for method `provided`, issued certificates)
 * into the MeshPlan that `renderMesh` writes out. Pure and synchronous: no I/O, no clock.
 * Memory stays linear in the peer entries: each cluster holds its peer names, nothing else per pair.
 */
/**
 * Whether the shared CA goes into the chart values (`tls.ca`, a secret value): for every method but
 * `keep`, under which each cluster keeps its own CA Secret (cilium-ca) and only trusts the shared CA.
 */
export function caInValues(plan: Pick<MeshPlan, 'certMethod'>): boolean {
  return plan.certMethod !== 'keep';
}

export function planMesh(
  spec: MeshSpec,
  input: { facts?: Facts; ca?: CaMaterial; certs?: Map<string, ClusterCerts> } = {},
): MeshPlan {
  const warnings: Finding[] = [];
  const method = spec.certificates.method;
  const clusters: PlannedCluster[] = spec.clusters.map((c) => {
    const facts = input.facts?.clusters[c.name];
    const path = `clusters[${c.index}]`;
    const version = parseCiliumVersion(c.ciliumVersion);
    if (!version) {
      throw inputError({
        code: 'VERSION_INVALID',
        path: `${path}.ciliumVersion`,
        value: c.ciliumVersion,
        message: `cluster ${c.name}: Cilium version "${c.ciliumVersion}" is not a version`,
        rule: 'a Cilium version is MAJOR.MINOR.PATCH, e.g. 1.15.5',
        fix: 'set cilium.version (or the cluster\'s ciliumVersion) to the version the cluster runs',
      });
    }
    const features = featuresOf(version);
    if (features.unknownNewer) {
      warnings.push(
        warning(
          `${path}.ciliumVersion`,
          'VERSION_UNKNOWN_NEWER',
          `cluster ${c.name}: Cilium ${version.raw} is newer than any version meshform knows; rendered in the 1.${NEWEST_KNOWN_MINOR} form`,
          `meshform knows the chart forms of Cilium 1.15 to 1.${NEWEST_KNOWN_MINOR}`,
          'check the rendered values against that chart version before applying',
          version.raw,
        ),
      );
    }
    const rke2Version = c.rke2Version ?? facts?.rke2Version;
    const valuesSecrets = rke2SupportsValuesSecrets(rke2Version);
    if (!valuesSecrets && (method === 'provided' || (spec.ca && method !== 'keep'))) {
      warnings.push(
        warning(
          `${path}.rke2Version`,
          'VALUES_SECRETS_UNSUPPORTED',
          `cluster ${c.name}: RKE2 ${rke2Version ?? '(unknown version)'} cannot read HelmChartConfig spec.valuesSecrets, so its HelmChartConfig carries the keys inline (written under secrets/) and the Fleet bundle leaves it out`,
          'HelmChartConfig spec.valuesSecrets needs RKE2 ≥ 1.30.12, 1.31.8, 1.32.4 or 1.33.0',
          rke2Version
            ? 'upgrade RKE2, or keep rke2/ output out of Git and apply the file under secrets/'
            : 'set the cluster\'s rke2Version (or run discover) if it is new enough',
          rke2Version,
        ),
      );
    }
    const e = c.endpoint;
    const service: PlannedCluster['service'] =
      e.type === 'NodePort'
        ? { type: 'NodePort', nodePort: e.nodePort }
        : e.loadBalancerIP
          ? { type: 'LoadBalancer', loadBalancerIP: e.loadBalancerIP }
          : { type: 'LoadBalancer' };
    const dial = dialOf(c);
    const names = serverCertNames(c, spec);
    const certs = method === 'provided' ? input.certs?.get(c.name) : undefined;
    const values = c.values ?? valuesFromFacts(facts?.values);
    const kvstoremesh = c.kvstoremesh ?? features.kvstoremeshDefault;
    const bundled = !!input.ca?.trust?.length;
    const planned: PlannedCluster = {
      index: c.index,
      name: c.name,
      id: c.id,
      version,
      features,
      chartVersion: c.chartVersion,
      valuesSecrets,
      kvstoremesh,
      // 1.15 has no tls.enableSecrets to hand the Secrets over: validate refuses a bundle with KVStoreMesh there.
      certsInValues: features.certsInValues && !(bundled && kvstoremesh && features.kvstoremeshIgnoresCaBundle && features.enableSecretsKey),
      service,
      dial,
      serverExtra: { dnsNames: [...names.extra.dnsNames], ipAddresses: [...names.extra.ipAddresses] },
      peers: [...c.peers],
      podCIDRs: c.podCIDRs.length ? [...c.podCIDRs] : [...(facts?.clusterCIDR ?? [])],
      serviceCIDRs: c.serviceCIDRs.length ? [...c.serviceCIDRs] : [...(facts?.serviceCIDR ?? [])],
      nodeCIDRs: [...c.nodeCIDRs],
      disableKubeProxy: c.disableKubeProxy,
      ...(rke2Version === undefined ? {} : { rke2Version }),
      ...(c.hubbleUiNodePort === undefined ? {} : { hubbleUiNodePort: c.hubbleUiNodePort }),
      ...(c.context !== undefined || c.kubeconfig !== undefined
        ? { connection: { ...(c.context !== undefined ? { context: c.context } : {}), ...(c.kubeconfig !== undefined ? { kubeconfig: relative(spec.dir, c.kubeconfig) } : {}) } }
        : {}),
      ...(certs ? { certs } : {}),
      ...(values ? { values } : {}),
    };
    return planned;
  });

  if (method === 'certmanager') {
    warnings.push(
      warning(
        'certificates.method',
        'CERT_MANAGER_ISSUER',
        `certificate method certmanager: the values name issuer ${CERT_MANAGER_ISSUER.kind}/${CERT_MANAGER_ISSUER.name}, which meshform does not create`,
        'cert-manager must sign with the shared CA in every cluster',
        `create ${CERT_MANAGER_ISSUER.kind} ${CERT_MANAGER_ISSUER.name} backed by the shared CA in every cluster, or change clustermesh.apiserver.tls.auto.certManagerIssuerRef in the rendered values`,
        'certmanager',
      ),
    );
  }
  if (method === 'provided') {
    for (const c of clusters) {
      if (!c.certs) {
        throw inputError({
          code: 'CERTS_MISSING',
          path: `clusters[${c.index}]`,
          value: c.name,
          message: `cluster ${c.name}: certificate method provided, but no certificates were issued for it`,
          rule: 'method provided renders certificates issued from the shared CA',
          fix: 'render through renderFromSpec (which issues them), or pass certs for every cluster',
        });
      }
    }
  }

  return {
    name: spec.name,
    domain: spec.domain,
    maxConnectedClusters: spec.maxConnectedClusters,
    authMode: spec.authMode,
    certMethod: method,
    release: spec.cilium.release,
    namespace: spec.cilium.namespace,
    apiserverReplicas: spec.apiserver.replicas,
    ...(input.ca ? { ca: input.ca } : {}),
    ...(input.ca?.trust?.length ? { caBundle: caBundlePem(input.ca, input.ca.trust) } : {}),
    certValidityDays: spec.certificates.validityDays,
    clusters,
    byName: new Map(clusters.map((c) => [c.name, c])),
    warnings,
  };
}
