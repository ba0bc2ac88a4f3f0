// An in-memory ClusterClient for unit tests: objects by kind/namespace/name, a simplified
// server-side apply (maps merge, lists replace, generation bumps only on a real change), label
// selectors with equality terms, exec answered by a handler, and injectable failures.
import { SECTION_MARK } from '../../src/status/status.js';
import type { ConnectRequest, Connector } from '../../src/kube/connect.js';
import { clusterError } from '../../src/kube/errors.js';
import { isDeepStrictEqual } from 'node:util';
import {
  FIELD_MANAGER,
  KINDS,
  type ApplyOptions,
  type ClusterClient,
  type ExecOptions,
  type ExecResult,
  type Kind,
  type KubeObject,
  type ListOptions,
} from '../../src/kube/client.js';

export type ExecHandler = (ns: string, pod: string, container: string, command: string[]) => ExecResult | Promise<ExecResult>;

export interface FakeCall {
  op: 'get' | 'list' | 'apply' | 'exec';
  kind?: string;
  name?: string;
  namespace?: string;
  command?: string[];
  dryRun?: boolean;
}

function key(kind: string, ns: string | undefined, name: string): string {
  return `${kind}/${ns ?? ''}/${name}`;
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function merge(base: unknown, patch: unknown): unknown {
  if (patch && typeof patch === 'object' && !Array.isArray(patch) && base && typeof base === 'object' && !Array.isArray(base)) {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [k, v] of Object.entries(patch)) out[k] = v === undefined ? out[k] : merge(out[k], v);
    return out;
  }
  return clone(patch);
}

function matches(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    if (k === undefined) return true;
    return v === undefined ? labels?.[k.trim()] !== undefined : labels?.[k.trim()] === v.trim();
  });
}

/** Every leaf of an object (maps walked, lists and scalars taken whole) by its dotted path; identity fields left out. */
function leaves(o: unknown, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (v: unknown, p: string) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v)) if (x !== undefined && !(p === '' && (k === 'apiVersion' || k === 'kind'))) walk(x, p ? `${p}.${k}` : k);
    } else out.set(p, v);
  };
  walk(o, prefix);
  return out;
}

function leafAt(o: unknown, path: string): unknown {
  let cur = o;
  for (const k of path.split('.')) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
}

export class FakeClusterClient implements ClusterClient {
  readonly cluster: string;
  readonly objects = new Map<string, KubeObject>();
  readonly calls: FakeCall[] = [];
  execHandler: ExecHandler = () => ({ stdout: '', stderr: 'no exec handler', exitCode: 1 });
  /** Whether the pods have a POSIX shell for status's one-exec agent script (the handler then answers its commands). */
  shell = true;
  /** Return an error to make a call fail. */
  fail: (call: FakeCall) => Error | undefined = () => undefined;
  /** Milliseconds each call takes (to test concurrency). */
  delayMs = 0;
  #rv = 1;
  #tick = 0;

  constructor(cluster: string, objects: KubeObject[] = []) {
    this.cluster = cluster;
    for (const o of objects) this.put(o);
  }

  put(obj: KubeObject): void {
    const o = clone(obj);
    o.metadata.resourceVersion = String(this.#rv++);
    o.metadata.generation ??= 1;
    this.objects.set(key(o.kind, o.metadata.namespace, o.metadata.name), o);
  }

  peek(kind: Kind, name: string, namespace?: string): KubeObject | undefined {
    return this.objects.get(key(kind, KINDS[kind].namespaced ? namespace : undefined, name));
  }

  async #enter(call: FakeCall): Promise<void> {
    this.calls.push(call);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const err = this.fail(call);
    if (err) throw err;
  }

  async get(kind: Kind, name: string, namespace?: string): Promise<KubeObject | undefined> {
    await this.#enter({ op: 'get', kind, name, namespace });
    const o = this.peek(kind, name, namespace);
    return o ? clone(o) : undefined;
  }

