/**
 * Loading `mesh.yaml`: YAML → schema (strict, did-you-mean) → normalised {@link MeshSpec} with
 * defaults filled, relative paths resolved from the spec's folder and values files read. Every
 * problem found along the way is collected; the caller gets one {@link MeshformError} (exit 2)
 * carrying all of them, never another exception.
 */
import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { Finding } from '../errors.js';
import { ExitCode, MeshformError } from '../errors.js';
import { formatIp, parseCidr, parseIp } from '../util/cidr.js';
import { parseCiliumVersion, rke2ChartVersion } from '../util/version.js';
import { RULES } from '../validate/catalogue.js';
import { credentialFindings } from './credentials.js';
import { issuesToFindings, formatPath } from './issues.js';
import { locate, parseYamlText, readInputFile, readInputFileSync, type FileRole, type ParsedYaml } from './input.js';
import { clusterSchema, meshSchema, type ClusterInput, type MeshInput } from './schema.js';
import type { ClusterSpec, Endpoint, MeshSpec, ValuesFile } from './types.js';
import { CLUSTERMESH_PORT, DEFAULT_NODE_PORT, defaultValidityDays, SPEC_DEFAULTS } from '../defaults.js';

export { loadFacts, parseFacts } from './facts.js';


const SPEC_ROLE: FileRole = { what: 'mesh spec', findingPath: '' };

/**
 * Reads and loads a mesh spec file.
 * @throws MeshformError (exit 2) with every finding when the file is missing, unreadable, too
 *   large, malformed or invalid, or names values files that are.
 */
export async function loadSpec(path: string, opts: LoadOptions = {}): Promise<MeshSpec> {
  const abs = resolve(path);
  const text = await readInputFile(abs, SPEC_ROLE);
  if (typeof text !== 'string') throw failure(abs, [text]);
  return parseSpec(text, abs, opts);
}

/** How strictly a spec's files are taken. */
export interface LoadOptions {
  /**
   * Accept values files outside the spec file's folder tree (symlinks resolved). Off by default:
   * a values file is copied into files meant for Git, so a spec must not be able to pull in
   * `/etc/shadow` or `~/.kube/config` on its own; the person running meshform opts in
   * (`--allow-outside-paths`), never the spec.
   */
  allowOutsidePaths?: boolean;
}

/**
 * Parses the text of a mesh spec that lives at `path` (relative paths in it resolve from
 * `dirname(path)`); reads the values files it names (synchronously).
 * @throws MeshformError (exit 2) carrying all findings.
 */
export function parseSpec(text: string, path: string, opts: LoadOptions = {}): MeshSpec {
  const abs = resolve(path);
  const dir = dirname(abs);
  const parsed = parseYamlText(text, abs, SPEC_ROLE);
  if (Array.isArray(parsed)) throw failure(abs, parsed);
  const data = parsed.data;
  if (!isMap(data)) {
    throw failure(abs, [
      {
        code: 'SPEC_NOT_A_MAP',
        severity: 'error',
        path: '',
        value: data === null || data === undefined ? '(empty)' : Array.isArray(data) ? 'a list' : typeof data,
        message: `mesh spec ${abs} is not a map of fields`,
        rule: 'a mesh spec is a YAML map with apiVersion, kind, name, cilium and clusters',
        fix: 'start from examples/seed/mesh.yaml',
      },
    ]);
  }

  const findings: Finding[] = [];
  const top = meshSchema.safeParse(data);
  if (!top.success) findings.push(...issuesToFindings(top.error.issues, data, meshSchema));
  const mesh: MeshInput | undefined = top.success ? top.data : undefined;

  const rawClusters = Array.isArray(data.clusters) ? (data.clusters as unknown[]) : [];
  const names = rawClusters.map((c) => (isMap(c) && typeof c.name === 'string' ? c.name : undefined));
  const meshVersion = mesh?.cilium.version ?? (isMap(data.cilium) && typeof data.cilium.version === 'string' ? data.cilium.version : '');

  const clusters: ClusterSpec[] = [];
  rawClusters.forEach((raw, i) => {
    const r = clusterSchema.safeParse(raw);
    if (!r.success) {
      findings.push(...issuesToFindings(r.error.issues, raw, clusterSchema, ['clusters', i]));
      return;
    }
    clusters.push(normalizeCluster(r.data, i, { dir, spec: abs, allowOutside: opts.allowOutsidePaths === true }, meshVersion, names, findings));
  });

  if (findings.length > 0 || !mesh) throw failure(abs, findings.map((f) => withLine(f, parsed)));

  const [min, max] = mesh.nodePortRange.trim().split('-').map(Number) as [number, number];
  return {
    path: abs,
    dir,
    name: mesh.name,
    cilium: mesh.cilium,
    domain: mesh.domain,
    maxConnectedClusters: mesh.maxConnectedClusters,
    authMode: mesh.authMode,
    certificates: {
      ...mesh.certificates,
      validityDays: mesh.certificates.validityDays ?? defaultValidityDays(clusters.map((c) => c.ciliumVersion)),
    },
    ...(mesh.ca
      ? {
          ca: {
            cert: resolve(dir, mesh.ca.cert),
            key: resolve(dir, mesh.ca.key),
            ...(mesh.ca.trust ? { trust: mesh.ca.trust.map((t) => resolve(dir, t)) } : {}),
          },
        }
      : {}),
    apiserver: mesh.apiserver,
    nodePortRange: { min, max },
    clusters,
  };
}

