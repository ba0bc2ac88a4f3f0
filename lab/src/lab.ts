/**
 * Bringing the lab up and down: kwokctl clusters from local binaries, RKE2's shape, RKE2's real
 * helm-controller per cluster installing the upstream Cilium chart as release rke2-cilium (its Job
 * pods run by the lab's job runner, helmjobs.ts), and the endpoints daemon that serves each cluster's
 * clustermesh endpoint. Every process the lab starts is recorded by pid in `.lab/lab.json`.
 */
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { agentShim, agentSocket, hangFile } from './agentserver.js';
import { labCiliumVersion, labPaths, moduleDir, type LabPaths } from './paths.js';
import { isAlive, portOpen, run, sleep, spawnDetached, stopPid, waitFor } from './proc.js';
import { defaultCiliumVersion } from './realmesh.js';
import { ciliumNodeManifest, componentPorts, helmChartManifest, kwokctlConfig, labStages, nodeManifest } from './shape.js';
import { DEFAULT_WORKERS, labTopology, type LabCluster } from './topology.js';

/** What `.lab/lab.json` records about a running lab. */
export interface LabState {
  clusters: { name: string; workdir: string; apiserver: string; pids: number[]; ports: number[]; helmControllerPid?: number }[];
  /** Workers per cluster (`up --workers`); absent in a lab of the default shape. */
  workers?: number;
  daemonPid?: number;
  /** The helm Job runner (jobrunner.ts) for every cluster. */
  jobRunnerPid?: number;
  kubeconfig: string;
  startedAt: string;
}

const AGENT_COMMANDS = ['cilium-dbg', 'cilium', 'cilium-health', 'kvstoremesh-dbg'];

export function readState(paths: LabPaths = labPaths()): LabState | undefined {
  if (!existsSync(paths.stateFile)) return undefined;
  return JSON.parse(readFileSync(paths.stateFile, 'utf8')) as LabState;
}

function writeState(paths: LabPaths, state: LabState): void {
  writeFileSync(paths.stateFile, JSON.stringify(state, null, 2) + '\n');
}

function kwokEnv(paths: LabPaths): NodeJS.ProcessEnv {
  // kwokctl adds a context to $KUBECONFIG (default ~/.kube/config): keep it in the lab's own file.
  return {
    ...process.env,
    KWOK_WORKDIR: paths.kwokWorkdir,
    KUBECONFIG: join(paths.state, 'kwokctl-kubeconfig'),
    PATH: `${paths.bin}:${process.env.PATH ?? ''}`,
  };
}

/** Runs lab/build.sh (reuses cached binaries); fails loudly when a binary cannot be had. */
export async function ensureBinaries(paths: LabPaths, log: (s: string) => void): Promise<void> {
  const t0 = Date.now();
  const r = await run('bash', [paths.buildScript], { allowFail: true });
  if (r.code !== 0) throw new Error(`lab/build.sh failed (exit ${r.code}):\n${r.stderr.trim()}`);
  log(`binaries ready in ${paths.bin} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

function writeExecutable(file: string, text: string): void {
  writeFileSync(file, text);
  chmodSync(file, 0o755);
}

/**
 * `/usr/bin/clustermesh-apiserver` of the clustermesh-apiserver image: cilium-cli execs its debug
 * subcommand by that absolute path (`ClusterMeshBinaryName` in cilium-cli/defaults/defaults.go,
 * cilium v1.18.0-pre.3: `/usr/bin/clustermesh-apiserver kvstoremesh-dbg status -o json`). Here it
 * hands `kvstoremesh-dbg …` to the lab's shim of that name, beside it (see `kwokInNamespace`).
 */
const CLUSTERMESH_APISERVER_SHIM = `#!/bin/sh
# /usr/bin/clustermesh-apiserver in a lab pod: its kvstoremesh-dbg subcommand is the lab's shim.
case $1 in
kvstoremesh-dbg) shift; exec "$(dirname "$0")/kvstoremesh-dbg" "$@" ;;
*) printf 'lab: clustermesh-apiserver %s is not served by an exec here (only kvstoremesh-dbg)\\n' "$1" >&2; exit 1 ;;
esac
`;

/**
 * The kwok controller binary kwokctl starts: kwok in a private mount namespace (\`unshare --mount\`)
 * whose /usr/bin is an overlay with the shims on top, so execs by absolute path (/usr/bin/…) reach the
 * shims too. The host's /usr/bin is never changed; the namespace ends with the kwok process.
 */
function kwokInNamespace(paths: LabPaths): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh
# kwok for the meshform lab in a private mount namespace: /usr/bin = overlay(shims over /usr/bin).
exec unshare --mount --propagation private -- /bin/sh -c \\
  'mount -t overlay meshform-lab-shims -o "lowerdir=$1:/usr/bin" /usr/bin || exit 125; shift; exec "$@"' \\
  kwok-in-namespace ${q(paths.shims)} ${q(paths.binary('kwok'))} "$@"
`;
}

