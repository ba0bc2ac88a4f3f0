import { X509Certificate } from 'node:crypto';
import { Document, isSeq, parse, parseDocument, stringify } from 'yaml';
import type { Finding } from '../errors.js';
import { isWorker, type ClusterFacts } from '../kube/facts.js';
import type { RenderedFile } from '../render/types.js';
import { holdsPrivateKey } from '../spec/credentials.js';
import { RULES } from '../validate/catalogue.js';
import { DEFAULT_DOMAIN, DEFAULT_NODE_PORT, DEFAULT_RELEASE, type InitCertificates } from '../defaults.js';

/** One live cluster as `init` found it. */
export interface InitCluster {
  /** Name to use when Cilium has none yet (cluster-name `default`): usually the context name. */
  fallbackName: string;
  context?: string;
  kubeconfig?: string;
  facts: ClusterFacts;
}

export interface InitOptions {
  meshName: string;
  domain?: string;
  /** Used when no cluster reports a Cilium version. */
  ciliumVersion?: string;
  release?: string;
  namespace?: string;
  /** First NodePort handed out when a cluster has no clustermesh-apiserver Service yet. */
  firstNodePort?: number;
  /** `init --add`: what the existing spec's clusters already use (names, IDs, NodePorts). */
  taken?: { names: readonly string[]; ids: readonly number[]; nodePorts: readonly number[] };
  /**
   * How the spec treats the clusters' own CAs. `keep` adopts them (each cluster keeps its CA and
   * certificates and trusts the others'); `provided` gives every cluster the shared CA, replacing
   * theirs. Unset: `keep` when the CAs differ and a cluster with its own CA is in a mesh already
   * (it has peers, whose links rely on its CA), else `provided`.
   */
  certificates?: InitCertificates;
}


export interface InitResult {
  /** mesh.yaml text. */
  meshYaml: string;
  /** `values_<name>.yaml` beside it: each cluster's current user values (the seed's Step 2). */
  files: RenderedFile[];
  findings: Finding[];
  /** The `clusters:` entries of mesh.yaml, as data (what `init --add` appends to an existing spec). */
  clusters: Record<string, unknown>[];
  /** certificates.method of the spec written. */
  method: InitCertificates;
}

const NAME_RE = /^([a-z0-9][-a-z0-9]*)?[a-z0-9]$/;