function normalizeCluster(
  c: ClusterInput,
  i: number,
  scope: ValuesScope,
  meshVersion: string,
  names: readonly (string | undefined)[],
  findings: Finding[],
): ClusterSpec {
  const at = (...rest: (string | number)[]) => formatPath(['clusters', i, ...rest]);
  let values: ValuesFile | undefined;
  const dir = scope.dir;
  if (c.values !== undefined) {
    const r = loadValuesFile(resolve(dir, c.values), at('values'), scope);
    if (Array.isArray(r)) findings.push(...r);
    else values = r;
  }
  const globals = isMap(values?.data.global) ? values.data.global : {};
  const ciliumVersion = c.ciliumVersion ?? meshVersion;
  const parsedVersion = parseCiliumVersion(ciliumVersion);
  const kpr = values?.data.kubeProxyReplacement;

  const cluster: ClusterSpec = {
    index: i,
    name: c.name,
    id: c.id,
    podCIDRs: cidrList(c.podCIDR) ?? cidrsFromValues(globals.clusterCIDR),
    serviceCIDRs: cidrList(c.serviceCIDR) ?? cidrsFromValues(globals.serviceCIDR),
    nodeCIDRs: cidrList(c.nodeCIDRs) ?? [],
    endpoint: normalizeEndpoint(c.endpoint, i, findings),
    ciliumVersion,
    chartVersion: c.chartVersion ?? (parsedVersion ? rke2ChartVersion(parsedVersion) : ''),
    tls: {
      extraDnsNames: c.tls?.extraDnsNames ?? [],
      extraIpAddresses: (c.tls?.extraIpAddresses ?? []).map(canonicalIp),
    },
    peers: c.peers ?? names.filter((n, j): n is string => j !== i && n !== undefined),
    peersExplicit: c.peers !== undefined,
    disableKubeProxy: c.disableKubeProxy ?? (kpr === true || kpr === 'true' || kpr === 'strict'),
  };
  if (c.kubeconfig !== undefined) cluster.kubeconfig = resolve(dir, c.kubeconfig);
  if (c.context !== undefined) cluster.context = c.context;
  if (values) cluster.values = values;
  if (c.rke2Version !== undefined) cluster.rke2Version = c.rke2Version;
  if (c.kvstoremesh !== undefined) cluster.kvstoremesh = c.kvstoremesh;
  if (c.hubble?.ui?.nodePort !== undefined) cluster.hubbleUiNodePort = c.hubble.ui.nodePort;
  return cluster;
}

function canonicalIp(text: string): string {
  const ip = parseIp(text);
  return ip ? formatIp(ip.family, ip.value) : text;
}

function cidrList(v: string | string[] | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v : [v]).map((t) => {
    const r = parseCidr(t);
    return r.ok ? r.cidr.text : t;
  });
}

/** RKE2's `global.clusterCIDR` / `serviceCIDR`: comma-separated, one per family. */
function cidrsFromValues(v: unknown): string[] {
  if (typeof v !== 'string') return [];
  const out: string[] = [];
  for (const part of v.split(',')) {
    const r = parseCidr(part.trim());
    if (r.ok) out.push(r.cidr.text);
  }
  return out;
}

const NODEPORT_KEYS = ['nodePort', 'ips'] as const;
const LB_KEYS = ['loadBalancerIP', 'address', 'port'] as const;

function normalizeEndpoint(e: ClusterInput['endpoint'], i: number, findings: Finding[]): Endpoint {
  const at = (k?: string) => formatPath(k ? ['clusters', i, 'endpoint', k] : ['clusters', i, 'endpoint']);
  const ep = e ?? {};
  const np = NODEPORT_KEYS.filter((k) => ep[k] !== undefined);
  const lb = LB_KEYS.filter((k) => ep[k] !== undefined);
  const rule = 'a NodePort endpoint has nodePort and ips; a LoadBalancer endpoint has loadBalancerIP and/or address, and port';
  if (ep.type === undefined && np.length > 0 && lb.length > 0) {
    findings.push({
      code: 'ENDPOINT_TYPE_AMBIGUOUS',
      severity: 'error',
      path: at(),
      value: `${np.join(', ')} + ${lb.join(', ')}`,
      message: `${at()} mixes NodePort keys (${np.join(', ')}) with LoadBalancer keys (${lb.join(', ')})`,
      rule,
      fix: `keep the keys of one type, or set ${at('type')} and drop the others`,
    });
  } else if (ep.type !== undefined) {
    const wrong = ep.type === 'NodePort' ? lb : np;
    for (const k of wrong) {
      findings.push({
        code: 'ENDPOINT_TYPE_MISMATCH',
        severity: 'error',
        path: at(k),
        value: String(ep[k]),
        message: `${at(k)} does not belong to an endpoint of type ${ep.type}`,
        rule,
        fix: `remove ${k}, or change ${at('type')}`,
      });
    }
  }
  const type = ep.type ?? (np.length > 0 ? 'NodePort' : lb.length > 0 ? 'LoadBalancer' : 'NodePort');
  if (type === 'NodePort') {
    return { type, nodePort: ep.nodePort ?? DEFAULT_NODE_PORT, ips: (ep.ips ?? []).map(canonicalIp) };
  }
  const out: Endpoint = { type, port: ep.port ?? CLUSTERMESH_PORT };
  if (ep.loadBalancerIP !== undefined) out.loadBalancerIP = canonicalIp(ep.loadBalancerIP);
  if (ep.address !== undefined) out.address = ep.address;
  return out;
}

