/**
 * The one narrow interface meshform uses to talk to a Kubernetes cluster (DESIGN.md §2). Everything
 * live (discover, apply, status, doctor) goes through it, so unit tests pass an in-memory fake and
 * integration tests the real client (`node-client.ts`).
 */

/** Object metadata, limited to what meshform reads or writes. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  managedFields?: ManagedFieldsEntry[];
}

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  apiVersion?: string;
  time?: string;
  fieldsType?: string;
  fieldsV1?: unknown;
}

/** Any Kubernetes object; the body beyond metadata is read through narrow accessors. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** The kinds meshform touches, with their REST coordinates (no discovery round trip needed). */
export const KINDS = {
  Namespace: { apiVersion: 'v1', plural: 'namespaces', namespaced: false },
  Node: { apiVersion: 'v1', plural: 'nodes', namespaced: false },
  Pod: { apiVersion: 'v1', plural: 'pods', namespaced: true },
  Secret: { apiVersion: 'v1', plural: 'secrets', namespaced: true },
  ConfigMap: { apiVersion: 'v1', plural: 'configmaps', namespaced: true },
  Service: { apiVersion: 'v1', plural: 'services', namespaced: true },
  DaemonSet: { apiVersion: 'apps/v1', plural: 'daemonsets', namespaced: true },
  Deployment: { apiVersion: 'apps/v1', plural: 'deployments', namespaced: true },
  HelmChart: { apiVersion: 'helm.cattle.io/v1', plural: 'helmcharts', namespaced: true },
  HelmChartConfig: { apiVersion: 'helm.cattle.io/v1', plural: 'helmchartconfigs', namespaced: true },
} as const;
export type Kind = keyof typeof KINDS;

export function isKind(k: string): k is Kind {
  return Object.prototype.hasOwnProperty.call(KINDS, k);
}

export interface ListOptions {
  namespace?: string;
  /** Kubernetes label selector, e.g. `k8s-app=cilium`. */
  labelSelector?: string;
}

export interface ApplyOptions {
  /** Server-side dry run (`dryRun=All`): the API server validates and merges but stores nothing. */
  dryRun?: boolean;
  /** Take over fields owned by other managers (kubectl's `--force-conflicts`). */
  force?: boolean;
}

export interface ExecOptions {
  /** Give up after this long; the result is then a timeout error. Default 20 s. */
  timeoutMs?: number;
}

/** Result of a command run in a pod container. */
export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit code when the API reported one (0 on success). */
  exitCode?: number;
  /** The API's failure message (e.g. executable not found), when the command did not succeed. */
  message?: string;
}

/**
 * What meshform needs from one cluster. Implementations raise `MeshformError` (exit 3) naming
 * the cluster for unreachable, unauthorised and failed calls; `get` returns `undefined` for 404.
 */
export interface ClusterClient {
  /** The cluster's name in the spec (used in every message). */
  readonly cluster: string;
  get(kind: Kind, name: string, namespace?: string): Promise<KubeObject | undefined>;
  list(kind: Kind, opts?: ListOptions): Promise<KubeObject[]>;
  /** Server-side apply with field manager `meshform`. Returns the object as stored (or as it would be). */
  apply(obj: KubeObject, opts?: ApplyOptions): Promise<KubeObject>;
  exec(
    namespace: string,
    pod: string,
    container: string,
    command: string[],
    opts?: ExecOptions,
  ): Promise<ExecResult>;
}

/** The field manager meshform's server-side applies use. */
export const FIELD_MANAGER = 'meshform';

/** Reads a nested field without trusting the object's shape. */
export function field(obj: unknown, ...path: (string | number)[]): unknown {
  let cur: unknown = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number(v.trim());
  return undefined;
}

export function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  }
  return out;
}
