/**
 * Parsers for the JSON that Cilium's own tools print (`cilium-dbg status -o json`,
 * `kvstoremesh-dbg status -o json`, `cilium-health status -o json`). Field names follow Cilium's
 * API models (RemoteCluster, RemoteClusterConfig, RemoteClusterSynced, HealthStatusResponse).
 * Go's `omitempty` drops false booleans and zero numbers, so an absent boolean means false; an
 * absent object (`config`, `synced`) means the version or state does not report it.
 */

/** One entry of `cluster-mesh.clusters[]` as seen by one agent (or one kvstoremesh). */
export interface RemoteClusterStatus {
  name: string;
  ready: boolean;
  /** Absent before Cilium 1.14. */
  connected?: boolean;
  status: string;
  config?: { required: boolean; retrieved: boolean; clusterId?: number; kvstoremesh: boolean };
  synced?: { nodes: boolean; endpoints: boolean; identities: boolean; services: boolean };
  numFailures: number;
  /** RFC 3339 time of the last failure (the failure text itself is in `status`). */
  lastFailure?: string;
  numNodes?: number;
  numEndpoints?: number;
  numIdentities?: number;
  numSharedServices?: number;
}

export interface ClusterMeshStatus {
  clusters: RemoteClusterStatus[];
  /** Cilium ≤ 1.18 only. */
  numGlobalServices?: number;
}

export class StatusParseError extends Error {}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
const bool = (v: unknown): boolean => v === true;
const optNum = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const optStr = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