/** Where a spec's values files may come from. */
export interface ValuesScope {
  /** The spec file's folder. */
  dir: string;
  /** The spec file, for fixes. */
  spec: string;
  allowOutside: boolean;
}

/**
 * Reads and parses a values file (comments kept in `doc`), or returns the findings that say why
 * not, at `findingPath`: also when it lies outside `scope.dir` (unless allowed) or holds private
 * keys or kubeconfig credentials.
 */
export function loadValuesFile(absPath: string, findingPath: string, scope?: ValuesScope): ValuesFile | Finding[] {
  const role: FileRole = { what: 'values file', findingPath };
  if (scope && !scope.allowOutside) {
    const outside = outsideFinding(absPath, scope.dir, findingPath);
    if (outside) return [outside];
  }
  const text = readInputFileSync(absPath, role);
  if (typeof text !== 'string') return [text];
  const parsed = parseYamlText(text, absPath, role, 'VALUES');
  if (Array.isArray(parsed)) return parsed;
  const secrets = credentialFindings(parsed, text, absPath, findingPath, scope?.spec ?? 'mesh.yaml');
  if (secrets.length > 0) return secrets;
  const data = parsed.data ?? {};
  if (!isMap(data)) {
    return [
      {
        code: 'VALUES_NOT_A_MAP',
        severity: 'error',
        path: findingPath,
        value: Array.isArray(data) ? 'a list' : typeof data,
        message: `values file ${absPath} is not a map of Helm values`,
        rule: 'a values file is a YAML map, as `helm get values -o yaml` prints',
        fix: `replace ${absPath} with the output of: helm get values rke2-cilium -n kube-system -o yaml`,
      },
    ];
  }
  return {
    path: absPath,
    text,
    // Built when a command uses it (render keeps the comments); validate needs only the data.
    get doc() {
      return parsed.doc;
    },
    data,
  };
}

/** True when `path` is `dir` or lies below it. */
function within(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * The finding for a values file outside the spec's folder tree, judged after resolving symlinks
 * (a link inside the folder pointing out counts as outside); a missing file by its path.
 */
function outsideFinding(absPath: string, dir: string, findingPath: string): Finding | undefined {
  let target = absPath;
  let inside: boolean;
  try {
    target = realpathSync.native(absPath);
    inside = within(realpathSync.native(dir), target);
  } catch {
    // Missing: judged by its path; the read then reports it.
    inside = within(dir, absPath);
  }
  if (inside) return undefined;
  const resolved = target !== absPath ? ` (${target})` : '';
  return {
    code: 'VALUES_OUTSIDE_SPEC_FOLDER',
    severity: 'error',
    path: findingPath,
    value: absPath,
    message: `values file ${absPath}${resolved} lies outside the spec file's folder ${dir}; it would be copied into files meant for Git`,
    rule: RULES.VALUES_OUTSIDE_SPEC_FOLDER.rule,
    fix: `copy the values file into ${dir} and point values: there, or run meshform with --allow-outside-paths if this file is meant to be published`,
  };
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}

/** `clusters[1].endpoint.nodePort` → `['clusters', 1, 'endpoint', 'nodePort']`. */
export function parsePath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g;
  for (const m of path.matchAll(re)) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else if (m[3] !== undefined) out.push(JSON.parse(m[3]) as string);
  }
  return out;
}

/** Adds where in the file a finding sits, when the path points into it. */
export function withLine(f: Finding, parsed: ParsedYaml): Finding {
  if (f.path === '' || / line \d+/.test(f.message) || f.code.startsWith('FILE_') || f.code.startsWith('VALUES_')) return f;
  const pos = locate(parsed, parsePath(f.path));
  return pos ? { ...f, message: `${f.message} (line ${pos.line}, column ${pos.col})` } : f;
}

/** One exit-2 error carrying all findings about one file. */
export function failure(path: string, findings: Finding[]): MeshformError {
  const n = findings.length;
  const head = n === 1 ? findings[0]!.message : `${n} problems`;
  return new MeshformError(`${path}: ${head}`, findings, ExitCode.input);
}