  async list(kind: Kind, opts: ListOptions = {}): Promise<KubeObject[]> {
    await this.#enter({ op: 'list', kind, namespace: opts.namespace });
    return [...this.objects.values()]
      .filter((o) => o.kind === kind && (!opts.namespace || o.metadata.namespace === opts.namespace) && matches(o.metadata.labels, opts.labelSelector))
      .map(clone);
  }

  async apply(obj: KubeObject, opts: ApplyOptions = {}): Promise<KubeObject> {
    await this.#enter({ op: 'apply', kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace, dryRun: !!opts.dryRun });
    return this.#apply(FIELD_MANAGER, obj, opts);
  }

  /**
   * A server-side apply by another field manager (as `kubectl apply --server-side --field-manager
   * <manager>` would make), not recorded in `calls`: its fields conflict with meshform's applies.
   */
  writeAs(manager: string, obj: KubeObject): KubeObject {
    return this.#apply(manager, obj, { force: true });
  }

  // Server-side apply, simplified: maps merge, lists and scalars are leaves; a leaf another manager
  // owns with another value is a conflict (as the API server's 409 says it) unless forced, which
  // moves its ownership; a leaf set to the value it already has is owned by both.
  #owners = new Map<string, Map<string, Set<string>>>();
  #apply(manager: string, obj: KubeObject, opts: ApplyOptions): KubeObject {
    const k = key(obj.kind, obj.metadata.namespace, obj.metadata.name);
    const old = this.objects.get(k);
    const { managedFields: _m, resourceVersion: _r, ...meta } = obj.metadata;
    const owners = this.#owners.get(k) ?? new Map<string, Set<string>>();
    const mine = leaves({ ...obj, metadata: { labels: meta.labels, annotations: meta.annotations } });
    const conflicts = [...mine].flatMap(([path, value]) =>
      [...owners].filter(([m, paths]) => m !== manager && paths.has(path) && !isDeepStrictEqual(leafAt(old, path), value)).map(([m]) => `conflict with "${m}": .${path}`),
    );
    if (conflicts.length && !opts.force) {
      throw clusterError({ cluster: this.cluster, code: 'KUBE_CONFLICT',
        message: `server-side apply of ${obj.kind} ${obj.metadata.name} conflicts with another field manager: Apply failed with ${conflicts.length} conflict${conflicts.length === 1 ? '' : 's'}: ${conflicts.join(', ')}`,
        rule: 'meshform does not take over fields that another tool owns unless told to', fix: 'meshform apply --force' });
    }
    const merged = merge(old ?? {}, { ...obj, metadata: meta }) as KubeObject;
    const strip = (o: KubeObject | undefined) => (o ? { ...o, metadata: { ...o.metadata, managedFields: undefined, resourceVersion: undefined, generation: undefined } } : undefined);
    const changed = !isDeepStrictEqual(strip(old), strip(merged));
    if (opts.dryRun) return clone(merged);
    for (const [m, paths] of owners) if (m !== manager) for (const [path, value] of mine) if (!isDeepStrictEqual(leafAt(old, path), value)) paths.delete(path);
    owners.set(manager, new Set([...(owners.get(manager) ?? []), ...mine.keys()]));
    this.#owners.set(k, owners);
    if (!changed && old) return clone(old);
    merged.metadata.generation = (old?.metadata.generation ?? 0) + 1;
    merged.metadata.resourceVersion = String(this.#rv++);
    const entries = [...owners].filter(([, paths]) => paths.size > 0).map(([m]) => ({ manager: m, operation: 'Apply', time: `t${++this.#tick}` }));
    const untracked = (old?.metadata.managedFields ?? []).filter((m) => !owners.has(m.manager ?? ''));
    merged.metadata.managedFields = [...untracked, ...entries];
    this.objects.set(k, merged);
    return clone(merged);
  }

