import { MeshformError } from '../errors.js';
import { field, str, type ClusterClient, type ExecResult, type KubeObject } from '../kube/client.js';
import { asClusterError } from '../kube/errors.js';
import { mapBounded, type Sleep } from '../kube/pool.js';
import { pollUntil } from '../kube/poll.js';
import { DEFAULT_RELEASE } from '../defaults.js';
import {
  notReadyReasons,
  parseAgentStatus,
  parseHealthStatus,
  parseKvstoremeshStatus,
  type HealthNode,
  type RemoteClusterStatus,
} from './parse.js';

/** One cluster to read status from, with the peers it should connect to. */
export interface StatusTarget {
  name: string;
  client: ClusterClient;
  /** Peers from the spec/plan; when absent, the peers the agents report. */
  peers?: string[];
}

export interface StatusOptions {
  namespace?: string;
  /** Agent pods queried at once per cluster (default 16). */
  podConcurrency?: number;
  /** Clusters queried at once (default 8). */
  clusterConcurrency?: number;
  execTimeoutMs?: number;
  /** Also run cilium-health (default true). */
  health?: boolean;
}

/** What one agent says about one peer. */
export interface PeerObservation {
  peer: string;
  ready: boolean;
  /** Why not ready (empty when ready). */
  reasons: string[];
  /** Cilium's status text for the peer (carries the failure text when failing). */
  status?: string;
  numFailures: number;
  lastFailure?: string;
}

export interface NodeStatus {
  pod: string;
  node: string;
  /** The agent could not be asked (pod not running, exec failed, output not JSON). */
  error?: string;
  /** The command that answered (`cilium-dbg` or the `cilium` fallback). */
  command?: string;
  peers: PeerObservation[];
  /** Peers this agent reports that the spec does not list. */
  unexpectedPeers: string[];
  health?: { reachable: number; total: number; unreachable: HealthNode[] };
}

export interface KvstoremeshPodStatus {
  pod: string;
  error?: string;
  peers: PeerObservation[];
}

export interface ClusterStatus {
  name: string;
  peers: string[];
  nodes: NodeStatus[];
  /** Present when the clustermesh-apiserver pods run a kvstoremesh container. */
  kvstoremesh?: KvstoremeshPodStatus[];
  /** The cluster could not be read at all. */
  error?: string;
  errorCode?: string;
}

/** One cell of the mesh matrix: on how many of `cluster`'s agents `peer` is ready. */
export interface MatrixCell {
  cluster: string;
  peer: string;
  ready: number;
  total: number;
}

export interface MeshStatus {
  clusters: ClusterStatus[];
  matrix: MatrixCell[];
  /** Every peer ready on every agent of every cluster (and in every kvstoremesh). */
  ready: boolean;
}

const AGENT_SELECTOR = 'k8s-app=cilium';
const APISERVER_SELECTOR = 'k8s-app=clustermesh-apiserver';

function isMissingBinary(r: ExecResult): boolean {
  const text = `${r.message ?? ''} ${r.stderr}`;
  return r.exitCode === 127 || r.exitCode === 126 || /executable file not found|no such file or directory|not found in \$PATH|command not found/i.test(text);
}

function failureText(r: ExecResult): string {
  return (r.stderr.trim() || r.message || `exit code ${r.exitCode ?? '?'}`).split('\n').slice(-3).join(' ').slice(0, 500);
}

function podRunning(pod: KubeObject): string | undefined {
  const phase = str(field(pod, 'status', 'phase'));
  if (phase !== 'Running') return `pod is ${phase ?? 'not running'}`;
  return undefined;
}

function observe(peer: string, seen: RemoteClusterStatus | undefined): PeerObservation {
  const reasons = notReadyReasons(seen);
  return {
    peer,
    ready: reasons.length === 0,
    reasons,
    ...(seen?.status ? { status: seen.status } : {}),
    numFailures: seen?.numFailures ?? 0,
    ...(seen?.lastFailure ? { lastFailure: seen.lastFailure } : {}),
  };
}

/** Marks the sections of the agent script's output (a line of its own on stdout and stderr). */
export const SECTION_MARK = '@@meshform@@';