function sanitizeName(s: string): string {
  const n = s.toLowerCase().replace(/[^-a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 32).replace(/-+$/g, '');
  return n || 'cluster';
}

/**
 * Builds a starting mesh.yaml from discovered facts: names and IDs Cilium already uses are kept,
 * the others get the next free ones; worker InternalIPs become the endpoint IPs; CIDRs come from
 * RKE2's HelmChart globals; each cluster's current values are written beside the spec. Pure.
 */
export function initSpecFromFacts(clusters: readonly InitCluster[], opts: InitOptions): InitResult {
  const findings: Finding[] = [];
  const usedNames = new Set<string>(opts.taken?.names ?? []);
  const usedIds = new Set<number>(opts.taken?.ids ?? []);
  const usedPorts = new Set<number>(opts.taken?.nodePorts ?? []);
  for (const c of clusters) {
    if (c.facts.clusterId && c.facts.clusterId > 0) usedIds.add(c.facts.clusterId);
    if (c.facts.service?.nodePort) usedPorts.add(c.facts.service.nodePort);
  }
  const ids = new Set<number>();
  let nextId = 1;
  let nextPort = opts.firstNodePort ?? DEFAULT_NODE_PORT;
  const release = opts.release ?? DEFAULT_RELEASE.release;
  const namespace = opts.namespace ?? DEFAULT_RELEASE.namespace;
  const versions = clusters.map((c) => c.facts.ciliumVersion).filter((v): v is string => !!v);
  const version = versions[0] ?? opts.ciliumVersion ?? '1.15.5';
  if (new Set(versions).size > 1) {
    findings.push({ code: 'INIT_VERSIONS_DIFFER', severity: 'warning', path: 'cilium.version', value: [...new Set(versions)].join(', '),
      message: `the clusters run different Cilium versions (${[...new Set(versions)].join(', ')})`, rule: 'one Cilium version per mesh is simplest',
      fix: 'set the version each cluster runs, or upgrade them to one version first' });
  }
  const files: RenderedFile[] = [];
  const specClusters = clusters.map((c, i) => {
    const live = c.facts.clusterName && c.facts.clusterName !== 'default' ? c.facts.clusterName : undefined;
    let name = live ?? sanitizeName(c.fallbackName);
    if (!NAME_RE.test(name) || name === 'default') name = `cluster-${i + 1}`;
    while (usedNames.has(name)) name = `${name}-${i + 1}`;
    usedNames.add(name);
    const liveId = c.facts.clusterId && c.facts.clusterId > 0 ? c.facts.clusterId : 0;
    let id = liveId && !ids.has(liveId) && !(opts.taken?.ids ?? []).includes(liveId) ? liveId : 0;
    if (!id) {
      while (usedIds.has(nextId) || ids.has(nextId)) nextId++;
      id = nextId;
    }
    ids.add(id);
    const workers = (c.facts.nodes ?? []).filter(isWorker);
    const ips = workers.map((n) => n.internalIPs[0]).filter((x): x is string => !!x).sort();
    if (ips.length < 2) {
      findings.push({ code: 'INIT_FEW_WORKERS', severity: 'warning', path: `clusters[${i}].endpoint.ips`, value: ips.join(', '),
        message: `cluster ${name} has ${ips.length} worker node IP(s)`, rule: 'peers should reach a cluster through at least two worker nodes',
        fix: 'add worker IPs by hand, or use a LoadBalancer endpoint' });
    }
    let nodePort = c.facts.service?.nodePort;
    if (!nodePort) {
      while (usedPorts.has(nextPort)) nextPort++;
      nodePort = nextPort;
      usedPorts.add(nodePort);
    }
    const entry: Record<string, unknown> = { name, id };
    if (c.kubeconfig) entry['kubeconfig'] = c.kubeconfig;
    if (c.context) entry['context'] = c.context;
    if (c.facts.rke2Version) entry['rke2Version'] = c.facts.rke2Version;
    const pod = c.facts.clusterCIDR ?? [];
    const svc = c.facts.serviceCIDR ?? [];
    if (pod.length === 1) entry['podCIDR'] = pod[0];
    else if (pod.length > 1) entry['podCIDRs'] = pod;
    else findings.push({ code: 'INIT_NO_POD_CIDR', severity: 'warning', path: `clusters[${i}].podCIDR`, message: `cluster ${name}: no cluster-cidr found in HelmChart ${release}`, rule: 'pod CIDRs must be known to check overlaps', fix: 'fill podCIDR by hand (RKE2 cluster-cidr)' });
    if (svc.length === 1) entry['serviceCIDR'] = svc[0];
    else if (svc.length > 1) entry['serviceCIDRs'] = svc;
    entry['endpoint'] = { nodePort, ips };
    const valuesFile = `values_${name}.yaml`;
    const discovered = c.facts.values && Object.keys(c.facts.values).length ? c.facts.values : parseValuesContent(c.facts.helmChartConfig?.valuesContent);
    // Values files are meant for Git: no key a cluster holds in its values (the seed's way) goes into one.
    const leftOut = discovered ? stripPrivateKeys(discovered) : [];
    if (leftOut.length) {
      findings.push({
        code: 'INIT_KEYS_LEFT_OUT',
        severity: 'warning',
        path: `clusters[${i}].values`,
        value: leftOut.join(', '),
        message: `the live values of ${name} hold private keys (${leftOut.join(', ')}): left out of ${valuesFile}, which is meant for Git`,
        rule: RULES.INIT_KEYS_LEFT_OUT.rule,
        fix: leftOut.includes('tls.ca.key')
          ? `meshform issues the clustermesh certificates itself; to keep ${name}'s CA: kubectl get secret cilium-ca -n ${namespace} -o yaml > cilium-ca.yaml && meshform ca import cilium-ca.yaml --spec mesh.yaml (then delete cilium-ca.yaml)`
          : 'nothing to do: meshform issues the clustermesh certificates itself and keeps keys under secrets/',
      });
    }
    const values = discovered && Object.keys(discovered).length ? stringify(discovered, { lineWidth: 0, sortMapEntries: false }) : undefined;
    if (values !== undefined && values.trim().length) {
      files.push({ path: valuesFile, content: `# Current values of ${release} on ${name}, as discovered.\n${values.endsWith('\n') ? values : values + '\n'}`, secret: false });
      entry['values'] = valuesFile;
    }
    return entry;
  });
  const names = specClusters.map((e) => String(e['name']));
  const cas = clusterCas(clusters, names);
  const meshed = names.filter((_, i) => clusters[i]!.facts.caCert && (clusters[i]!.facts.peers?.length ?? 0) > 0);
  const method: InitCertificates = opts.certificates ?? (cas.cas.length > 1 && meshed.length > 0 ? 'keep' : 'provided');
  const adoption = method === 'keep' ? cas : undefined;
  const casText = cas.cas.map((c) => `${c.clusters.join(', ')}: ${c.subject}`).join('; ');
  const casValue = cas.cas.map((c) => `${c.clusters.join('+')}: ${c.fingerprint256.slice(0, 23)}…`).join(', ');
  if (adoption) {
    files.push(...adoption.files);
    if (cas.cas.length > 1) {
      findings.push({
        code: 'INIT_CAS_DIFFER',
        severity: 'warning',
        path: 'ca.trust',
        value: casValue,
        message: `the clusters have ${cas.cas.length} different CAs (${casText}): each one's certificates verify only where its CA is trusted${opts.certificates ? '' : `, and ${meshed.join(', ')} ${meshed.length === 1 ? 'is' : 'are'} in a mesh already`}`,
        rule: RULES.INIT_CAS_DIFFER.rule,
        fix: 'the spec adopts them as they are (certificates.method keep, their CAs in ca.trust): meshform ca init ca && meshform render mesh.yaml --out out && meshform apply mesh.yaml --out out; then converge onto the shared CA without downtime: meshform ca rotate mesh.yaml --out out',
      });
    }
  } else if (cas.cas.length > 1) {
    findings.push({
      code: 'INIT_CAS_REPLACED',
      severity: 'warning',
      path: 'certificates.method',
      value: casValue,
      message: `the clusters have ${cas.cas.length} different CAs (${casText})${opts.certificates ? '' : ' and none of them is in a mesh yet'}: the spec gives every cluster the shared CA (certificates.method provided), which replaces each cluster's cilium-ca at apply`,
      rule: RULES.INIT_CAS_REPLACED.rule,
      fix: `to keep each cluster's CA and converge later without downtime instead, run init again with --certificates keep`,
    });
  }
  const maxes = clusters.map((c) => c.facts.maxConnectedClusters).filter((m): m is number => m === 255 || m === 511);
  const spec = {
    apiVersion: 'meshform/v1alpha1',
    kind: 'Mesh',
    name: opts.meshName,
    cilium: { version, release, namespace },
    domain: opts.domain ?? DEFAULT_DOMAIN,
    maxConnectedClusters: maxes[0] ?? 255,
    authMode: 'cluster',
    certificates: { method },
    ca: { cert: 'ca/ca.crt', key: 'ca/ca.key', ...(adoption ? { trust: adoption.files.map((f) => f.path) } : {}) },
    apiserver: { replicas: 2 },
    clusters: specClusters,
  };
  const doc = new Document(spec);
  doc.commentBefore = adoption
    ? ` Written by meshform init from the live clusters, whose own CAs are adopted: each keeps its CA and certificates\n (certificates.method keep) and trusts the others' (ca.trust). Review it, then: meshform ca init ca && meshform render,\n apply, and converge onto the shared CA: meshform ca rotate mesh.yaml --out out`
    : ` Written by meshform init from the live clusters. Review it, then: meshform ca init ca && meshform render`;
  return { meshYaml: doc.toString({ lineWidth: 0 }), files, findings, clusters: specClusters, method };
}

/** Where init writes the CA certificate of clusters being adopted (public: meant for Git). */
export const TRUST_DIR = 'ca-trust';

/**
 * The clusters' own CAs (from each cluster's cilium-ca `ca.crt`): one file per distinct CA, named
 * after the first cluster that has it, in cluster order.
 */
function clusterCas(clusters: readonly InitCluster[], names: readonly string[]): { cas: { fingerprint256: string; subject: string; clusters: string[] }[]; files: RenderedFile[] } {
  const byFp = new Map<string, { fingerprint256: string; subject: string; clusters: string[]; pem: string }>();
  clusters.forEach((c, i) => {
    const pem = c.facts.caCert;
    if (!pem) return;
    let x: X509Certificate;
    try {
      x = new X509Certificate(pem);
    } catch {
      return;
    }
    const e = byFp.get(x.fingerprint256) ?? { fingerprint256: x.fingerprint256, subject: x.subject.replace(/\n/g, ', '), clusters: [], pem: x.toString() };
    e.clusters.push(names[i]!);
    byFp.set(x.fingerprint256, e);
  });
  const cas = [...byFp.values()];
  const files = cas.map((ca) => ({
    path: `${TRUST_DIR}/${ca.clusters[0]}.crt`,
    content: ca.pem,
    secret: false,
  }));
  return { cas: cas.map(({ pem: _pem, ...rest }) => rest), files };
}

/**
 * `init --add`: the existing spec's text with `entries` appended to its `clusters:` list; every
 * other line, comment and key order as it was. Pure.
 */
export function appendClusters(specText: string, entries: readonly Record<string, unknown>[]): string {
  const doc = parseDocument(specText);
  const list = doc.get('clusters', true);
  if (!isSeq(list)) throw new Error('the spec has no clusters list');
  for (const e of entries) list.items.push(doc.createNode(e));
  return doc.toString({ lineWidth: 0 });
}

function parseValuesContent(text: string | undefined): Record<string, unknown> | undefined {
  if (!text?.trim()) return undefined;
  try {
    const v = parse(text, { maxAliasCount: 1000 }) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Removes every string holding a private key from `values` (in place); returns their dotted paths. */
export function stripPrivateKeys(values: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'string' && holdsPrivateKey(v)) {
      delete values[k];
      out.push(path);
    } else if (v && typeof v === 'object' && !Array.isArray(v)) {
      out.push(...stripPrivateKeys(v as Record<string, unknown>, path));
    }
  }
  return out;
}