function writeShims(paths: LabPaths): void {
  mkdirSync(paths.shims, { recursive: true });
  for (const cmd of AGENT_COMMANDS) writeExecutable(join(paths.shims, cmd), agentShim(cmd, agentSocket(paths.state)));
  writeExecutable(join(paths.shims, 'clustermesh-apiserver'), CLUSTERMESH_APISERVER_SHIM);
  writeExecutable(paths.kwokInNamespace, kwokInNamespace(paths));
}

function clusterWorkdir(paths: LabPaths, name: string): string {
  return join(paths.kwokWorkdir, 'clusters', name);
}

/** kubectl against one cluster of the lab. */
export function kubectl(paths: LabPaths, context: string, args: string[], input?: string) {
  return run(paths.binary('kubectl'), ['--kubeconfig', paths.kubeconfig, '--context', context, ...args], { input });
}

/** kwok's five default Stages from the pinned kwok module (Go module cache), narrowed by labStages. */
function kwokStages(paths: LabPaths): Record<string, unknown>[] {
  const kwok = moduleDir('sigs.k8s.io/kwok', paths.versions.KWOK_VERSION ?? 'v0.7.0', 'kustomize/stage/pod/fast/pod-ready.yaml');
  const files = [
    'node/fast/node-initialize.yaml',
    'node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
    'pod/fast/pod-ready.yaml',
    'pod/fast/pod-complete.yaml',
    'pod/fast/pod-delete.yaml',
  ];
  return labStages(files.map((f) => YAML.parse(readFileSync(join(kwok, 'kustomize/stage', f), 'utf8')) as Record<string, unknown>));
}

/**
 * The upstream Cilium chart of the pinned version, packaged with the lab's helm from the cilium
 * module in the Go module cache into `.lab/charts/` (never into the repository). Returns its version.
 */
async function packageChart(paths: LabPaths): Promise<string> {
  const v = labCiliumVersion(paths.versions);
  const src = join(moduleDir('github.com/cilium/cilium', v, 'install/kubernetes/cilium/Chart.yaml'), 'install/kubernetes/cilium');
  const tmp = mkdtempSync(join(tmpdir(), 'meshform-lab-chart-'));
  try {
    cpSync(src, join(tmp, 'cilium'), { recursive: true });
    chmodSync(join(tmp, 'cilium'), 0o755);
    const r = await run(paths.binary('helm'), ['package', join(tmp, 'cilium'), '-d', join(tmp, 'out')]);
    const tgz = /saved it to: (\S+)/.exec(r.stdout)?.[1];
    if (!tgz) throw new Error(`helm package printed no chart path: ${r.stdout.trim()}`);
    mkdirSync(join(paths.state, 'charts'), { recursive: true });
    renameSync(tgz, paths.chartPackage);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return chartVersion(paths);
}

/** The version of the packaged chart (`helm show chart`). */
export async function chartVersion(paths: LabPaths = labPaths()): Promise<string> {
  if (!existsSync(paths.chartPackage)) throw new Error(`no ${paths.chartPackage}: \`lab up\` packages the chart`);
  const r = await run(paths.binary('helm'), ['show', 'chart', paths.chartPackage]);
  return String((YAML.parse(r.stdout) as { version: string }).version);
}

/** The CRDs the Cilium chart and the clustermesh-apiserver need (crds/v2, crds/v2alpha1 of the pinned module). */
function ciliumCrdFiles(paths: LabPaths): string[] {
  const v = labCiliumVersion(paths.versions);
  const base = join(moduleDir('github.com/cilium/cilium', v, 'pkg/k8s/apis/cilium.io/client/crds/v2'), 'pkg/k8s/apis/cilium.io/client/crds');
  return ['v2', 'v2alpha1'].flatMap((d) => readdirSync(join(base, d)).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(base, d, f)));
}

