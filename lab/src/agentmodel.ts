/**
 * The agents' exec answers, run inside the long-lived lab daemon (daemon.ts): what `kubectl exec` in a
 * lab cilium pod (or the clustermesh-apiserver pod's kvstoremesh container) answers, through kwok's
 * ClusterExec, the shims and the daemon's socket (agentserver.ts).
 *
 * Everything comes from the cluster's real kvstoremesh process (realmesh.ts): `kvstoremesh-dbg
 * status|troubleshoot` run the real subcommands against it, and the agent's `cilium-dbg status`
 * (an agent cannot run here) wraps the real kvstoremesh's per-peer state (models.RemoteCluster, the
 * same type the agent reports) in the agent's status document; `cilium-dbg troubleshoot clustermesh`
 * is the real kvstoremesh troubleshoot output. Nothing about a peer is decided here.
 */
import type * as k8s from '@kubernetes/client-node';
import { Etcd3 } from 'etcd3';
import { portOpen, run, waitFor } from './proc.js';
/** One entry of Cilium's `cluster-mesh.clusters[]` (models.RemoteCluster). */
export interface RemoteCluster {
  name: string;
  ready: boolean;
  connected: boolean;
  status: string;
  'num-nodes': number;
  'num-endpoints': number;
  'num-identities': number;
  'num-shared-services': number;
  'num-failures': number;
  'last-failure'?: string;
  synced: { nodes: boolean; endpoints: boolean; identities: boolean; services: boolean };
  config: { required: boolean; retrieved: boolean; 'cluster-id'?: number; kvstoremesh: boolean; 'sync-canaries': boolean };
}

/** What the daemon's chain of one cluster offers the agent answers. */
export interface ChainView {
  status: { state: string; error?: string; version?: string; kvstoremeshFor?: 'deployment' | 'agents' };
  kvstoremeshApi(): string | undefined;
  troubleshootCommand(): [string, string[]] | undefined;
  binary(): string;
  /** Admin etcd access to the cluster's own etcd (for the remote nodes kvstoremesh mirrored). */
  localEtcd(): { hosts: string; ca: string; cert: string; key: string } | undefined;
}

interface AgentContext {
  cluster: string;
  version: string;
  kubeVersion: string;
  localNodes: { name: string; ip: string }[];
  meshEnabled: boolean;
  chain: ChainView;
}

/** The API clients of one lab cluster, as the agent's ServiceAccount would use them. */
export interface ClusterApi {
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
}

async function gather(cluster: string, api: ClusterApi, chain: ChainView): Promise<{ ctx: AgentContext; clusters: RemoteCluster[] }> {
  const nodes = await api.core.listNode({});
  const st = chain.status;
  if (st.state === 'error') throw new Error(st.error ?? 'the clustermesh chain failed');
  const ctx: AgentContext = {
    cluster,
    version: st.version ?? '',
    kubeVersion: nodes.items[0]?.status?.nodeInfo?.kubeletVersion ?? '',
    localNodes: nodes.items.map((n) => ({ name: n.metadata?.name ?? '', ip: n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '' })),
    meshEnabled: st.kvstoremeshFor !== undefined,
    chain,
  };
  if (!ctx.meshEnabled) return { ctx, clusters: [] };
  const host = chain.kvstoremeshApi();
  if (!host) throw new Error(`kvstoremesh of ${cluster} is not running${st.error ? `: ${st.error}` : ''}`);
  // A kvstoremesh that has just (re)started serves its API within a second or two: the agents it
  // stands in for would be answering by then, so wait for it rather than fail the exec.
  const [h, p] = host.split(':');
  await waitFor(`the kvstoremesh API of ${cluster} on ${host}`, 10_000, async () => ((await portOpen(h!, Number(p))) ? true : undefined));
  const r = await run(chain.binary(), ['kvstoremesh-dbg', 'status', '-H', host, '-o', 'json'], { allowFail: true, timeoutMs: 15_000 });
  if (r.code !== 0) throw new Error(r.stderr.trim() || r.stdout.trim() || `kvstoremesh-dbg status exited ${r.code}`);
  const clusters = (JSON.parse(r.stdout || '[]') as RemoteCluster[] | null) ?? [];
  clusters.sort((a, b) => a.name.localeCompare(b.name));
  return { ctx, clusters };
}

function statusJson(ctx: AgentContext, clusters: RemoteCluster[]): Record<string, unknown> {
  const ok = { state: 'Ok', msg: '' };
  return {
    cilium: { state: 'Ok', msg: '' },
    kvstore: { state: 'Ok', msg: 'Disabled' },
    kubernetes: { state: 'Ok', msg: `${ctx.kubeVersion} [linux/amd64]` },
    'container-runtime': { state: 'Ok', msg: 'kwok' },
    'stale-probes': null,
    'cni-chaining': { mode: 'portmap' },
    cluster: {
      ciliumHealth: ok,
      nodes: ctx.localNodes.map((n) => ({ name: `${ctx.cluster}/${n.name}`, 'primary-address': { ipv4: { ip: n.ip, enabled: true } } })),
    },
    ...(ctx.meshEnabled ? { 'cluster-mesh': { clusters, 'num-global-services': 0 } } : {}),
  };
}

