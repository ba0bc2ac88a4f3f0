// In-memory RKE2 clusters for running the live commands in-process (through `main` and a
// Connector): nodes, RKE2's HelmChart, a Helm release, cilium-config, ready agents; and, as RKE2's
// helm-controller and the chart would, a new deployed release revision with the HelmChartConfig's
// values (cluster name and ID into cilium-config) each time the HelmChartConfig changes.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parse, stringify } from 'yaml';
import type { Io } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import type { ApplyOptions as ClientApplyOptions, KubeObject } from '../../src/kube/client.js';
import { FakeClusterClient, fakeConnector, node } from '../kube/fake-client.js';

export interface WorldCluster {
  name: string;
  id: number;
  /** Second octet of its node IPs: 127.<net>.0.11/12 servers, .21/.22 agents. */
  net: number;
  /** Peers the spec lists (default: full mesh). */
  peers?: string[];
}

export interface WorldOptions {
  release?: string;
  namespace?: string;
  clusters?: WorldCluster[];
}

export const ip = (net: number, host: number) => `127.${net}.0.${host}`;

function releaseSecret(release: string, namespace: string, revision: number, config: object): KubeObject {
  const rel = { name: release, namespace, version: revision, info: { status: 'deployed' }, chart: { metadata: { name: 'rke2-cilium', version: '1.15.500', appVersion: '1.15.5' } }, config };
  return {
    apiVersion: 'v1', kind: 'Secret', type: 'helm.sh/release.v1',
    metadata: { name: `sh.helm.release.v1.${release}.v${revision}`, namespace, labels: { owner: 'helm', name: release, status: 'deployed', version: String(revision) } },
    data: { release: Buffer.from(gzipSync(Buffer.from(JSON.stringify(rel))).toString('base64')).toString('base64') },
  };
}

/** A fake cluster whose HelmChartConfig changes are installed at once, as RKE2's helm-controller would. */
export class Rke2FakeCluster extends FakeClusterClient {
  revision = 1;
  constructor(readonly shape: WorldCluster, readonly release: string, readonly namespace: string, objects: KubeObject[]) {
    super(shape.name, objects);
  }

  override async apply(obj: KubeObject, opts: ClientApplyOptions = {}): Promise<KubeObject> {
    const before = this.peek('HelmChartConfig', this.release, 'kube-system')?.metadata.resourceVersion;
    const stored = await super.apply(obj, opts);
    if (!opts.dryRun && obj.kind === 'HelmChartConfig' && stored.metadata.resourceVersion !== before) this.install();
    return stored;
  }

  /** The helm-controller's job: a new revision with the HelmChartConfig's values; the chart's cilium-config. */
  install(): void {
    const text = (this.peek('HelmChartConfig', this.release, 'kube-system')?.['spec'] as { valuesContent?: string } | undefined)?.valuesContent ?? '';
    const values = (parse(text) ?? {}) as { cluster?: { name?: string; id?: number } };
    const old = this.peek('Secret', `sh.helm.release.v1.${this.release}.v${this.revision}`, this.namespace);
    if (old) this.put({ ...old, metadata: { ...old.metadata, labels: { ...old.metadata.labels, status: 'superseded' } } });
    this.revision++;
    this.put(releaseSecret(this.release, this.namespace, this.revision, values));
    const cm = this.peek('ConfigMap', 'cilium-config', this.namespace) as KubeObject;
    this.put({ ...cm, data: { ...(cm['data'] as object), 'cluster-name': values.cluster?.name ?? 'default', 'cluster-id': String(values.cluster?.id ?? 0) } });
  }
}

const DEFAULT_CLUSTERS: WorldCluster[] = [{ name: 'mesh01', id: 1, net: 1 }, { name: 'mesh02', id: 2, net: 2 }];