async function createCluster(paths: LabPaths, cluster: LabCluster, stages: Record<string, unknown>[], log: (s: string) => void): Promise<void> {
  const kubeVersion = paths.versions.KUBE_VERSION ?? 'v1.33.13';
  const docs = kwokctlConfig({
    stages,
    cluster,
    bin: paths.binary,
    kubeVersion,
    shimsDir: paths.shims,
    kwokBinary: paths.kwokInNamespace,
    cacheDir: join(paths.state, 'kwok-cache'),
    agentEnv: {
      MESHFORM_LAB_CLUSTER: cluster.name,
      MESHFORM_LAB_KUBECONFIG: paths.kubeconfig,
      MESHFORM_LAB_STATE: paths.state,
    },
  });
  for (const [what, port] of Object.entries(componentPorts(cluster))) {
    if (await portOpen('127.0.0.1', port)) throw new Error(`${cluster.name}: 127.0.0.1:${port} (${what}) is already in use`);
  }
  const configFile = join(paths.kwokWorkdir, `${cluster.name}.yaml`);
  writeFileSync(configFile, docs.map((d) => YAML.stringify(d)).join('---\n'));
  const t0 = Date.now();
  await run(
    paths.binary('kwokctl'),
    ['create', 'cluster', '--name', cluster.name, '--config', configFile, '--runtime', 'binary', '--wait', '90s'],
    { env: kwokEnv(paths) },
  );
  log(`${cluster.name}: control plane up (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

/** One kubeconfig, one context per cluster named after it, from kwokctl's per-cluster files. */
function writeKubeconfig(paths: LabPaths, clusters: LabCluster[]): Map<string, string> {
  const merged = { apiVersion: 'v1', kind: 'Config', clusters: [] as unknown[], users: [] as unknown[], contexts: [] as unknown[], 'current-context': clusters[0]!.name, preferences: {} };
  const servers = new Map<string, string>();
  for (const c of clusters) {
    const kc = YAML.parse(readFileSync(join(clusterWorkdir(paths, c.name), 'kubeconfig.yaml'), 'utf8')) as {
      clusters: { cluster: Record<string, unknown> }[];
      users: { user: Record<string, unknown> }[];
    };
    const cluster = kc.clusters[0]!.cluster;
    servers.set(c.name, String(cluster.server));
    merged.clusters.push({ name: c.name, cluster });
    merged.users.push({ name: `admin@${c.name}`, user: kc.users[0]!.user });
    merged.contexts.push({ name: c.name, context: { cluster: c.name, user: `admin@${c.name}` } });
  }
  writeFileSync(paths.kubeconfig, YAML.stringify(merged), { mode: 0o600 });
  return servers;
}

/** A kubeconfig with only this cluster's admin context, for its helm-controller. */
function writeClusterKubeconfig(paths: LabPaths, cluster: string): string {
  const kc = YAML.parse(readFileSync(paths.kubeconfig, 'utf8')) as { clusters: { name: string }[]; users: { name: string }[]; contexts: { name: string; context: { user: string } }[] };
  const context = kc.contexts.find((c) => c.name === cluster)!;
  const dir = join(paths.helmJobs, cluster);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'kubeconfig');
  writeFileSync(file, YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: kc.clusters.filter((c) => c.name === cluster),
    users: kc.users.filter((u) => u.name === context.context.user),
    contexts: [context],
    'current-context': cluster,
  }), { mode: 0o600 });
  return file;
}

/** Starts RKE2's helm-controller for one cluster (it installs its CRDs, takes lease kube-system/helm-controller-lock). */
function startHelmController(paths: LabPaths, cluster: string): number {
  if (!existsSync(paths.helmController)) throw new Error(`missing ${paths.helmController}: run bash lab/build.sh`);
  const kubeconfig = writeClusterKubeconfig(paths, cluster);
  return spawnDetached(paths.helmController, ['--kubeconfig', kubeconfig, '--namespace', 'kube-system'], join(paths.helmJobs, cluster, 'helm-controller.log'));
}

async function shapeCluster(paths: LabPaths, cluster: LabCluster, chart: { version: string; content: string }, log: (s: string) => void): Promise<void> {
  const ctx = cluster.name;
  const kubeVersion = paths.versions.KUBE_VERSION ?? 'v1.33.13';
  const t0 = Date.now();
  await kubectl(paths, ctx, ['apply', '--server-side', '--field-manager=rke2', ...ciliumCrdFiles(paths).flatMap((f) => ['-f', f])]);
  const nodes = cluster.nodes.map((n) => nodeManifest(n, kubeVersion));
  await kubectl(paths, ctx, ['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: nodes }));
  // Node status given at create is kept by the API server, but make it certain: the InternalIPs
  // and capacity are what everything else relies on.
  await eachLimit(nodes, 8, async (n) => {
    const meta = n.metadata as { name: string };
    await kubectl(paths, ctx, ['patch', 'node', meta.name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: n.status })]);
  });
  // What the agents and the operator would write, which cannot run here: a CiliumNode per node.
  await kubectl(paths, ctx, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/ciliumnodes.cilium.io']);
  await kubectl(paths, ctx, ['apply', '--server-side', '--field-manager=cilium-agent', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: cluster.nodes.map(ciliumNodeManifest) }));
  // helm-controller installs its own CRDs at start.
  await waitFor(`${ctx}: helm-controller's CRDs`, 60_000, async () => {
    const r = await run(paths.binary('kubectl'), ['--kubeconfig', paths.kubeconfig, '--context', ctx, 'wait', '--for=condition=Established', '--timeout=5s', 'crd/helmcharts.helm.cattle.io', 'crd/helmchartconfigs.helm.cattle.io'], { allowFail: true });
    return r.code === 0 ? true : undefined;
  });
  // Server-side: client-side apply would copy the 250 KB chartContent into the last-applied annotation.
  await kubectl(paths, ctx, ['apply', '--server-side', '--field-manager=rke2', '-f', '-'], JSON.stringify(helmChartManifest(cluster, chart.version, chart.content, defaultCiliumVersion())));
  await kubectl(paths, ctx, ['wait', '--for=condition=Ready', 'node', '--all', '--timeout=60s']);
  await waitFor(`${ctx}: job helm-install-rke2-cilium to complete`, 180_000, async () => {
    const r = await run(paths.binary('kubectl'), ['--kubeconfig', paths.kubeconfig, '--context', ctx, 'get', 'job', 'helm-install-rke2-cilium', '-n', 'kube-system', '-o', 'jsonpath={.status.succeeded}'], { allowFail: true });
    return r.code === 0 && Number(r.stdout) >= 1 ? true : undefined;
  });
  await kubectl(paths, ctx, ['rollout', 'status', 'ds/cilium', '-n', 'kube-system', '--timeout=90s']);
  log(`${cluster.name}: RKE2 shape ready (${nodes.length} nodes, helm release rke2-cilium ${chart.version} by helm-controller, ds/cilium rolled out; ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function eachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/** The read-only kubeconfig context of a lab cluster: `<cluster>-viewer`. */
export function viewerContext(cluster: string): string {
  return `${cluster}-viewer`;
}

const VIEWER_USER = 'meshform-lab-viewer';

/**
 * What the viewer may do: get/list/watch what meshform reads, except Secrets; no writes and no
 * pods/exec. The API servers run with `--authorization-mode=Node,RBAC` (kwokctl's kubeAuthorization).
 */
function viewerRbac(): Record<string, unknown> {
  const read = ['get', 'list', 'watch'];
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: VIEWER_USER },
        rules: [
          { apiGroups: [''], resources: ['nodes', 'namespaces', 'configmaps', 'services', 'endpoints', 'pods', 'serviceaccounts', 'events'], verbs: read },
          { apiGroups: ['apps'], resources: ['daemonsets', 'deployments', 'replicasets'], verbs: read },
          { apiGroups: ['helm.cattle.io'], resources: ['helmcharts', 'helmchartconfigs'], verbs: read },
          { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: read },
        ],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: VIEWER_USER },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: VIEWER_USER },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: VIEWER_USER }],
      },
    ],
  };
}

/**
 * Binds the viewer ClusterRole and signs a client certificate for it with the cluster's own CA
 * (kwokctl's pki); returns the kubeconfig user and context `<cluster>-viewer` to add.
 */
async function viewerEntries(paths: LabPaths, cluster: string): Promise<{ user: unknown; context: unknown }> {
  await kubectl(paths, cluster, ['apply', '--server-side', '--field-manager=meshform-lab', '-f', '-'], JSON.stringify(viewerRbac()));
  const pki = join(clusterWorkdir(paths, cluster), 'pki');
  const key = join(pki, 'viewer.key');
  const csr = join(pki, 'viewer.csr');
  const crt = join(pki, 'viewer.crt');
  await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-subj', `/CN=${VIEWER_USER}`, '-out', csr]);
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', join(pki, 'ca.crt'), '-CAkey', join(pki, 'ca.key'), '-CAcreateserial', '-days', '30', '-out', crt]);
  return {
    user: { name: `viewer@${cluster}`, user: { 'client-certificate-data': readFileSync(crt).toString('base64'), 'client-key-data': readFileSync(key).toString('base64') } },
    context: { name: viewerContext(cluster), context: { cluster, user: `viewer@${cluster}` } },
  };
}

/** Adds the viewer users and contexts to the lab kubeconfig (one write). */
async function addViewers(paths: LabPaths, clusters: LabCluster[], log: (s: string) => void): Promise<void> {
  const entries = await Promise.all(clusters.map((c) => viewerEntries(paths, c.name)));
  const kc = YAML.parse(readFileSync(paths.kubeconfig, 'utf8')) as { users: unknown[]; contexts: unknown[] };
  for (const e of entries) {
    kc.users.push(e.user);
    kc.contexts.push(e.context);
  }
  writeFileSync(paths.kubeconfig, YAML.stringify(kc), { mode: 0o600 });
  log(`read-only contexts: ${clusters.map((c) => viewerContext(c.name)).join(' ')}`);
}

function componentPids(paths: LabPaths, name: string): number[] {
  const dir = join(clusterWorkdir(paths, name), 'pids');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.pid'))
    .map((f) => Number(readFileSync(join(dir, f), 'utf8').trim()))
    .filter((p) => Number.isInteger(p) && p > 0);
}

function recordedPorts(paths: LabPaths, name: string): number[] {
  const file = join(clusterWorkdir(paths, name), 'kwok.yaml');
  if (!existsSync(file)) return [];
  const ports: number[] = [];
  for (const doc of YAML.parseAllDocuments(readFileSync(file, 'utf8'))) {
    const o = doc.toJS() as { kind?: string; options?: Record<string, unknown> };
    if (o?.kind !== 'KwokctlConfiguration' || !o.options) continue;
    for (const [k, v] of Object.entries(o.options)) if (/Port$/.test(k) && typeof v === 'number' && v > 0) ports.push(v);
  }
  return ports;
}

/** Options of `up`. */
export interface UpOptions {
  /** Workers per cluster (default 2); every cluster also has 2 control-plane nodes. */
  workers?: number;
}

/**
 * Brings up `count` clusters of 2 control-plane nodes and `opts.workers` workers each (a cilium
 * agent pod on every node); returns the state recorded in `.lab/lab.json`.
 */
export async function up(count: number, log: (s: string) => void = () => undefined, opts: UpOptions = {}): Promise<LabState> {
  const paths = labPaths();
  const workerCount = opts.workers ?? DEFAULT_WORKERS;
  const clusters = labTopology(count, workerCount);
  assertNotInUse(paths, 'up');
  const existing = readState(paths);
  if (existing) throw new Error(`the lab is already up (${existing.clusters.map((c) => c.name).join(', ')}): run \`npm run lab -- down\` first`);
  const clustersDir = join(paths.kwokWorkdir, 'clusters');
  if (existsSync(clustersDir) && readdirSync(clustersDir).length > 0) {
    throw new Error(`${clustersDir} is not empty: another \`lab up\` is running or a run died; \`npm run lab -- down\` cleans up`);
  }
  // Only one `up` at a time: a second one must not touch the first one's clusters (nor tear them down).
  mkdirSync(paths.state, { recursive: true });
  const upLock = join(paths.state, 'up.lock');
  try {
    writeFileSync(upLock, String(process.pid), { flag: 'wx' });
  } catch {
    const holder = Number(readFileSync(upLock, 'utf8').trim());
    if (isAlive(holder)) throw new Error(`another \`lab up\` is running (pid ${holder})`);
    writeFileSync(upLock, String(process.pid));
  }
  try {
    return await upLocked(paths, clusters, log);
  } finally {
    rmSync(upLock, { force: true });
  }
}