/**
 * The agent's `cilium-dbg status` text: Cilium's own per-cluster lines as the real kvstoremesh-dbg
 * prints them (pkg/client FormatStatusResponseRemoteClusters, shared by both), under the agent's
 * header (pkg/client/client.go: "ClusterMesh:\t%d/%d remote clusters ready, %d global-services",
 * the same in 1.15.19, 1.16.19 and 1.18.11). Without --verbose the agent lists not-ready clusters only.
 */
async function statusText(ctx: AgentContext, clusters: RemoteCluster[], verbose: boolean): Promise<string> {
  const pad = (s: string) => s.padEnd(25);
  const lines = [
    `${pad('KVStore:')}Ok   Disabled`,
    `${pad('Kubernetes:')}Ok   ${ctx.kubeVersion} [linux/amd64]`,
    `${pad('Cilium:')}Ok   ${ctx.version}`,
    `${pad('Cilium health daemon:')}Ok`,
  ];
  if (ctx.meshEnabled) {
    const ready = clusters.filter((c) => c.ready).length;
    lines.push(`${pad('ClusterMesh:')}${ready}/${clusters.length} remote clusters ready, 0 global-services`);
    const real = await kvstoremeshDbg(ctx.chain, ['status', ...(verbose ? ['--verbose'] : [])]);
    if (real.code !== 0) throw new Error(real.stderr.trim() || real.stdout.trim());
    const body = real.stdout.split('\n').slice(1).filter((l) => l !== '');
    // Brief: one line per ready cluster, a block per not-ready one; the agent's default omits the ready lines.
    lines.push(...(verbose ? body : body.filter((l) => !/^ {3}\S+: ready,/.test(l))));
  }
  return lines.join('\n') + '\n';
}