/**
 * The one command run in each agent pod: `cilium-dbg status` (or `cilium` before 1.15) and, when
 * asked, `cilium-health status`, through the pod's POSIX shell. One exec stream per pod instead of
 * two halves the load on the API servers and the kubelets of large clusters. Each command's output
 * and exit code come back in its own section of stdout and stderr.
 */
export function agentScript(health: boolean): string {
  const section = (name: string, cmd: string) =>
    `echo "${SECTION_MARK} ${name}"; echo "${SECTION_MARK} ${name}" >&2; ${cmd}; r=$?; echo; echo "${SECTION_MARK} exit $r"`;
  return [
    'c=cilium-dbg; command -v cilium-dbg >/dev/null 2>&1 || { command -v cilium >/dev/null 2>&1 && c=cilium; }',
    section('status $c', '"$c" status -o json'),
    ...(health ? [section('health', 'cilium-health status -o json')] : []),
  ].join('\n');
}

/** Splits the agent script's output back into one ExecResult per command, keyed by section name. */
export function parseAgentScript(r: ExecResult): Map<string, ExecResult> {
  const split = (text: string) => {
    const sections = new Map<string, { lines: string[]; exit?: number }>();
    let current: { lines: string[]; exit?: number } | undefined;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${SECTION_MARK} `)) {
        current?.lines.push(line);
        continue;
      }
      const name = line.slice(SECTION_MARK.length + 1).trim();
      const exit = /^exit (\d+)$/.exec(name);
      if (exit) {
        if (current) current.exit = Number(exit[1]);
      } else {
        current = { lines: [] };
        sections.set(name, current);
      }
    }
    return sections;
  };
  const stderr = split(r.stderr);
  const res = new Map<string, ExecResult>();
  for (const [name, out] of split(r.stdout)) {
    res.set(name, { stdout: out.lines.join('\n').trim(), stderr: (stderr.get(name)?.lines ?? []).join('\n').trim(), exitCode: out.exit });
  }
  return res;
}

interface AgentAnswers {
  command: string;
  status: ExecResult;
  health?: ExecResult;
}

/** Whether a cluster's agent pods have a shell for the one-exec script (learned from the pods that answered). */
interface ShellState {
  usable?: boolean;
}

async function askAgent(client: ClusterClient, ns: string, name: string, opts: StatusOptions, shell: ShellState): Promise<AgentAnswers> {
  const execOpts = { timeoutMs: opts.execTimeoutMs ?? 20_000 };
  const health = opts.health !== false;
  if (shell.usable !== false) {
    const r = await client.exec(ns, name, 'cilium-agent', ['sh', '-c', agentScript(health)], execOpts);
    const sections = parseAgentScript(r);
    const statusKey = [...sections.keys()].find((k) => k.startsWith('status '));
    if (statusKey) {
      shell.usable = true;
      const h = sections.get('health');
      return { command: statusKey.slice('status '.length), status: sections.get(statusKey)!, ...(h ? { health: h } : {}) };
    }
    // No shell in the image: one exec per command, for this pod and the pods not started yet. A script
    // that gave nothing where the shell works in other pods is this pod's failure; before any pod has
    // answered, this pod alone tries the commands one by one.
    if (isMissingBinary(r)) shell.usable = false;
    else if (shell.usable === true) throw new Error(`the agent script gave no output: ${failureText(r)}`);
  }
  let command = 'cilium-dbg';
  let status = await client.exec(ns, name, 'cilium-agent', ['cilium-dbg', 'status', '-o', 'json'], execOpts);
  // Cilium before 1.15 ships the agent CLI as `cilium`, not `cilium-dbg`.
  if (status.exitCode !== 0 && isMissingBinary(status)) {
    command = 'cilium';
    status = await client.exec(ns, name, 'cilium-agent', ['cilium', 'status', '-o', 'json'], execOpts);
  }
  if (!health || (status.exitCode !== 0 && !status.stdout.trim())) return { command, status };
  try {
    return { command, status, health: await client.exec(ns, name, 'cilium-agent', ['cilium-health', 'status', '-o', 'json'], execOpts) };
  } catch {
    // Health is extra detail: its absence must not hide the mesh status.
    return { command, status };
  }
}

async function agentStatus(client: ClusterClient, ns: string, pod: KubeObject, expected: string[] | undefined, opts: StatusOptions, shell: ShellState): Promise<NodeStatus> {
  const name = pod.metadata.name;
  const node = str(field(pod, 'spec', 'nodeName')) ?? '';
  const base: NodeStatus = { pod: name, node, peers: [], unexpectedPeers: [] };
  const notRunning = podRunning(pod);
  const fail = (error: string): NodeStatus => ({ ...base, error, peers: (expected ?? []).map((p) => ({ ...observe(p, undefined), ready: false, reasons: [error] })) });
  if (notRunning) return fail(notRunning);
  try {
    const { command, status: r, health: h } = await askAgent(client, ns, name, opts, shell);
    if (r.exitCode !== 0 && !r.stdout.trim()) return fail(`${command} status failed: ${failureText(r)}`);
    const cm = parseAgentStatus(r.stdout);
    const seen = new Map((cm?.clusters ?? []).map((c) => [c.name, c]));
    const peers = expected ?? [...seen.keys()].sort();
    const out: NodeStatus = {
      ...base,
      command,
      peers: peers.map((p) => observe(p, seen.get(p))),
      unexpectedPeers: [...seen.keys()].filter((p) => !peers.includes(p)).sort(),
    };
    if (h && (h.exitCode === 0 || h.stdout.trim())) {
      try {
        const nodes = parseHealthStatus(h.stdout);
        const unreachable = nodes.filter((n) => !n.reachable);
        out.health = { reachable: nodes.length - unreachable.length, total: nodes.length, unreachable };
      } catch {
        // Health is extra detail: its absence must not hide the mesh status.
      }
    }
    return out;
  } catch (err) {
    if (err instanceof MeshformError && ['KUBE_UNREACHABLE', 'KUBE_UNAUTHORIZED', 'KUBE_FORBIDDEN'].includes(err.findings[0]?.code ?? '')) throw err;
    return fail(err instanceof Error ? err.message.replace(`cluster ${client.cluster}: `, '') : String(err));
  }
}

async function kvstoremeshStatus(client: ClusterClient, ns: string, opts: StatusOptions, expected: string[] | undefined): Promise<KvstoremeshPodStatus[] | undefined> {
  const pods = await client.list('Pod', { namespace: ns, labelSelector: APISERVER_SELECTOR });
  const withKvs = pods.filter((p) => ((field(p, 'spec', 'containers') as { name?: string }[] | undefined) ?? []).some((c) => c.name === 'kvstoremesh'));
  if (withKvs.length === 0) return undefined;
  const res = await mapBounded(withKvs, opts.podConcurrency ?? 16, async (pod): Promise<KvstoremeshPodStatus> => {
    const name = pod.metadata.name;
    const notRunning = podRunning(pod);
    if (notRunning) return { pod: name, error: notRunning, peers: [] };
    const r = await client.exec(ns, name, 'kvstoremesh', ['kvstoremesh-dbg', 'status', '-o', 'json'], { timeoutMs: opts.execTimeoutMs ?? 20_000 });
    if (r.exitCode !== 0 && !r.stdout.trim()) return { pod: name, error: `kvstoremesh-dbg status failed: ${failureText(r)}`, peers: [] };
    const seen = new Map(parseKvstoremeshStatus(r.stdout).map((c) => [c.name, c]));
    const peers = expected ?? [...seen.keys()].sort();
    return { pod: name, peers: peers.map((p) => observe(p, seen.get(p))) };
  });
  return res.map((r, i) => (r.ok ? r.value : { pod: withKvs[i]?.metadata.name ?? '', error: r.error instanceof Error ? r.error.message : String(r.error), peers: [] }));
}

/**
 * Reads one cluster's mesh status from all its agents. Throws only when the cluster is unreachable.
 * The agents and the KVStoreMesh pods are asked at the same time, every pod at once (up to
 * `podConcurrency`): a status is a few round trips deep, not one per pod or per stage.
 */
export async function clusterStatus(t: StatusTarget, opts: StatusOptions = {}): Promise<ClusterStatus> {
  const ns = opts.namespace ?? DEFAULT_RELEASE.namespace;
  // KVStoreMesh detail must not hide what the agents said: a failure to list or ask its pods is dropped.
  const kvsRead = kvstoremeshStatus(t.client, ns, opts, t.peers).catch(() => undefined);
  const agents = async (): Promise<NodeStatus[]> => {
    const pods = (await t.client.list('Pod', { namespace: ns, labelSelector: AGENT_SELECTOR })).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    // Every pod tries the one-exec script; a pod whose image has no shell for it falls back to one
    // exec per command, and tells the pods that have not started yet (ShellState) to skip the script.
    const shell: ShellState = {};
    const results = await mapBounded(pods, opts.podConcurrency ?? 16, (pod) => agentStatus(t.client, ns, pod, t.peers, opts, shell));
    return results.map((r, i) => {
      if (r.ok) return r.value;
      throw r.error ?? new Error(`agent ${pods[i]?.metadata.name} failed`);
    });
  };
  const [nodes, kvs] = await Promise.all([agents(), kvsRead]);
  const peers = t.peers ?? [...new Set(nodes.flatMap((n) => n.peers.map((p) => p.peer)))].sort();
  const out: ClusterStatus = { name: t.name, peers, nodes };
  if (kvs) out.kvstoremesh = kvs;
  return out;
}

/** Builds the matrix and the overall verdict from per-cluster results. Pure. */
export function summarize(clusters: ClusterStatus[]): MeshStatus {
  const matrix: MatrixCell[] = [];
  let ready = clusters.length > 0;
  for (const c of clusters) {
    if (c.error) ready = false;
    if (c.nodes.length === 0 && !c.error) ready = false;
    for (const peer of c.peers) {
      const total = c.nodes.length;
      const n = c.nodes.filter((node) => node.peers.some((p) => p.peer === peer && p.ready)).length;
      matrix.push({ cluster: c.name, peer, ready: n, total });
      if (n < total || total === 0) ready = false;
    }
    for (const k of c.kvstoremesh ?? []) if (k.error || k.peers.some((p) => !p.ready)) ready = false;
  }
  return { clusters, matrix, ready };
}

/** Reads every cluster concurrently; an unreachable cluster is reported in its entry. */
export async function collectStatus(targets: readonly StatusTarget[], opts: StatusOptions = {}): Promise<MeshStatus> {
  const res = await mapBounded(targets, opts.clusterConcurrency ?? 8, (t) => clusterStatus(t, opts));
  const clusters = res.map((r, i): ClusterStatus => {
    const t = targets[i] as StatusTarget;
    if (r.ok) return r.value;
    const e = asClusterError(t.name, r.error);
    return { name: t.name, peers: t.peers ?? [], nodes: [], error: e.message, ...(e.findings[0] ? { errorCode: e.findings[0].code } : {}) };
  });
  return summarize(clusters);
}

export interface WaitOptions {
  timeoutMs: number;
  /** First poll interval (default 1 s), doubled after each poll up to `maxIntervalMs` (default 10 s). */
  intervalMs?: number;
  maxIntervalMs?: number;
  sleep?: Sleep;
  now?: () => number;
  onPoll?: (s: MeshStatus, elapsedMs: number) => void;
  /**
   * Ready reads in a row before the mesh counts as ready (default 1). The gates between waves and
   * rotation phases ask for 2: a rollout reported complete may still restart a clustermesh-apiserver
   * or KVStoreMesh a moment later, and one ready read taken just before that restart would pass.
   */
  readyReads?: number;
}

/**
 * Polls `collect` until the mesh is ready or the timeout passes; returns the last status either way
 * (the caller decides the exit code from `ready`).
 */
export async function waitForMesh(collect: () => Promise<MeshStatus>, opts: WaitOptions): Promise<{ status: MeshStatus; elapsedMs: number; timedOut: boolean }> {
  const need = Math.max(1, opts.readyReads ?? 1);
  let streak = 0;
  const r = await pollUntil(collect, (s) => {
    streak = s.ready ? streak + 1 : 0;
    return streak >= need;
  }, {
    timeoutMs: opts.timeoutMs,
    intervalMs: opts.intervalMs ?? 1000,
    backoff: 2,
    maxIntervalMs: opts.maxIntervalMs ?? 10_000,
    ...(opts.sleep ? { sleep: opts.sleep } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.onPoll ? { onRead: opts.onPoll } : {}),
  });
  return { status: r.state, elapsedMs: r.elapsedMs, timedOut: r.timedOut };
}