/** Whether `pid` is this process or one of its ancestors (a suite running `lab down` as a child). */
function isAncestor(pid: number): boolean {
  let p = process.pid;
  for (let i = 0; i < 32 && p > 1; i++) {
    if (p === pid) return true;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      return false;
    }
  }
  return false;
}

/** Refuses `up`/`down` while a test suite that is not our caller holds the lab (see lockLab). */
function assertNotInUse(paths: LabPaths, what: string): void {
  const file = join(paths.state, 'suite.lock');
  if (!existsSync(file)) return;
  try {
    const holder = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; owner: string };
    if (isAlive(holder.pid) && !isAncestor(holder.pid) && process.env.MESHFORM_LAB_FORCE !== '1') {
      throw new Error(`the lab is in use by ${holder.owner} (pid ${holder.pid}); \`${what}\` refused (MESHFORM_LAB_FORCE=1 overrides)`);
    }
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('the lab is in use')) throw err;
  }
}

async function upLocked(paths: LabPaths, clusters: LabCluster[], log: (s: string) => void): Promise<LabState> {
  const t0 = Date.now();
  await ensureBinaries(paths, log);
  mkdirSync(paths.kwokWorkdir, { recursive: true });
  mkdirSync(paths.endpoints, { recursive: true });
  writeShims(paths);
  const workerCount = clusters[0]!.nodes.filter((n) => !n.controlPlane).length;
  const state: LabState = {
    clusters: [],
    ...(workerCount !== DEFAULT_WORKERS ? { workers: workerCount } : {}),
    kubeconfig: paths.kubeconfig,
    startedAt: new Date().toISOString(),
  };
  try {
    // Control planes in parallel: they are independent and most of the time is process start-up.
    const stages = kwokStages(paths);
    const chartReady = packageChart(paths);
    const created = await Promise.allSettled(clusters.map((c) => createCluster(paths, c, stages, log)));
    for (const c of clusters) {
      state.clusters.push({ name: c.name, workdir: clusterWorkdir(paths, c.name), apiserver: '', pids: componentPids(paths, c.name), ports: recordedPorts(paths, c.name) });
    }
    writeState(paths, state);
    const failed = created.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) throw failed.reason;
    const servers = writeKubeconfig(paths, clusters);
    for (const c of state.clusters) c.apiserver = servers.get(c.name) ?? '';
    for (const c of state.clusters) c.helmControllerPid = startHelmController(paths, c.name);
    writeState(paths, state);
    if (!existsSync(paths.jobRunnerEntry)) throw new Error(`missing ${paths.jobRunnerEntry}: run npx tsc -p . first`);
    state.jobRunnerPid = spawnDetached(process.execPath, [paths.jobRunnerEntry], join(paths.helmJobs, 'runner.log'), { ...process.env, MESHFORM_LAB_STATE: paths.state });
    writeState(paths, state);
    const version = await chartReady;
    const chart = { version, content: readFileSync(paths.chartPackage).toString('base64') };
    await Promise.all(clusters.map((c) => shapeCluster(paths, c, chart, log)));
    await addViewers(paths, clusters, log);
    if (!existsSync(paths.daemonEntry)) throw new Error(`missing ${paths.daemonEntry}: run npx tsc -p . first`);
    state.daemonPid = spawnDetached(process.execPath, [paths.daemonEntry], paths.daemonLog, { ...process.env, MESHFORM_LAB_STATE: paths.state });
    writeState(paths, state);
    await waitFor('the endpoints daemon to report', 20000, async () => {
      if (!isAlive(state.daemonPid!)) throw new Error(`endpoints daemon exited; see ${paths.daemonLog}`);
      return existsSync(join(paths.endpoints, 'status.json')) ? true : undefined;
    });
  } catch (err) {
    log(`up failed, tearing down: ${err instanceof Error ? err.message : String(err)}`);
    await down(() => undefined, { internal: true }).catch(() => undefined);
    throw err;
  }
  log(`lab up: ${clusters.length} clusters in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return state;
}

/** Stops every process the lab started (by pid), deletes the clusters and checks the ports are free. */
export async function down(log: (s: string) => void, opts: { internal?: boolean } = {}): Promise<{ leftover: string[] }> {
  const paths = labPaths();
  if (!opts.internal) assertNotInUse(paths, 'down');
  const upLock = join(paths.state, 'up.lock');
  if (!opts.internal && existsSync(upLock)) {
    const holder = Number(readFileSync(upLock, 'utf8').trim());
    if (isAlive(holder)) throw new Error(`\`lab up\` is running (pid ${holder}); \`down\` refused`);
  }
  const state = readState(paths);
  const leftover: string[] = [];
  if (!state && !existsSync(paths.kwokWorkdir)) {
    log('lab is not up');
    return { leftover };
  }
  // The daemon first, so it does not restart endpoints while they are being stopped.
  if (state?.daemonPid) await stopPid(state.daemonPid);
  if (state?.jobRunnerPid) await stopPid(state.jobRunnerPid);
  for (const c of state?.clusters ?? []) if (c.helmControllerPid) await stopPid(c.helmControllerPid);
  for (const pid of endpointPids(paths)) await stopPid(pid);
  const names = new Set(state?.clusters.map((c) => c.name) ?? []);
  const clustersDir = join(paths.kwokWorkdir, 'clusters');
  if (existsSync(clustersDir)) for (const n of readdirSync(clustersDir)) names.add(n);
  const ports: number[] = [];
  for (const name of names) {
    const pids = new Set([...(state?.clusters.find((c) => c.name === name)?.pids ?? []), ...componentPids(paths, name)]);
    ports.push(...recordedPorts(paths, name), ...(state?.clusters.find((c) => c.name === name)?.ports ?? []));
    await run(paths.binary('kwokctl'), ['delete', 'cluster', '--name', name], { env: kwokEnv(paths), allowFail: true });
    for (const pid of pids) await stopPid(pid);
    for (const pid of pids) if (isAlive(pid)) leftover.push(`${name}: pid ${pid} still running`);
    const hc = state?.clusters.find((c) => c.name === name)?.helmControllerPid;
    if (hc && isAlive(hc)) leftover.push(`${name}: helm-controller pid ${hc} still running`);
    log(`${name}: deleted`);
  }
  // A process that has just exited may hold its sockets for a moment while its threads unwind.
  for (const port of new Set(ports)) {
    const deadline = Date.now() + 10_000;
    let open = await portOpen('127.0.0.1', port);
    while (open && Date.now() < deadline) {
      await sleep(200);
      open = await portOpen('127.0.0.1', port);
    }
    if (open) leftover.push(`port 127.0.0.1:${port} still open`);
  }
  for (const f of [paths.stateFile, paths.kubeconfig, join(paths.state, 'kwokctl-kubeconfig')]) rmSync(f, { force: true });
  rmSync(paths.kwokWorkdir, { recursive: true, force: true });
  rmSync(paths.endpoints, { recursive: true, force: true });
  rmSync(join(paths.state, 'agent'), { recursive: true, force: true });
  rmSync(paths.helmJobs, { recursive: true, force: true });
  rmSync(join(paths.state, 'charts'), { recursive: true, force: true });
  return { leftover };
}