function jsonOf(input: string | unknown): unknown {
  if (typeof input !== 'string') return input;
  // Some builds print a warning line before the JSON; start at the first brace or bracket.
  const start = input.search(/[{[]/);
  if (start < 0) throw new StatusParseError(`no JSON in output: ${input.slice(0, 200)}`);
  try {
    return JSON.parse(input.slice(start));
  } catch (err) {
    throw new StatusParseError(`output is not JSON: ${(err as Error).message}`);
  }
}

export function parseRemoteCluster(v: unknown): RemoteClusterStatus {
  const o = obj(v) ?? {};
  const config = obj(o['config']);
  const synced = obj(o['synced']);
  const out: RemoteClusterStatus = {
    name: typeof o['name'] === 'string' ? o['name'] : '',
    ready: bool(o['ready']),
    status: typeof o['status'] === 'string' ? o['status'] : '',
    numFailures: optNum(o['num-failures']) ?? 0,
  };
  // `connected` exists from 1.14 on; with omitempty, false is absent, so only a version that knows
  // `synced` (1.14+) lets us read absence as false.
  if ('connected' in o || synced) out.connected = bool(o['connected']);
  if (config) {
    out.config = { required: bool(config['required']), retrieved: bool(config['retrieved']), kvstoremesh: bool(config['kvstoremesh']) };
    const id = optNum(config['cluster-id']);
    if (id !== undefined) out.config.clusterId = id;
  }
  if (synced) {
    out.synced = { nodes: bool(synced['nodes']), endpoints: bool(synced['endpoints']), identities: bool(synced['identities']), services: bool(synced['services']) };
  }
  const lf = optStr(o['last-failure']);
  if (lf && !lf.startsWith('0001-01-01')) out.lastFailure = lf;
  for (const [k, key] of [['numNodes', 'num-nodes'], ['numEndpoints', 'num-endpoints'], ['numIdentities', 'num-identities'], ['numSharedServices', 'num-shared-services']] as const) {
    const n = optNum(o[key]);
    if (n !== undefined) out[k] = n;
  }
  return out;
}

/**
 * `cilium-dbg status -o json` (or `cilium status -o json`): the `cluster-mesh` part. Returns
 * `undefined` when the agent reports no cluster mesh at all (mesh not enabled).
 */
export function parseAgentStatus(input: string | unknown): ClusterMeshStatus | undefined {
  const root = obj(jsonOf(input));
  if (!root) throw new StatusParseError('agent status is not a JSON object');
  const cm = obj(root['cluster-mesh']);
  if (!cm) return undefined;
  const clusters = Array.isArray(cm['clusters']) ? cm['clusters'].map(parseRemoteCluster) : [];
  const out: ClusterMeshStatus = { clusters };
  const g = optNum(cm['num-global-services']);
  if (g !== undefined) out.numGlobalServices = g;
  return out;
}

/** `kvstoremesh-dbg status -o json`: a list of RemoteCluster (also accepted wrapped as `{clusters}`). */
export function parseKvstoremeshStatus(input: string | unknown): RemoteClusterStatus[] {
  const root = jsonOf(input);
  if (Array.isArray(root)) return root.map(parseRemoteCluster);
  const o = obj(root);
  const list = o?.['clusters'] ?? obj(o?.['cluster-mesh'])?.['clusters'];
  if (Array.isArray(list)) return list.map(parseRemoteCluster);
  throw new StatusParseError('kvstoremesh status is neither a list nor has clusters[]');
}

/** Why a peer is not ready on one agent; empty when it is ready (DESIGN.md §8.3). */
export function notReadyReasons(p: RemoteClusterStatus | undefined): string[] {
  if (!p) return ['peer not configured on this node'];
  const reasons: string[] = [];
  if (!p.ready) reasons.push(p.status ? `not ready: ${p.status}` : 'not ready');
  if (p.connected === false && p.ready) reasons.push('not connected');
  if (p.config && p.config.required && !p.config.retrieved) reasons.push('cluster configuration required but not retrieved');
  if (p.synced) {
    const missing = (['nodes', 'endpoints', 'identities', 'services'] as const).filter((k) => !p.synced?.[k]);
    if (missing.length) reasons.push(`not synced: ${missing.join(', ')}`);
  }
  return reasons;
}

/** One node's reachability as cilium-health sees it. */
export interface HealthNode {
  /** `<cluster>/<node>`. */
  name: string;
  cluster?: string;
  node: string;
  reachable: boolean;
  /** Error texts of failed probes (ICMP/HTTP to node and health endpoint). */
  errors: string[];
}

function pathErrors(ps: unknown, label: string): string[] {
  const p = obj(ps);
  if (!p) return [];
  const out: string[] = [];
  for (const proto of ['icmp', 'http'] as const) {
    const s = optStr(obj(p[proto])?.['status']);
    if (s) out.push(`${label} ${proto}: ${s}`);
  }
  return out;
}

function endpointErrors(ep: unknown, label: string): string[] {
  const e = obj(ep);
  if (!e) return [];
  // Before `health-endpoint`, the deprecated `endpoint` field was a bare PathStatus.
  if ('icmp' in e || 'http' in e) return pathErrors(e, label);
  const out = pathErrors(e['primary-address'], label);
  const sec = e['secondary-addresses'];
  if (Array.isArray(sec)) sec.forEach((s) => out.push(...pathErrors(s, `${label} secondary`)));
  return out;
}

/** `cilium-health status -o json` → per-node reachability. */
export function parseHealthStatus(input: string | unknown): HealthNode[] {
  const root = obj(jsonOf(input));
  if (!root) throw new StatusParseError('health status is not a JSON object');
  const nodes = Array.isArray(root['nodes']) ? root['nodes'] : [];
  return nodes.map((n) => {
    const o = obj(n) ?? {};
    const name = typeof o['name'] === 'string' ? o['name'] : '';
    const slash = name.indexOf('/');
    const errors = [...endpointErrors(o['host'], 'node'), ...endpointErrors(o['health-endpoint'] ?? o['endpoint'], 'endpoint')];
    return { name, ...(slash > 0 ? { cluster: name.slice(0, slash) } : {}), node: slash > 0 ? name.slice(slash + 1) : name, reachable: errors.length === 0, errors };
  });
}