/** Runs the real `clustermesh-apiserver kvstoremesh-dbg` against the cluster's kvstoremesh. */
async function kvstoremeshDbg(chain: ChainView, args: string[]): Promise<ExecAnswer> {
  const [sub, ...rest] = args;
  if (sub === 'troubleshoot') {
    const t = chain.troubleshootCommand();
    if (!t) return { code: 1, stdout: '', stderr: `Error: kvstoremesh is not running${chain.status.error ? `: ${chain.status.error}` : ''}\n` };
    const r = await run(t[0], [...t[1], ...rest], { allowFail: true, timeoutMs: 60_000 });
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }
  const host = chain.kvstoremeshApi();
  if (!host) return { code: 1, stdout: '', stderr: `Error: kvstoremesh is not running${chain.status.error ? `: ${chain.status.error}` : ''}\n` };
  const r = await run(chain.binary(), ['kvstoremesh-dbg', ...args, '-H', host], { allowFail: true, timeoutMs: 15_000 });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

/** Remote nodes as kvstoremesh mirrored them into the local etcd (cilium/cache/nodes/v1/<cluster>/<node>). */
async function remoteNodes(chain: ChainView): Promise<string[]> {
  const e = chain.localEtcd();
  if (!e) return [];
  const client = new Etcd3({ hosts: e.hosts, credentials: { rootCertificate: Buffer.from(e.ca), certChain: Buffer.from(e.cert), privateKey: Buffer.from(e.key) }, dialTimeout: 3000 });
  try {
    const keys = await client.getAll().prefix('cilium/cache/nodes/v1/').keys();
    return keys.map((k) => k.slice('cilium/cache/nodes/v1/'.length));
  } finally {
    client.close();
  }
}

async function healthJson(ctx: AgentContext): Promise<Record<string, unknown>> {
  const node = (name: string, ip: string) => ({
    name,
    host: {
      'primary-address': { ip, icmp: { latency: 100000, status: '' }, http: { latency: 200000, status: '' } },
    },
    'health-endpoint': { 'primary-address': { ip, icmp: { latency: 100000, status: '' }, http: { latency: 200000, status: '' } } },
  });
  const nodes = ctx.localNodes.map((n) => node(`${ctx.cluster}/${n.name}`, n.ip));
  if (ctx.meshEnabled) for (const n of await remoteNodes(ctx.chain)) nodes.push(node(n, ''));
  return { local: { name: `${ctx.cluster}/${ctx.localNodes[0]?.name ?? ''}` }, nodes, timestamp: new Date().toISOString() };
}

async function healthText(ctx: AgentContext): Promise<string> {
  const h = (await healthJson(ctx)) as { nodes: { name: string; host: { 'primary-address': { ip: string } } }[] };
  const lines = [`Probe time:   ${new Date().toISOString()}`, 'Nodes:'];
  for (const n of h.nodes) {
    lines.push(`  ${n.name}:`);
    lines.push(`    Host connectivity to ${n.host['primary-address'].ip || 'n/a'}:`);
    lines.push('      ICMP to stack:   OK, RTT=100µs');
    lines.push('      HTTP to agent:   OK, RTT=200µs');
  }
  return lines.join('\n') + '\n';
}

/** What one exec prints and exits with. */
export interface ExecAnswer {
  code: number;
  stdout: string;
  stderr: string;
}

const USAGE = (cmd: string) =>
  `${cmd}: the lab answers: cilium-dbg status [-o json] [--verbose|--all-clusters], cilium-dbg troubleshoot clustermesh, cilium status [...], cilium-health status [-o json], kvstoremesh-dbg status|troubleshoot [...] (the real kvstoremesh-dbg)\n`;

/** Computed once per cluster and view, shared by every exec that asks meanwhile. */
interface Computed {
  ctx: AgentContext;
  clusters: RemoteCluster[];
  /** Answers already written out from this computation, by command line (large JSON is rendered once). */
  rendered: Map<string, string>;
}

/** How long a computed answer is reused (from the start of its computation). */
export const ANSWER_TTL_MS = 1000;

/**
 * The agents of every lab cluster. Concurrent execs for the same cluster (and view: agent or
 * kvstoremesh) share one in-flight computation; its result is reused for at most ANSWER_TTL_MS
 * and dropped at once by `invalidate()` (the daemon calls it on every watched change), so an answer
 * never predates a change it could have seen.
 */
export class Agents {
  private epoch = 0;
  private readonly entries = new Map<string, { epoch: number; startedAt: number; done: boolean; promise: Promise<Computed> }>();
  /** Clusters whose changes are not being watched right now: their answers are never reused. */
  readonly unwatched = new Set<string>();
  /** Computations started (for the lab's own tests and benchmarks). */
  computations = 0;

  constructor(
    private readonly apis: (cluster: string) => ClusterApi | undefined,
    private readonly chains: (cluster: string) => ChainView | undefined,
  ) {}

  /** Forgets every reused answer: called when anything an answer depends on may have changed. */
  invalidate(): void {
    this.epoch++;
    this.entries.clear();
  }

  private computed(cluster: string): Promise<Computed> {
    const key = cluster;
    const e = this.entries.get(key);
    const fresh = e && e.epoch === this.epoch && (!e.done || (!this.unwatched.has(cluster) && Date.now() - e.startedAt < ANSWER_TTL_MS));
    if (e && fresh) return e.promise;
    const api = this.apis(cluster);
    const chain = this.chains(cluster);
    if (!api || !chain) return Promise.reject(new Error(`no lab cluster ${cluster}`));
    this.computations++;
    const entry = { epoch: this.epoch, startedAt: Date.now(), done: false, promise: undefined as unknown as Promise<Computed> };
    entry.promise = gather(cluster, api, chain).then(
      ({ ctx, clusters }) => {
        entry.done = true;
        return { ctx, clusters, rendered: new Map() };
      },
      (err: unknown) => {
        // Errors are not reused: the next exec asks again.
        if (this.entries.get(key) === entry) this.entries.delete(key);
        throw err;
      },
    );
    this.entries.set(key, entry);
    return entry.promise;
  }

  /** The answer to `argv` (argv[0] is the command name) run in an agent (or kvstoremesh) container of `cluster`. */
  async answer(cluster: string, argv: string[]): Promise<ExecAnswer> {
    const [cmd = '', sub, ...rest] = argv;
    const known = ['cilium-dbg', 'cilium', 'cilium-health', 'kvstoremesh-dbg'];
    if (!known.includes(cmd)) return { code: 2, stdout: '', stderr: USAGE(cmd) };
    try {
      if (cmd === 'kvstoremesh-dbg') {
        const chain = this.chains(cluster);
        if (!chain) throw new Error(`no lab cluster ${cluster}`);
        return await kvstoremeshDbg(chain, [sub ?? '', ...rest]);
      }
      if (sub === 'troubleshoot' && rest[0] === 'clustermesh' && cmd !== 'cilium-health') {
        const chain = this.chains(cluster);
        if (!chain) throw new Error(`no lab cluster ${cluster}`);
        return await kvstoremeshDbg(chain, ['troubleshoot', ...rest.slice(1)]);
      }
      if (sub !== 'status') return { code: 2, stdout: '', stderr: USAGE(cmd) };
      const json = rest.some((a, i) => (a === '-o' || a === '--output') && rest[i + 1] === 'json') || rest.includes('-ojson') || rest.includes('--output=json');
      const verbose = rest.includes('--verbose') || rest.includes('--all-clusters');
      const c = await this.computed(cluster);
      const { ctx, clusters } = c;
      const key = `${cmd}\u0000${json}\u0000${verbose}`;
      let out = c.rendered.get(key);
      if (out === undefined) {
        if (cmd === 'cilium-health') out = json ? JSON.stringify(await healthJson(ctx), null, 2) + '\n' : await healthText(ctx);
        else out = json ? JSON.stringify(statusJson(ctx, clusters), null, 2) + '\n' : await statusText(ctx, clusters, verbose);
        c.rendered.set(key, out);
      }
      return ok(out);
    } catch (err) {
      return { code: 1, stdout: '', stderr: `Error: ${err instanceof Error ? err.message : String(err)}\n` };
    }
  }
}

function ok(stdout: string): ExecAnswer {
  return { code: 0, stdout, stderr: '' };
}