/**
 * Pids of the clustermesh chain processes recorded by the daemon (endpoints/<cluster>/<name>.pid:
 * etcd, clustermesh, kvstoremesh), kvstoremesh first so that nothing dials an etcd being stopped.
 */
export function endpointPids(paths: LabPaths): number[] {
  if (!existsSync(paths.endpoints)) return [];
  const out: number[] = [];
  for (const d of readdirSync(paths.endpoints, { withFileTypes: true })) {
    if (!d.isDirectory()) continue;
    for (const name of ['kvstoremesh', 'clustermesh', 'etcd']) {
      const f = join(paths.endpoints, d.name, `${name}.pid`);
      if (!existsSync(f)) continue;
      const pid = Number(readFileSync(f, 'utf8').trim());
      if (pid > 0) out.push(pid);
    }
  }
  return out;
}

/** What the endpoints daemon reports in `.lab/endpoints/status.json`. */
export interface EndpointsReport {
  generation: number;
  clusters: Record<string, {
    state: string;
    listen: string[];
    error?: string;
    readError?: string;
    fingerprint: string;
    version?: string;
    kvstoremeshFor?: 'deployment' | 'agents';
    kvstoremeshApi?: string;
    components?: Record<string, { state: string; pid?: number; error?: string }>;
  }>;
}