  async exec(namespace: string, pod: string, container: string, command: string[], _opts?: ExecOptions): Promise<ExecResult> {
    await this.#enter({ op: 'exec', namespace, name: pod, command });
    if (command[0] === 'sh' && command[1] === '-c' && command[2]?.includes(SECTION_MARK)) {
      if (!this.shell) return { stdout: '', stderr: '', exitCode: 127, message: 'exec: "sh": executable file not found in $PATH' };
      return await emulateAgentScript(command[2], (cmd) => this.execHandler(namespace, pod, container, cmd));
    }
    return await this.execHandler(namespace, pod, container, command);
  }
}

/** Object builders for tests. */
export function node(name: string, ip: string, roles: string[] = [], podCIDR?: string): KubeObject {
  const labels: Record<string, string> = {};
  for (const r of roles) labels[`node-role.kubernetes.io/${r}`] = 'true';
  return {
    apiVersion: 'v1', kind: 'Node', metadata: { name, labels },
    spec: podCIDR ? { podCIDR, podCIDRs: [podCIDR] } : {},
    status: { addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }], nodeInfo: { kubeletVersion: 'v1.31.8+rke2r1' } },
  };
}

export function agentPod(name: string, nodeName: string, phase = 'Running', labels: Record<string, string> = { 'k8s-app': 'cilium' }, containers = ['cilium-agent']): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'kube-system', labels },
    spec: { nodeName, containers: containers.map((c) => ({ name: c })) },
    status: { phase },
  };
}

const missing = (r: ExecResult) => r.exitCode === 127 || /executable file not found/.test(`${r.message ?? ''} ${r.stderr}`);

/**
 * What a pod's shell makes of status's agent script (src/status/status.ts agentScript): each command
 * answered by the handler, in the script's sections. The script itself runs in a real shell in
 * test/status/script.test.ts and on the lab.
 */
async function emulateAgentScript(script: string, run: (cmd: string[]) => ExecResult | Promise<ExecResult>): Promise<ExecResult> {
  const out: string[] = [];
  const err: string[] = [];
  const section = async (name: string, cmd: string[]) => {
    out.push(`${SECTION_MARK} ${name}`);
    err.push(`${SECTION_MARK} ${name}`);
    const r = await run(cmd);
    out.push(r.stdout, '', `${SECTION_MARK} exit ${missing(r) ? 127 : (r.exitCode ?? 1)}`);
    err.push(missing(r) ? `sh: 1: ${cmd[0]}: not found` : r.stderr);
  };
  const dbg = await run(['cilium-dbg', 'status', '-o', 'json']);
  const legacy = missing(dbg) ? await run(['cilium', 'status', '-o', 'json']) : undefined;
  const c = legacy && !missing(legacy) ? 'cilium' : 'cilium-dbg';
  await section(`status ${c}`, [c, 'status', '-o', 'json']);
  if (script.includes('cilium-health')) await section('health', ['cilium-health', 'status', '-o', 'json']);
  return { stdout: out.join('\n') + '\n', stderr: err.join('\n') + '\n', exitCode: 0 };
}

/**
 * A Connector that hands out in-memory clients by cluster name (by context for init, whose
 * clusters are named after their contexts), recording what it was asked; an unknown name fails
 * as a kubeconfig without that context does.
 */
export function fakeConnector(clients: ReadonlyMap<string, ClusterClient> | Record<string, ClusterClient>): Connector & { requests: ConnectRequest[] } {
  const get = (n: string) => (clients instanceof Map ? clients.get(n) : (clients as Record<string, ClusterClient>)[n]);
  const requests: ConnectRequest[] = [];
  const connect: Connector = (req) => {
    requests.push(req);
    const c = get(req.name) ?? (req.context !== undefined ? get(req.context) : undefined);
    if (!c) {
      throw clusterError({ cluster: req.name, code: 'KUBE_CONFIG', message: `context "${req.context ?? req.name}" is not in the kubeconfig`, rule: 'r', fix: 'f', path: req.path ?? '' });
    }
    return c;
  };
  return Object.assign(connect, { requests });
}
