/**
 * Proves the lab is real (issue 3): real API servers, real helm, real exec through kwok, real mTLS
 * against real etcds. Needs `npm run lab -- up` first; fails (never skips) when the lab is down.
 * The last test takes the lab down, checks nothing is left behind, and brings it up again for the
 * suites that run after this one.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { describe, it, before, after } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import YAML from 'yaml';
import { chartVersion, endpointPids, lockLab, readEndpoints } from '../../lab/src/lab.js';
import { isAlive, portOpen, run, waitFor } from '../../lab/src/proc.js';
import { workers, type LabCluster } from '../../lab/src/topology.js';
import { newCa } from './certs.js';
import { agentStatus, helm, helmUpgrade, kubectl, meshValues, nodePortOf, paths, requireLab, troubleshoot, waitPeer } from './harness.js';

function client(context: string) {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(paths.kubeconfig);
  kc.setCurrentContext(context);
  return kc;
}

interface HelmStatus {
  version: number;
  info: { status: string };
  config: Record<string, unknown>;
}

async function releaseStatus(context: string): Promise<HelmStatus> {
  return JSON.parse(await helm(context, ['status', 'rke2-cilium', '-n', 'kube-system', '-o', 'json'])) as HelmStatus;
}

/** Waits for the real helm-controller (its Job, run by the lab's job runner) to deploy a new revision after `before`. */
async function controllerRun(context: string, before: number): Promise<HelmStatus> {
  return waitFor('the helm-controller to install a new revision', 60_000, async () => {
    const st = await releaseStatus(context);
    return st.version > before && st.info.status === 'deployed' ? st : undefined;
  });
}