export function readEndpoints(): EndpointsReport | undefined {
  const f = join(labPaths().endpoints, 'status.json');
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as EndpointsReport) : undefined;
}

/** Waits until the endpoints daemon has run two full passes since now (so it saw current state). */
export async function syncEndpoints(timeoutMs = 30000): Promise<EndpointsReport> {
  const start = readEndpoints()?.generation ?? 0;
  return waitFor('the endpoints daemon to re-sync', timeoutMs, async () => {
    const r = readEndpoints();
    return r && r.generation >= start + 2 ? r : undefined;
  });
}


/**
 * Takes the lab for one test suite: suites change the clusters' releases (and the lab suite takes
 * the lab down at its end), so two at once would see each other's changes. Waits while another
 * live process holds `.lab/suite.lock`; a lock whose holder died is taken over. Returns the release.
 */
export async function lockLab(owner: string, timeoutMs = 15 * 60_000): Promise<() => void> {
  const paths = labPaths();
  const file = join(paths.state, 'suite.lock');
  mkdirSync(paths.state, { recursive: true });
  await waitFor(`the lab lock (${file})`, timeoutMs, async () => {
    try {
      writeFileSync(file, JSON.stringify({ pid: process.pid, owner, at: new Date().toISOString() }), { flag: 'wx' });
      return true;
    } catch {
      try {
        const holder = JSON.parse(readFileSync(file, 'utf8')) as { pid: number };
        if (!isAlive(holder.pid)) rmSync(file, { force: true });
      } catch {
        rmSync(file, { force: true });
      }
      return undefined;
    }
  });
  return () => {
    try {
      const holder = JSON.parse(readFileSync(file, 'utf8')) as { pid: number };
      if (holder.pid === process.pid) rmSync(file, { force: true });
    } catch {
      // already released
    }
  };
}

