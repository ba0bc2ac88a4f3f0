/**
 * meshform's live half against the real lab (issue 3): real API servers, real exec through kwok,
 * real helm, real mTLS etcd endpoints. Needs `npm run lab -- up` first and FAILS (never skips)
 * when the lab is down. It changes the lab clusters' rke2-cilium release (forms the mesh, injects
 * faults, restores), so it takes the lab's suite lock first (`holdLab`), like test/lab does.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, before, after } from 'node:test';
import YAML from 'yaml';
import { applyMesh, type ApplyTarget } from '../../src/apply/apply.js';
import { spawnHelm } from '../../src/apply/helm.js';
import { assertIdentity, discoverAll, discoverCluster } from '../../src/discover/discover.js';
import { initSpecFromFacts } from '../../src/discover/init.js';
import { doctorReport, runProbes } from '../../src/doctor/doctor.js';
import { liveCredentials, liveProbeTargets } from '../../src/doctor/live.js';
import { MeshformError } from '../../src/errors.js';
import { isWorker } from '../../src/kube/facts.js';
import { NodeClusterClient } from '../../src/kube/node-client.js';
import { collectStatus, waitForMesh, type StatusTarget } from '../../src/status/status.js';
import { formatStatusTable } from '../../src/status/format.js';
import { chartVersion as labChartVersion, syncEndpoints } from '../../lab/src/lab.js';
import { workers, type LabCluster } from '../../lab/src/topology.js';
import { newCa, type TestCa } from '../lab/certs.js';
import { holdLab, kubectl as kubectlLab, meshValues, paths, requireLab } from '../lab/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'meshform-live-'));

describe('live operations on the lab', { concurrency: 1 }, () => {
  let clusters: LabCluster[];
  let clients: Map<string, NodeClusterClient>;
  let ca: TestCa;
  let release: (() => void) | undefined;
  let chartVersion: string;

  const client = (name: string) => clients.get(name) as NodeClusterClient;
  // Values (with their freshly issued certificates) are made once per cluster and reused, so that
  // re-applying them is a true no-op.
  const good = new Map<string, Record<string, unknown>>();
  const goodValues = async (c: LabCluster) => {
    if (!good.has(c.name)) good.set(c.name, await meshValues(c, clusters, ca));
    return good.get(c.name) as Record<string, unknown>;
  };
  const hccTarget = async (c: LabCluster): Promise<ApplyTarget> => ({
    name: c.name,
    client: client(c.name),
    objects: [{ apiVersion: 'helm.cattle.io/v1', kind: 'HelmChartConfig', metadata: { name: 'rke2-cilium', namespace: 'kube-system' },
      spec: { failurePolicy: 'abort', valuesContent: YAML.stringify(await goodValues(c), { lineWidth: 0 }) } }],
  });
  const helmTarget = async (c: LabCluster, values: Record<string, unknown>): Promise<ApplyTarget> => {
    return { name: c.name, client: client(c.name), objects: [], helm: { values: [{ name: `${c.name}.yaml`, content: YAML.stringify(values), secret: true }], chart: paths.chartPackage, version: chartVersion, connection: { kubeconfig: paths.kubeconfig, context: c.name } } };
  };
  const statusTargets = (): StatusTarget[] => clusters.map((c) => ({ name: c.name, client: client(c.name), peers: clusters.filter((p) => p !== c).map((p) => p.name) }));
  const applyHelm = async (targets: ApplyTarget[]) => {
    const r = await applyMesh(targets, { method: 'helm', helmRunner: spawnHelm(paths.binary('helm')), timeoutMs: 120_000 });
    for (const c of r.clusters) assert.notEqual(c.outcome, 'failed', c.error?.message);
    await syncEndpoints();
    return r;
  };
  const waitUntil = async (pred: (s: Awaited<ReturnType<typeof collectStatus>>) => boolean, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    let s = await collectStatus(statusTargets());
    while (!pred(s) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1500));
      s = await collectStatus(statusTargets());
    }
    return s;
  };

  before(async () => {
    // A wrapper that already holds the lab lock for this run (e.g. one that brought the lab up
    // under it) names its pid; otherwise take the lock like every lab suite.
    release = await holdLab('test/live');
    ({ clusters } = requireLab(2));
    clusters = clusters.slice(0, 2);
    chartVersion = await labChartVersion(paths);
    clients = new Map(clusters.map((c) => [c.name, NodeClusterClient.connect(c.name, { kubeconfig: paths.kubeconfig, context: c.name })]));
    ca = await newCa();
  });
  after(() => release?.());

  it('discover reads nodes, roles, HelmChart globals, the decoded helm release and cilium-config', async () => {
    const r = await discoverAll(clusters.map((c) => ({ name: c.name, client: client(c.name) })));
    assert.deepEqual(r.failures, []);
    for (const c of clusters) {
      const f = r.facts.clusters[c.name];
      assert.ok(f, c.name);
      assert.equal(f.nodes?.length, 4);
      assert.deepEqual(f.nodes?.filter(isWorker).map((n) => n.internalIPs[0]).sort(), workers(c).map((n) => n.ip).sort());
      assert.deepEqual(f.clusterCIDR, [c.clusterCIDR]);
      assert.deepEqual(f.serviceCIDR, [c.serviceCIDR]);
      assert.equal(f.chartVersion, chartVersion);
      assert.ok(f.helmRelease && f.helmRelease.revision >= 1, 'helm release decoded');
      assert.ok(f.values && Object.keys(f.values).length > 0, 'user values decoded');
      assert.ok(f.kubeSystemUID);
      assert.equal(f.warnings, undefined, JSON.stringify(f.warnings));
    }
  });

  it('init writes a spec from the live clusters: next free IDs, worker IPs, CIDRs, values files', async () => {
    const { facts } = await discoverAll(clusters.map((c) => ({ name: c.name, client: client(c.name) })));
    const r = initSpecFromFacts(clusters.map((c) => ({ fallbackName: c.name, context: c.name, facts: facts.clusters[c.name] ?? {} })), { meshName: 'lab', certificates: 'provided' });
    const spec = YAML.parse(r.meshYaml) as { clusters: { name: string; id: number; endpoint: { ips: string[] }; podCIDR: string }[] };
    assert.equal(new Set(spec.clusters.map((c) => c.id)).size, clusters.length);
    for (const [i, c] of clusters.entries()) {
      assert.deepEqual(spec.clusters[i]?.endpoint.ips, workers(c).map((n) => n.ip).sort());
      assert.equal(spec.clusters[i]?.podCIDR, c.clusterCIDR);
    }
    // One values file per cluster; ca-trust/ files too when earlier suites left meshed clusters on different CAs.
    assert.deepEqual(r.files.filter((f) => f.path.startsWith('values_')).map((f) => f.path), clusters.map((c) => `values_${c.name}.yaml`));
    assert.equal(r.files.filter((f) => !f.path.startsWith('values_')).every((f) => r.method === 'keep' && f.path.startsWith('ca-trust/')), true);
  });

  it('apply (HelmChartConfig, the default) forms the mesh in parallel: SSA, helm-controller revision, rollouts; a second apply changes nothing', async () => {
    const targets = await Promise.all(clusters.map((c) => hccTarget(c)));
    const first = await applyMesh(targets, { timeoutMs: 180_000, pollMs: 1000 });
    for (const c of first.clusters) assert.equal(c.outcome, 'changed', c.error?.message);
    for (const c of first.clusters) assert.ok((c.revision?.after ?? 0) > (c.revision?.before ?? 0), JSON.stringify(c.revision));
    await syncEndpoints();
    const before = await Promise.all(clusters.map((c) => client(c.name).get('HelmChartConfig', 'rke2-cilium', 'kube-system')));
    assert.ok(before.every((o) => o?.metadata.managedFields?.some((m) => m.manager === 'meshform')));
    const revs = await Promise.all(clusters.map(async (c) => (await discoverCluster(client(c.name))).helmRelease?.revision));
    const second = await applyMesh(targets, { timeoutMs: 180_000, pollMs: 1000 });
    assert.deepEqual(second.unchanged, clusters.map((c) => c.name));
    const after = await Promise.all(clusters.map((c) => client(c.name).get('HelmChartConfig', 'rke2-cilium', 'kube-system')));
    assert.deepEqual(after.map((o) => o?.metadata.resourceVersion), before.map((o) => o?.metadata.resourceVersion), 'no write at all');
    assert.deepEqual(await Promise.all(clusters.map(async (c) => (await discoverCluster(client(c.name))).helmRelease?.revision)), revs, 'no new helm revision');
  });

  it('status --wait: every peer ready on every agent, read through client-node exec', async () => {
    const r = await waitForMesh(() => collectStatus(statusTargets()), { timeoutMs: 90_000 });
    assert.equal(r.status.ready, true, formatStatusTable(r.status, { detail: true }));
    for (const cell of r.status.matrix) assert.ok(cell.total >= 1 && cell.ready === cell.total, JSON.stringify(cell));
  });

  it('doctor probes every live peer endpoint with the cluster\'s own remote cert: all steps pass', async () => {
    for (const c of clusters) {
      const targets = await liveProbeTargets(client(c.name));
      const cred = await liveCredentials(client(c.name));
      assert.ok(cred, 'remote cert present');
      assert.ok(targets.length >= 2, JSON.stringify(targets));
      const results = await runProbes(targets, () => cred);
      for (const p of results) assert.equal(p.ok, true, JSON.stringify(p.steps));
    }
  });

  // Real Cilium 1.16+ shows a failed connection only as this, for up to 15 minutes: the cause comes
  // from doctor's own probe (or cilium-dbg troubleshoot clustermesh).
  const WAITING = 'Waiting for initial connection to be established';
  const probesOf = async (c: LabCluster) => {
    const cred = await liveCredentials(client(c.name));
    assert.ok(cred, 'remote cert present');
    return runProbes(await liveProbeTargets(client(c.name)), () => cred);
  };

  it('a different CA on one cluster: the agents wait, doctor\'s probe names CA_MISMATCH; restoring converges', async () => {
    const [a, b] = clusters as [LabCluster, LabCluster];
    const other = await newCa('Other CA');
    const faulty = await applyHelm([await helmTarget(b, await meshValues(b, clusters, other))]);
    assert.ok(faulty.clusters[0]?.warnings.some((w) => /helm-controller/.test(w)), 'the helm method warns about the helm-controller');
    const s = await waitUntil((x) => x.clusters.some((c) => c.nodes.some((n) => n.peers.some((p) => !p.ready && p.status === WAITING))));
    const report = doctorReport(s, await probesOf(a));
    assert.ok(report.findings.some((f) => f.code === 'CA_MISMATCH' && f.source === 'probe'), JSON.stringify(report.findings));
    assert.ok(!report.findings.some((f) => f.code === 'UNREACHABLE'), `a waiting peer is not called unreachable: ${JSON.stringify(report.findings)}`);
    await applyHelm([await helmTarget(b, await goodValues(b))]);
    assert.equal((await waitForMesh(() => collectStatus(statusTargets()), { timeoutMs: 90_000 })).status.ready, true);
  });

  it('a peer declared on one side only: connected agents stay ready until they reconnect; then doctor names PERMISSION_DENIED', async () => {
    const [a, b] = clusters as [LabCluster, LabCluster];
    await applyHelm([await helmTarget(b, await meshValues(b, clusters, ca, { omit: [a.name] }))]);
    // Real etcd keeps serving a connection whose user is gone (seen with Cilium 1.18.11): a's agents,
    // which nothing restarted, stay ready; new agents of a (a rollout) cannot log in.
    await kubectlLab(a.name, ['rollout', 'restart', 'ds/cilium', '-n', 'kube-system']);
    await kubectlLab(a.name, ['rollout', 'status', 'ds/cilium', '-n', 'kube-system', '--timeout=90s']);
    await syncEndpoints();
    // A restarted agent also waits while it first connects, before the real users manager has removed
    // remote-<a> from b's etcd: doctor is asked again until the state has settled.
    const deadline = Date.now() + 60_000;
    let report: ReturnType<typeof doctorReport>;
    for (;;) {
      const s = await waitUntil((x) => x.clusters.some((c) => c.name === a.name && c.nodes.some((n) => n.peers.some((p) => !p.ready && p.status === WAITING))));
      report = doctorReport(s, await probesOf(a));
      if (report.findings.some((f) => f.code === 'PERMISSION_DENIED') || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    assert.ok(report.findings.some((f) => f.code === 'PERMISSION_DENIED' && f.cluster === a.name && f.source === 'probe'), JSON.stringify(report.findings));
    await applyHelm([await helmTarget(b, await goodValues(b))]);
    assert.equal((await waitForMesh(() => collectStatus(statusTargets()), { timeoutMs: 90_000 })).status.ready, true);
  });

  it('a context that points at the other cluster is refused by the identity check', async () => {
    const [a, b] = clusters as [LabCluster, LabCluster];
    const wrong = NodeClusterClient.connect(a.name, { kubeconfig: paths.kubeconfig, context: b.name });
    const facts = await discoverCluster(wrong);
    assert.throws(() => assertIdentity({ name: a.name, id: a.index }, facts), (e: MeshformError) => e.exitCode === 3 && e.findings[0]?.code === 'CLUSTER_IDENTITY_MISMATCH');
  });

  it('an unreachable cluster is a clear exit-3 error naming it; the other is still discovered', async () => {
    const kc = YAML.parse(readFileSync(paths.kubeconfig, 'utf8')) as { clusters: { cluster: { server: string } }[] };
    for (const c of kc.clusters) c.cluster.server = 'https://127.0.0.1:1';
    const file = join(dir, 'down.yaml');
    writeFileSync(file, YAML.stringify(kc));
    const down = NodeClusterClient.connect('mesh-down', { kubeconfig: file, context: clusters[1]?.name, timeoutMs: 3000 });
    const r = await discoverAll([{ name: clusters[0]?.name ?? '', client: client(clusters[0]?.name ?? '') }, { name: 'mesh-down', client: down }]);
    assert.deepEqual(Object.keys(r.facts.clusters), [clusters[0]?.name]);
    assert.equal(r.failures[0]?.error.findings[0]?.code, 'KUBE_UNREACHABLE');
    assert.match(r.failures[0]?.error.message ?? '', /^cluster mesh-down: cannot reach the Kubernetes API/);
  });
});