describe('lab', { concurrency: 1 }, () => {
  let clusters: LabCluster[];
  let a: LabCluster;
  let b: LabCluster;

  let release: () => void = () => undefined;

  before(async () => {
    requireLab(2);
    release = await lockLab('test/lab');
    ({ clusters } = requireLab(2));
    [a, b] = clusters as [LabCluster, LabCluster];
  });
  after(() => release());

  it('has the shape of RKE2 clusters: roles, InternalIPs, pod CIDRs, the rke2-cilium HelmChart', async () => {
    const seenIps = new Set<string>();
    for (const c of clusters) {
      const nodes = JSON.parse(await kubectl(c.name, ['get', 'nodes', '-o', 'json'])) as { items: k8s.V1Node[] };
      assert.equal(nodes.items.length, c.nodes.length, `${c.name} has ${c.nodes.length} nodes`);
      const servers = nodes.items.filter((n) => n.metadata?.labels?.['node-role.kubernetes.io/control-plane'] === 'true');
      assert.equal(servers.length, 2);
      for (const s of servers) {
        assert.equal(s.metadata?.labels?.['node-role.kubernetes.io/etcd'], 'true');
        assert.equal(s.metadata?.labels?.['node-role.kubernetes.io/master'], 'true');
        assert.ok(s.spec?.taints?.some((t) => t.effect === 'NoSchedule'));
      }
      for (const n of nodes.items) {
        const ip = n.status?.addresses?.find((x) => x.type === 'InternalIP')?.address ?? '';
        assert.match(ip, /^127\./);
        assert.ok(!seenIps.has(ip), `InternalIP ${ip} is unique`);
        seenIps.add(ip);
        assert.ok(n.spec?.podCIDRs?.[0]?.startsWith(c.clusterCIDR.split('.').slice(0, 2).join('.') + '.'), `${n.spec?.podCIDRs} in ${c.clusterCIDR}`);
        assert.equal(n.status?.conditions?.find((x) => x.type === 'Ready')?.status, 'True');
      }
      const hc = JSON.parse(await kubectl(c.name, ['get', 'helmchart', 'rke2-cilium', '-n', 'kube-system', '-o', 'json'])) as { spec: { set: Record<string, string> } };
      assert.equal(hc.spec.set['global.clusterCIDR'], c.clusterCIDR);
      assert.equal(hc.spec.set['global.serviceCIDR'], c.serviceCIDR);
    }
  });

  it('server-side applies a HelmChartConfig and reads it back with its field manager', async () => {
    const api = k8s.KubernetesObjectApi.makeApiClient(client(a.name));
    const before = (await releaseStatus(a.name)).version;
    // A value of this run makes the HelmChartConfig differ from whatever an earlier run left.
    const valuesContent = YAML.stringify({ cluster: { name: a.name, id: a.index }, labRun: new Date().toISOString() });
    const obj = {
      apiVersion: 'helm.cattle.io/v1',
      kind: 'HelmChartConfig',
      metadata: { name: 'rke2-cilium', namespace: 'kube-system' },
      spec: { valuesContent, failurePolicy: 'abort' },
    };
    await api.patch(obj, undefined, undefined, 'meshform-lab-test', true, k8s.PatchStrategy.ServerSideApply);
    const back = (await api.read({ apiVersion: 'helm.cattle.io/v1', kind: 'HelmChartConfig', metadata: { name: 'rke2-cilium', namespace: 'kube-system' } })) as typeof obj & { metadata: k8s.V1ObjectMeta };
    assert.equal(back.spec.valuesContent, valuesContent);
    assert.equal(back.spec.failurePolicy, 'abort');
    assert.ok(back.metadata.managedFields?.some((m) => m.manager === 'meshform-lab-test' && m.operation === 'Apply'));

    // The real helm-controller upgrades the release from HelmChart + HelmChartConfig.
    const st = await controllerRun(a.name, before);
    const values = st.config as { cluster?: { name?: string }; global?: { clusterCIDR?: string }; labRun?: string };
    assert.equal(values.labRun, YAML.parse(valuesContent).labRun, 'this valuesContent installed');
    type Chart = { status?: { jobName?: string; conditions?: { type: string; status: string }[] } };
    const hc = await waitFor('helm-controller to report on the HelmChart', 30_000, async () => {
      const c = JSON.parse(await kubectl(a.name, ['get', 'helmchart', 'rke2-cilium', '-n', 'kube-system', '-o', 'json'])) as Chart;
      return c.status?.jobName ? c : undefined;
    });
    assert.equal(hc.status?.jobName, 'helm-install-rke2-cilium');
    assert.equal(hc.status?.conditions?.find((c) => c.type === 'Failed')?.status, 'False');
    assert.equal(values.cluster?.name, a.name, 'valuesContent installed');
    assert.equal(values.global?.clusterCIDR, a.clusterCIDR, 'spec.set globals kept');
  });

  it('a bare helm upgrade is dropped when the helm-controller runs again (the seed\'s trap)', async () => {
    const current = await releaseStatus(a.name);
    await helmUpgrade(a, { ...current.config, hubble: { enabled: true } });
    const before = (await releaseStatus(a.name)).version;
    const api = k8s.KubernetesObjectApi.makeApiClient(client(a.name));
    const valuesContent = YAML.stringify({ cluster: { name: a.name, id: a.index }, operator: { replicas: 1 } });
    await api.patch(
      { apiVersion: 'helm.cattle.io/v1', kind: 'HelmChartConfig', metadata: { name: 'rke2-cilium', namespace: 'kube-system' }, spec: { valuesContent, failurePolicy: 'abort' } },
      undefined, undefined, 'meshform-lab-test', true, k8s.PatchStrategy.ServerSideApply,
    );
    const after = (await controllerRun(a.name, before)).config;
    assert.deepEqual(after.operator, { replicas: 1 }, 'the HelmChartConfig change is installed');
    assert.equal(after.hubble, undefined, 'the hand-made value is gone');
  });

  it('shared CA: helm upgrade, release Secret holds the values, rollouts complete, both peers ready', async () => {
    const ca = await newCa();
    const va = await meshValues(a, [a, b], ca);
    const vb = await meshValues(b, [a, b], ca);
    await Promise.all([helmUpgrade(a, va), helmUpgrade(b, vb)]);

    // The newest release Secret decodes (base64 of gzip of JSON) to exactly the values installed.
    const list = JSON.parse(await kubectl(a.name, ['get', 'secrets', '-n', 'kube-system', '-l', 'owner=helm,name=rke2-cilium', '-o', 'json'])) as { items: k8s.V1Secret[] };
    const newest = list.items.sort((x, y) => Number(y.metadata?.labels?.version) - Number(x.metadata?.labels?.version))[0]!;
    assert.equal(newest.type, 'helm.sh/release.v1');
    const release = JSON.parse(gunzipSync(Buffer.from(Buffer.from(newest.data!.release!, 'base64').toString(), 'base64')).toString()) as { config: unknown; chart: { metadata: { version: string } } };
    assert.deepEqual(release.config, JSON.parse(JSON.stringify(va)));
    assert.equal(release.chart.metadata.version, await chartVersion(paths), 'the upstream chart the lab packaged');

    for (const c of [a, b]) {
      const ds = JSON.parse(await kubectl(c.name, ['get', 'ds', 'cilium', '-n', 'kube-system', '-o', 'json'])) as k8s.V1DaemonSet;
      assert.equal(ds.status?.numberReady, c.nodes.length, `${c.name}: an agent on every node, control plane included`);
      assert.equal(ds.status?.updatedNumberScheduled, c.nodes.length);
    }
    const ab = await waitPeer(a.name, b.name, (p) => p.ready);
    const ba = await waitPeer(b.name, a.name, (p) => p.ready);
    assert.equal(ab?.ready, true, `mesh01 → mesh02: ${ab?.status}`);
    assert.equal(ba?.ready, true, `mesh02 → mesh01: ${ba?.status}`);
    assert.equal(ab?.connected, true);
    assert.deepEqual(Object.fromEntries(['nodes', 'endpoints', 'identities', 'services'].map((k) => [k, ab?.synced[k]])), { nodes: true, endpoints: true, identities: true, services: true });
    // The real status text (pkg/clustermesh/common/remote_cluster.go, 1.16.19 and 1.18.11).
    assert.match(ab!.status, /^etcd: 1\/1 connected, leases=\d+, lock leases=\d+, has-quorum=true: endpoint status checks are disabled, ID: [0-9a-f]+$/);
    // The real clustermesh-apiserver synced b's CiliumNodes into its etcd: the peer counts them.
    assert.equal((ab as unknown as { 'num-nodes'?: number })['num-nodes'], b.nodes.length);

    // The endpoint really is a TLS server on the worker IPs at the NodePort.
    for (const w of workers(b)) assert.ok(await portOpen(w.ip, nodePortOf(b)), `${w.ip}:${nodePortOf(b)} serves`);
  });

  it('exec answers through kubectl (cilium status text, cilium-health JSON) and client-node Exec', async () => {
    const text = await kubectl(a.name, ['exec', 'ds/cilium', '-n', 'kube-system', '-c', 'cilium-agent', '--', 'cilium', 'status']);
    // The agent's text since 1.16 (the real kvstoremesh's per-peer list under the agent's header).
    assert.match(text, /ClusterMesh:\s+1\/1 remote clusters ready, 0 global-services/);
    const health = JSON.parse(await kubectl(a.name, ['exec', 'ds/cilium', '-n', 'kube-system', '-c', 'cilium-agent', '--', 'cilium-health', 'status', '-o', 'json'])) as { nodes: { name: string }[] };
    const names = health.nodes.map((n) => n.name);
    assert.ok(names.some((n) => n.startsWith('mesh01/')) && names.some((n) => n.startsWith('mesh02/')), names.join(','));

    const kc = client(a.name);
    const pods = await kc.makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace: 'kube-system', labelSelector: 'k8s-app=cilium' });
    const pod = pods.items[0]!.metadata!.name!;
    let out = '';
    let err = '';
    const sink = (f: (s: string) => void) => new Writable({ write(chunk, _e, cb) { f(String(chunk)); cb(); } });
    const status = await new Promise<k8s.V1Status>((resolve, reject) => {
      new k8s.Exec(kc)
        .exec('kube-system', pod, 'cilium-agent', ['cilium-dbg', 'status', '-o', 'json'], sink((s) => (out += s)), sink((s) => (err += s)), null, false, resolve)
        .catch(reject);
    });
    assert.equal(status.status, 'Success', err);
    const parsed = JSON.parse(out) as { 'cluster-mesh': { clusters: { name: string; ready: boolean }[] } };
    assert.deepEqual(parsed['cluster-mesh'].clusters.map((c) => [c.name, c.ready]), [['mesh02', true]]);
  });

  // Real Cilium (1.16+) shows every failed connection below only as "Waiting for initial connection to
  // be established" (for up to 15 minutes); the cause is in the troubleshoot output alone.
  const waiting = (p: { ready: boolean; status: string }) => !p.ready && p.status === 'Waiting for initial connection to be established';

  it('different CAs: the peer waits; troubleshoot says x509: certificate signed by unknown authority', async () => {
    const caA = await newCa('CA of mesh01');
    const caB = await newCa('CA of mesh02');
    await Promise.all([helmUpgrade(a, await meshValues(a, [a, b], caA)), helmUpgrade(b, await meshValues(b, [a, b], caB))]);
    const ab = await waitPeer(a.name, b.name, waiting);
    assert.equal(ab?.status, 'Waiting for initial connection to be established');
    assert.ok(!ab?.ready, 'not ready (Go omits a false ready)');
    const ts = await troubleshoot(a.name);
    assert.match(ts, /Cannot establish TLS connection to .*: tls: failed to verify certificate: x509: certificate signed by unknown authority/);
    assert.match(ts, /Failed to establish connection: context deadline exceeded/);
  });

  it('peer missing on one side: the peer waits; troubleshoot says etcdserver: permission denied', async () => {
    const ca = await newCa();
    // mesh02 does not declare mesh01, so its etcd has no user remote-mesh01.
    await Promise.all([helmUpgrade(a, await meshValues(a, [a, b], ca)), helmUpgrade(b, await meshValues(b, [a, b], ca, { omit: [a.name] }))]);
    const users = await kubectl(b.name, ['get', 'cm', 'clustermesh-remote-users', '-n', 'kube-system', '-o', 'jsonpath={.data.users\\.yaml}']);
    assert.doesNotMatch(users, /remote-mesh01/);
    const ab = await waitPeer(a.name, b.name, waiting);
    assert.ok(!ab?.ready, 'not ready (Go omits a false ready)');
    const ts = await troubleshoot(a.name);
    assert.match(ts, /✅ TLS connection successfully established/);
    assert.match(ts, /Failed to retrieve key from etcd: etcdserver: permission denied/);
    const s = await agentStatus(b.name);
    assert.deepEqual(s['cluster-mesh']?.clusters ?? [], [], 'mesh02 lists no peer');
  });

  it('custom domain not in the server certificate: the peer waits; troubleshoot gives the SAN error', async () => {
    const ca = await newCa();
    await Promise.all([helmUpgrade(a, await meshValues(a, [a, b], ca, { domain: 'mesh.example.org' })), helmUpgrade(b, await meshValues(b, [a, b], ca))]);
    const ab = await waitPeer(a.name, b.name, waiting);
    assert.ok(!ab?.ready, 'not ready (Go omits a false ready)');
    assert.match(await troubleshoot(a.name), /x509: certificate is valid for .*\*\.mesh\.cilium\.io.*, not mesh02\.mesh\.example\.org/);
  });

  it('wrong port: the peer waits; troubleshoot says connection refused', async () => {
    const ca = await newCa();
    await Promise.all([
      helmUpgrade(a, await meshValues(a, [a, b], ca, { portOverride: { [b.name]: nodePortOf(b) + 100 } })),
      helmUpgrade(b, await meshValues(b, [a, b], ca)),
    ]);
    const ab = await waitPeer(a.name, b.name, waiting);
    assert.ok(!ab?.ready, 'not ready (Go omits a false ready)');
    const ts = await troubleshoot(a.name);
    assert.match(ts, /Cannot establish TCP connection to .*:32480: dial tcp .*: connect: connection refused/);
    assert.match(ts, /Failed to establish connection: context deadline exceeded/);
  });

  it('with KVStoreMesh: kvstoremesh-dbg status -o json from the real kvstoremesh reports each peer ready, and the agents see it', async () => {
    const ca = await newCa();
    const withKvstoremesh = async (c: LabCluster) => {
      const v = (await meshValues(c, [a, b], ca)) as { clustermesh: { apiserver: Record<string, unknown> } };
      v.clustermesh.apiserver['kvstoremesh'] = { enabled: true };
      return v;
    };
    await Promise.all([helmUpgrade(a, await withKvstoremesh(a)), helmUpgrade(b, await withKvstoremesh(b))]);
    assert.equal((await waitPeer(a.name, b.name, (p) => p.ready))?.ready, true);
    const out = await kubectl(a.name, ['exec', 'deploy/clustermesh-apiserver', '-n', 'kube-system', '-c', 'kvstoremesh', '--', 'kvstoremesh-dbg', 'status', '-o', 'json']);
    const list = JSON.parse(out) as { name: string; ready?: boolean; 'num-nodes'?: number }[];
    assert.deepEqual(list.map((c) => [c.name, c.ready, c['num-nodes']]), [[b.name, true, b.nodes.length]]);
    assert.equal(readEndpoints()?.clusters[a.name]?.kvstoremeshFor, 'deployment');
    const text = await kubectl(a.name, ['exec', 'deploy/clustermesh-apiserver', '-n', 'kube-system', '-c', 'kvstoremesh', '--', 'kvstoremesh-dbg', 'status']);
    assert.match(text, /KVStoreMesh:\s+1\/1 remote clusters ready/);
  });

  it('down stops every process the lab started and frees every port; up brings it back', async () => {
    const state = requireLab(2).state;
    const helmControllers = state.clusters.flatMap((c) => (c.helmControllerPid ? [c.helmControllerPid] : []));
    assert.equal(helmControllers.length, state.clusters.length, 'a helm-controller per cluster');
    assert.ok(state.jobRunnerPid, 'the helm job runner');
    const pids = [...state.clusters.flatMap((c) => c.pids), ...helmControllers, state.jobRunnerPid, ...(state.daemonPid ? [state.daemonPid] : []), ...endpointPids(paths)];
    assert.ok(pids.length >= 2 * 6 + 2, `recorded pids: ${pids.length}`);
    const ports: [string, number][] = [];
    for (const c of state.clusters) {
      for (const p of c.ports) ports.push(['127.0.0.1', p]);
      const api = new URL(c.apiserver);
      ports.push([api.hostname, Number(api.port)]);
    }
    for (const e of Object.values(readEndpoints()?.clusters ?? {})) {
      for (const l of e.listen) {
        const [h, p] = l.split(':');
        ports.push([h!, Number(p)]);
      }
    }
    const r = await run(process.execPath, [new URL('../../lab/src/cli.js', import.meta.url).pathname, 'down'], { allowFail: true, timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} is gone`);
    for (const [h, p] of ports) assert.equal(await portOpen(h, p), false, `${h}:${p} is free`);
    // Other suites of the same test run (test/live) need the lab: start it again, as it was.
    const shape = [String(state.clusters.length), ...(state.workers ? ['--workers', String(state.workers)] : [])];
    const up = await run(process.execPath, [new URL('../../lab/src/cli.js', import.meta.url).pathname, 'up', ...shape], { allowFail: true, timeoutMs: 300_000 });
    assert.equal(up.code, 0, up.stderr);
    assert.equal(requireLab(2).state.clusters.length, state.clusters.length);
  });
});