/** The topology of the running lab (cluster count and workers from `.lab/lab.json`). */
export function runningTopology(paths: LabPaths = labPaths()): LabCluster[] {
  const state = readState(paths);
  if (!state) throw new Error(`the lab is not up (no ${paths.stateFile}): run \`npm run lab -- up\` first`);
  return labTopology(state.clusters.length, state.workers ?? DEFAULT_WORKERS);
}

function requireCluster(paths: LabPaths, cluster: string): LabState {
  const state = readState(paths);
  if (!state) throw new Error(`the lab is not up (no ${paths.stateFile})`);
  if (!state.clusters.some((c) => c.name === cluster)) {
    throw new Error(`no lab cluster ${cluster} (the lab has ${state.clusters.map((c) => c.name).join(', ')})`);
  }
  return state;
}

/**
 * Makes every exec into `cluster`'s agent pods hang (`hang: true`: the exec never answers, as an
 * agent that is stuck) or answer again (`false`; held execs are then answered). The switch is the
 * file `.lab/agent/hang/<cluster>`, read by the daemon on every exec.
 */
export function setAgentHang(cluster: string, hang: boolean): void {
  const paths = labPaths();
  requireCluster(paths, cluster);
  const file = hangFile(paths.state, cluster);
  if (hang) {
    mkdirSync(join(paths.state, 'agent', 'hang'), { recursive: true });
    writeFileSync(file, new Date().toISOString() + '\n');
  } else rmSync(file, { force: true });
}