/** A spec folder (with a CA) and its clusters, not yet meshed (cluster-name default, ID 0). */
export async function world(o: WorldOptions = {}) {
  const release = o.release ?? 'rke2-cilium';
  const namespace = o.namespace ?? 'kube-system';
  const shapes = o.clusters ?? DEFAULT_CLUSTERS;
  const dir = await mkdtemp(join(tmpdir(), 'meshform-world-'));
  const spec = {
    apiVersion: 'meshform/v1alpha1', kind: 'Mesh', name: 'world',
    cilium: { version: '1.15.5', ...(o.release ? { release } : {}), ...(o.namespace ? { namespace } : {}) },
    ca: { cert: 'ca/ca.crt', key: 'ca/ca.key' },
    clusters: shapes.map((c) => ({
      name: c.name, id: c.id, context: c.name, rke2Version: 'v1.31.8+rke2r1', podCIDR: `10.${243 + c.net}.0.0/16`, serviceCIDR: `10.96.${(c.net - 1) * 64}.0/18`,
      endpoint: { nodePort: 32378 + c.net, ips: [ip(c.net, 21), ip(c.net, 22)] }, ...(c.peers ? { peers: c.peers } : {}),
    })),
  };
  const specFile = join(dir, 'mesh.yaml');
  await writeFile(specFile, stringify(spec));
  const clusters = new Map<string, Rke2FakeCluster>();
  for (const c of shapes) {
    const peers = shapes.filter((p) => p !== c && (c.peers ?? shapes.map((x) => x.name)).includes(p.name));
    const agent = JSON.stringify({ 'cluster-mesh': { clusters: peers.map((p) => ({ name: p.name, ready: true, connected: true, status: 'etcd: 1/1 connected', config: { required: true, retrieved: true }, synced: { nodes: true, endpoints: true, identities: true, services: true } })) } });
    const objs: KubeObject[] = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system', uid: `uid-${c.name}` } },
      node(`${c.name}-server-1`, ip(c.net, 11), ['control-plane', 'etcd', 'master']),
      node(`${c.name}-server-2`, ip(c.net, 12), ['control-plane', 'etcd', 'master']),
      node(`${c.name}-agent-1`, ip(c.net, 21)),
      node(`${c.name}-agent-2`, ip(c.net, 22)),
      { apiVersion: 'helm.cattle.io/v1', kind: 'HelmChart', metadata: { name: release, namespace: 'kube-system' },
        spec: { chart: 'rke2-cilium', version: '1.15.500', targetNamespace: namespace, set: { 'global.clusterCIDR': spec.clusters.find((x) => x.name === c.name)!.podCIDR, 'global.serviceCIDR': spec.clusters.find((x) => x.name === c.name)!.serviceCIDR } } },
      releaseSecret(release, namespace, 1, {}),
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cilium-config', namespace }, data: { 'cluster-name': 'default', 'cluster-id': '0', 'routing-mode': 'tunnel', 'tunnel-protocol': 'vxlan' } },
      { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'cilium', namespace, generation: 1 }, status: { observedGeneration: 1, desiredNumberScheduled: 4, updatedNumberScheduled: 4, numberAvailable: 4 } },
      ...[1, 2].map((n): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `cilium-${n}`, namespace, labels: { 'k8s-app': 'cilium' } }, spec: { nodeName: `${c.name}-agent-${n}`, containers: [{ name: 'cilium-agent' }] }, status: { phase: 'Running' } })),
    ];
    const client = new Rke2FakeCluster(c, release, namespace, objs);
    client.execHandler = (_ns, _pod, _container, cmd) =>
      cmd[0] === 'cilium-dbg' && cmd[1] === 'status' ? { stdout: agent, stderr: '', exitCode: 0 } : { stdout: '', stderr: `${cmd[0]}: not in this fake`, exitCode: 127 };
    clusters.set(c.name, client);
  }
  const connector = fakeConnector(clusters);
  /** Runs the CLI in-process against these clusters. */
  const run = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const io: Io = { out: (t) => void out.push(t), err: (t) => void err.push(t), now: () => new Date('2026-11-27T12:00:00Z'), cwd: dir, env: {} };
    const code = await main(args, io, { connector });
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  };
  const ca = await run('ca', 'init', '--spec', specFile);
  if (ca.code !== 0) throw new Error(`ca init: ${ca.stderr}`);
  return { dir, specFile, clusters, connector, run, release, namespace };
}
