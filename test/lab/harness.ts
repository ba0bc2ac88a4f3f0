/**
 * Shared helpers of the lab integration suite. They fail loudly when the lab is not up: an
 * integration test that silently skips proves nothing.
 */
import { existsSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { lockLab, readState, runningTopology, syncEndpoints, type LabState } from '../../lab/src/lab.js';
import { labPaths } from '../../lab/src/paths.js';
import { run, sleep } from '../../lab/src/proc.js';
import { defaultCiliumVersion } from '../../lab/src/realmesh.js';
import { initialValues } from '../../lab/src/shape.js';
import { workers, type LabCluster } from '../../lab/src/topology.js';
import { clusterCerts, type TestCa } from './certs.js';

export const paths = labPaths();

/**
 * Takes the lab's suite lock for `owner` (suites share one set of clusters), unless a wrapper named in
 * MESHFORM_LAB_LOCK_PID already holds it for this run. Returns the release (a no-op in that case).
 */
export async function holdLab(owner: string): Promise<() => void> {
  const holder = process.env['MESHFORM_LAB_LOCK_PID'];
  const lockFile = join(paths.state, 'suite.lock');
  const held = holder !== undefined && existsSync(lockFile) && String((JSON.parse(readFileSync(lockFile, 'utf8')) as { pid: number }).pid) === holder;
  return held ? () => undefined : lockLab(owner);
}

/** The running lab's state, or an error that says how to start it. */
export function requireLab(min = 2): { state: LabState; clusters: LabCluster[] } {
  const state = readState(paths);
  if (!state) throw new Error(`the lab is not up (no ${paths.stateFile}): run \`npm run lab -- up\` first`);
  if (state.clusters.length < min) throw new Error(`the lab runs ${state.clusters.length} clusters; this suite needs ${min}`);
  return { state, clusters: runningTopology(paths) };
}

export async function kubectl(context: string, args: string[], input?: string): Promise<string> {
  const r = await run(paths.binary('kubectl'), ['--kubeconfig', paths.kubeconfig, '--context', context, ...args], { input, timeoutMs: 120_000 });
  return r.stdout;
}

export async function helm(context: string, args: string[]): Promise<string> {
  const r = await run(paths.binary('helm'), ['--kubeconfig', paths.kubeconfig, '--kube-context', context, ...args], { timeoutMs: 120_000 });
  return r.stdout;
}

/** The newest revision of the rke2-cilium Helm release on a cluster (0 without one). */
export async function helmRevision(cluster: string): Promise<number> {
  const names = await kubectl(cluster, ['get', 'secret', '-n', 'kube-system', '-l', 'owner=helm,name=rke2-cilium', '-o', 'name']);
  return Math.max(0, ...[...names.matchAll(/\.v(\d+)$/gm)].map((m) => Number(m[1])));
}

/** The newest revision of the rke2-cilium release that helm finished (status deployed); 0 when none. */
export async function deployedHelmRevision(cluster: string): Promise<number> {
  const names = await kubectl(cluster, ['get', 'secret', '-n', 'kube-system', '-l', 'owner=helm,name=rke2-cilium,status=deployed', '-o', 'name']);
  return Math.max(0, ...[...names.matchAll(/\.v(\d+)$/gm)].map((m) => Number(m[1])));
}

/**
 * Waits until RKE2's helm-controller installed a revision after `before` and helm finished it
 * (status deployed: helm writes the revision as pending-upgrade before it creates the release's
 * objects, so a revision alone does not mean the Deployments exist yet); fails after `timeoutMs`.
 */
export async function waitHelmRevision(cluster: string, before: number, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await deployedHelmRevision(cluster)) <= before) {
    if (Date.now() >= deadline) {
      const all = await kubectl(cluster, ['get', 'secret', '-n', 'kube-system', '-l', 'owner=helm,name=rke2-cilium', '-o', 'jsonpath={range .items[*]}{.metadata.labels.version}={.metadata.labels.status} {end}']);
      throw new Error(`${cluster}: the helm-controller deployed no new revision after ${before} within ${timeoutMs / 1000} s (revisions: ${all.trim() || 'none'})`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** NodePort of each lab cluster's clustermesh endpoint: distinct per cluster, as Cilium ≤ 1.18 needs. */
export function nodePortOf(c: LabCluster): number {
  return 32378 + c.index;
}

export interface MeshOptions {
  /** Peers to leave out of this cluster's list (to model a one-sided declaration). */
  omit?: string[];
  authMode?: 'cluster' | 'legacy' | 'migration';
  /** clustermesh.config.domain; the certificates always cover *.mesh.cilium.io only. */
  domain?: string;
  /** Port this cluster dials for a peer (to model a wrong port). */
  portOverride?: Record<string, number>;
  /** IPs this cluster dials for a peer (default: the peer's workers). */
  ipsOverride?: Record<string, string[]>;
  /** This cluster's own clustermesh-apiserver NodePort (default nodePortOf). */
  nodePort?: number;
  /** Peers' NodePorts as this cluster dials them (default nodePortOf each). */
  peerNodePort?: (peer: LabCluster) => number;
  /** Top-level chart values to add (kubeProxyReplacement, image, …). */
  extra?: Record<string, unknown>;
  /**
   * clustermesh.apiserver.kvstoremesh.enabled (default false). The real 1.18 chart enables KVStoreMesh
   * by default, and then its agents need `clustermesh-apiserver-local-cert`, which these values do not give.
   */
  kvstoremesh?: boolean;
}

/** Values in the form meshform renders with provided certificates (KVStoreMesh off unless asked). */
export async function meshValues(c: LabCluster, all: LabCluster[], ca: TestCa, o: MeshOptions = {}): Promise<Record<string, unknown>> {
  const certs = await clusterCerts(ca, c.name);
  const peers = all
    .filter((p) => p.name !== c.name && !(o.omit ?? []).includes(p.name))
    .map((p) => ({ name: p.name, port: o.portOverride?.[p.name] ?? (o.peerNodePort ?? nodePortOf)(p), ips: o.ipsOverride?.[p.name] ?? workers(p).map((n) => n.ip) }));
  return {
    ...initialValues(c, defaultCiliumVersion()),
    ...(o.extra ?? {}),
    cluster: { name: c.name, id: c.index },
    tls: { ca: certs.ca },
    clustermesh: {
      useAPIServer: true,
      maxConnectedClusters: 255,
      config: { enabled: true, domain: o.domain ?? 'mesh.cilium.io', clusters: peers },
      apiserver: {
        replicas: 2,
        kvstoremesh: { enabled: o.kvstoremesh ?? false },
        service: { type: 'NodePort', nodePort: o.nodePort ?? nodePortOf(c) },
        tls: {
          authMode: o.authMode ?? 'cluster',
          auto: { enabled: false },
          server: { cert: certs.server.cert, key: certs.server.key, extraDnsNames: [`${c.name}.mesh.cilium.io`] },
          admin: certs.admin,
          remote: certs.remote,
        },
      },
    },
  };
}

const valuesDir = mkdtempSync(join(tmpdir(), 'meshform-lab-test-'));

/** `helm upgrade rke2-cilium` with these values, like the seed's step 3, then waits for the rollout. */
export async function helmUpgrade(c: LabCluster, values: Record<string, unknown>): Promise<void> {
  const file = join(valuesDir, `${c.name}.yaml`);
  writeFileSync(file, YAML.stringify(values), { mode: 0o600 });
  await helm(c.name, ['upgrade', 'rke2-cilium', paths.chartPackage, '-n', 'kube-system', '-f', file, '--wait', '--timeout', '90s']);
  await kubectl(c.name, ['rollout', 'status', 'ds/cilium', '-n', 'kube-system', '--timeout=90s']);
}

export interface AgentStatus {
  'cluster-mesh'?: { clusters: { name: string; ready: boolean; connected: boolean; status: string; 'num-failures': number; config: { required: boolean; retrieved: boolean }; synced: Record<string, boolean> }[] };
}

/** `cilium-dbg status -o json` in the cluster's agent DaemonSet, through kubectl exec. */
export async function agentStatus(context: string): Promise<AgentStatus> {
  const out = await kubectl(context, ['exec', 'ds/cilium', '-n', 'kube-system', '-c', 'cilium-agent', '--', 'cilium-dbg', 'status', '-o', 'json']);
  return JSON.parse(out) as AgentStatus;
}

/** Polls the agent until `pred` holds for its view of `peer`; returns the last view either way. */
export async function waitPeer(
  context: string,
  peer: string,
  pred: (c: NonNullable<AgentStatus['cluster-mesh']>['clusters'][number]) => boolean,
  timeoutMs = 45_000,
) {
  await syncEndpoints();
  const deadline = Date.now() + timeoutMs;
  let last: NonNullable<AgentStatus['cluster-mesh']>['clusters'][number] | undefined;
  while (Date.now() < deadline) {
    const s = await agentStatus(context);
    last = s['cluster-mesh']?.clusters.find((c) => c.name === peer);
    if (last && pred(last)) return last;
    await sleep(1000);
  }
  return last;
}

/**
 * `cilium-dbg troubleshoot clustermesh` in the cluster's agent DaemonSet (the real kvstoremesh-dbg
 * troubleshoot output): stdout and stderr, whatever the exit code.
 */
export async function troubleshoot(context: string): Promise<string> {
  const r = await run(paths.binary('kubectl'), ['--kubeconfig', paths.kubeconfig, '--context', context, 'exec', 'ds/cilium', '-n', 'kube-system', '-c', 'cilium-agent', '--', 'cilium-dbg', 'troubleshoot', 'clustermesh'], { allowFail: true, timeoutMs: 120_000 });
  return r.stdout + r.stderr;
}