/** Whether `cluster`'s agents are switched to hang. */
export function agentHangs(cluster: string): boolean {
  return existsSync(hangFile(labPaths().state, cluster));
}

/**
 * Stops one cluster's control plane (`kwokctl stop cluster`: etcd, kube-apiserver, controllers, kwok),
 * keeping all its state: its API becomes unreachable (connection refused). Its clustermesh endpoint
 * keeps serving, as clustermesh-apiserver pods keep running while the API server is down.
 * Resolves once every component process is gone and the API port is closed.
 */
export async function stopCluster(cluster: string, log: (s: string) => void = () => undefined): Promise<void> {
  const paths = labPaths();
  assertNotInUse(paths, `stop ${cluster}`);
  const state = requireCluster(paths, cluster);
  const c = state.clusters.find((x) => x.name === cluster)!;
  const t0 = Date.now();
  const pids = new Set([...c.pids, ...componentPids(paths, cluster)]);
  // helm-controller runs inside RKE2's server process: it goes with the API server.
  if (c.helmControllerPid) await stopPid(c.helmControllerPid);
  await run(paths.binary('kwokctl'), ['stop', 'cluster', '--name', cluster], { env: kwokEnv(paths), timeoutMs: 60_000 });
  for (const pid of pids) await stopPid(pid);
  const api = new URL(c.apiserver);
  await waitFor(`${cluster}'s API port to close`, 15_000, async () => ((await portOpen(api.hostname, Number(api.port))) ? undefined : true));
  log(`${cluster}: stopped (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

/**
 * Starts a cluster stopped by `stopCluster` again (`kwokctl start cluster`) with all its state, and
 * resolves once its API server answers `/readyz`; `.lab/lab.json` records the new pids.
 */
export async function startCluster(cluster: string, log: (s: string) => void = () => undefined): Promise<void> {
  const paths = labPaths();
  assertNotInUse(paths, `start ${cluster}`);
  requireCluster(paths, cluster);
  const t0 = Date.now();
  await run(paths.binary('kwokctl'), ['start', 'cluster', '--name', cluster], { env: kwokEnv(paths), timeoutMs: 120_000 });
  await waitFor(`${cluster}'s API server to be ready`, 60_000, async () => {
    const r = await run(paths.binary('kubectl'), ['--kubeconfig', paths.kubeconfig, '--context', cluster, 'get', '--raw', '/readyz'], { allowFail: true, timeoutMs: 10_000 });
    return r.code === 0 ? true : undefined;
  });
  // The new kwok ignores new pods on nodes whose old leases it does not hold until they expire
  // (nodeLeaseDurationSeconds, 200 s): drop them so it takes the nodes over at once.
  await run(paths.binary('kubectl'), ['--kubeconfig', paths.kubeconfig, '--context', cluster, 'delete', 'lease', '--all', '-n', 'kube-node-lease', '--wait=false'], { timeoutMs: 30_000 });
  // Re-read: the daemon does not write lab.json, but another switch might have.
  const state = readState(paths)!;
  const c = state.clusters.find((x) => x.name === cluster)!;
  c.pids = componentPids(paths, cluster);
  c.helmControllerPid = startHelmController(paths, cluster);
  writeState(paths, state);
  log(`${cluster}: started (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

/** Whether every control-plane process of `cluster` runs (its helm-controller included). */
export function clusterRunning(cluster: string): boolean {
  const paths = labPaths();
  const pids = componentPids(paths, cluster);
  const hc = readState(paths)?.clusters.find((c) => c.name === cluster)?.helmControllerPid;
  return pids.length > 0 && pids.every(isAlive) && hc !== undefined && isAlive(hc);
}
