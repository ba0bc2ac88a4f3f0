// The apply plan as data (src/apply/plan.ts): what planCluster decides from what was rendered and
// observed, in which order, and what the executor does with it on the in-memory client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMesh, describeStep, executePlan, formatApplySummary, planApply, planCluster, type PlanStep } from '../../src/apply/apply.js';
import type { Observation, PlanOptions } from '../../src/apply/plan.js';
import type { KubeObject } from '../../src/kube/client.js';
import { FakeClusterClient } from '../kube/fake-client.js';
import { NS, hcc, helmChart, releaseSecret, rendered } from './fixtures.js';

const OPTS: PlanOptions = { method: 'helmchartconfig', ref: { release: 'rke2-cilium', namespace: NS }, wait: true, waitForHelmController: true };
const target = (name = 'mesh01') => ({ name, client: new FakeClusterClient(name), objects: rendered(name, 1) });
// Secrets come first in the rendered order, so `live` lists the Secret's live version first.
const observed = (live: (KubeObject | undefined)[], extra: Partial<Observation> = {}): Observation => ({ findings: [], live, helmChart: true, release: { revision: 3, status: 'deployed', config: {} }, ...extra });
const kinds = (steps: PlanStep[]) => steps.map((s) => (s.step === 'write' ? `write ${s.object.kind}` : s.step === 'rollout' ? `rollout ${s.kind}` : s.step));

test('a cluster that changes: preflight, diff, dry run, Secrets written first, the helm-controller revision, then the rollouts', () => {
  const p = planCluster(target(), observed([undefined, hcc('kubeProxyReplacement: true\n')]), OPTS);
  assert.equal(p.action, 'change');
  assert.deepEqual(kinds(p.steps), ['preflight', 'diff', 'dry-run', 'write Secret', 'write HelmChartConfig', 'wait-helm-revision', 'rollout DaemonSet', 'rollout Deployment']);
  assert.deepEqual(p.steps[5], { step: 'wait-helm-revision', release: 'rke2-cilium', namespace: NS, after: 3 });
  assert.deepEqual(p.steps.at(-1), { step: 'rollout', kind: 'Deployment', name: 'clustermesh-apiserver', namespace: NS, optional: true });
  assert.deepEqual(p.revision, { before: 3 });
  // The plan is data that can be printed: JSON without any key material.
  const json = JSON.stringify(p.steps);
  assert.doesNotMatch(json, /SECRETKEYMATERIAL|PRIVATE KEY/);
  assert.deepEqual(p.steps.map(describeStep).slice(2, 4), [
    'server-side dry run of Secret kube-system/clustermesh-apiserver-local-cert, HelmChartConfig kube-system/rke2-cilium',
    'server-side apply Secret kube-system/clustermesh-apiserver-local-cert',
  ]);
});

test('nothing to change: the plan ends after the diff', () => {
  const t = target();
  const live = rendered('mesh01', 1).reverse().map((o) => structuredClone(o));
  const p = planCluster(t, observed(live.map((o) => (o.kind === 'Secret' ? { ...o, data: { 'tls.key': Buffer.from('-----BEGIN PRIVATE KEY-----\nSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n').toString('base64'), 'tls.crt': Buffer.from('cert-mesh01').toString('base64') }, stringData: undefined } : o))), OPTS);
  assert.equal(p.action, 'none', p.diffText);
  assert.deepEqual(kinds(p.steps), ['preflight', 'diff']);
});

test('--no-wait plans no waits; only a changed HelmChartConfig waits for the helm-controller', () => {
  const noWait = planCluster(target(), observed([undefined, undefined]), { ...OPTS, wait: false });
  assert.deepEqual(kinds(noWait.steps), ['preflight', 'diff', 'dry-run', 'write Secret', 'write HelmChartConfig']);
  const t = target();
  const liveHcc = t.objects.find((o) => o.kind === 'HelmChartConfig')!;
  const secretOnly = planCluster(t, observed([undefined, liveHcc]), OPTS);
  assert.deepEqual(kinds(secretOnly.steps), ['preflight', 'diff', 'dry-run', 'write Secret', 'rollout DaemonSet', 'rollout Deployment']);
});

test('a changed Secret that the HelmChartConfig lists in valuesSecrets waits for the helm-controller (it runs helm for it)', () => {
  const objects = rendered('mesh01', 1).map((o) => structuredClone(o));
  const h = objects.find((o) => o.kind === 'HelmChartConfig')!;
  (h['spec'] as Record<string, unknown>)['valuesSecrets'] = [{ name: 'clustermesh-apiserver-local-cert', keys: ['tls.crt'] }];
  const t = { name: 'mesh01', client: new FakeClusterClient('mesh01'), objects };
  const p = planCluster(t, observed([undefined, structuredClone(h)]), OPTS);
  assert.deepEqual(kinds(p.steps), ['preflight', 'diff', 'dry-run', 'write Secret', 'wait-helm-revision', 'rollout DaemonSet', 'rollout Deployment']);
});

test('preflight errors stop the cluster (exit 1) before anything is read; a missing HelmChart stops it (exit 3, RELEASE_NOT_FOUND)', () => {
  const f = { code: 'ENDPOINT_IP_CONTROL_PLANE' as const, severity: 'error' as const, path: 'clusters[0].endpoint.ips[0]', message: 'control plane', rule: 'r', fix: 'f', scope: { kind: 'dialled' as const, cluster: 'mesh01' } };
  const held = planCluster(target(), { findings: [f], live: [] }, OPTS);
  assert.equal(held.action, 'stopped');
  assert.equal(held.error?.exitCode, 1);
  assert.deepEqual(held.steps, [{ step: 'preflight', errors: ['ENDPOINT_IP_CONTROL_PLANE'], warnings: [] }]);
  const noChart = planCluster(target(), observed([undefined, undefined], { helmChart: false }), OPTS);
  assert.equal(noChart.action, 'stopped');
  assert.equal(noChart.error?.exitCode, 3);
  assert.equal(noChart.error?.findings[0]?.code, 'RELEASE_NOT_FOUND');
  assert.ok(!noChart.steps.some((s) => s.step === 'write'));
});

test('method helm: the extra Secrets are written before helm upgrade; no helm-controller wait', () => {
  const t = { name: 'mesh01', client: new FakeClusterClient('mesh01'), objects: rendered('mesh01', 1).filter((o) => o.kind === 'Secret'),
    helm: { values: [{ name: 'values/mesh01.yaml', content: 'cluster: {name: mesh01}\n', secret: false }], chart: 'rke2-charts/rke2-cilium', version: '1.16.302', connection: {} } };
  const p = planCluster(t, observed([undefined]), { ...OPTS, method: 'helm' });
  assert.deepEqual(kinds(p.steps), ['preflight', 'diff', 'dry-run', 'write Secret', 'helm-upgrade', 'rollout DaemonSet', 'rollout Deployment']);
  assert.deepEqual(p.steps[1], { step: 'diff', changed: [{ kind: 'Secret', name: 'clustermesh-apiserver-local-cert', namespace: NS }], unchanged: [], values: 'differs' });
});

test("the spec's cilium.release and cilium.namespace reach every read and step (not rke2-cilium/kube-system)", async () => {
  const ns = 'cilium-system';
  const rel = releaseSecret(4, {});
  rel.metadata = { ...rel.metadata, name: 'sh.helm.release.v1.my-cilium.v4', namespace: ns, labels: { ...rel.metadata.labels, name: 'my-cilium' } };
  const c = new FakeClusterClient('mesh01', [{ ...helmChart, metadata: { name: 'my-cilium', namespace: 'kube-system' } }, rel]);
  const objects = rendered('mesh01', 1).map((o) => (o.kind === 'HelmChartConfig' ? { ...o, metadata: { ...o.metadata, name: 'my-cilium' } } : { ...o, metadata: { ...o.metadata, namespace: ns } }));
  const plan = await planApply([{ name: 'mesh01', client: c, objects }], { release: 'my-cilium', namespace: ns });
  const p = plan.clusters[0]!;
  assert.equal(p.action, 'change', p.error?.message);
  assert.ok(c.calls.some((x) => x.op === 'get' && x.kind === 'HelmChart' && x.name === 'my-cilium' && x.namespace === 'kube-system'));
  assert.ok(c.calls.some((x) => x.op === 'list' && x.kind === 'Secret' && x.namespace === ns), 'the release is read where it lives');
  assert.deepEqual(p.steps.find((s) => s.step === 'wait-helm-revision'), { step: 'wait-helm-revision', release: 'my-cilium', namespace: ns, after: 4 });
  assert.deepEqual(p.steps.filter((s) => s.step === 'rollout').map((s) => s.step === 'rollout' && `${s.namespace}/${s.name}`), [`${ns}/cilium`, `${ns}/clustermesh-apiserver`]);
});

test('a dry run runs only the server-side dry runs; the summary lists the plan with each step\'s state', async () => {
  const c = new FakeClusterClient('mesh01', [helmChart, hcc('kubeProxyReplacement: true\n'), releaseSecret(1, {})]);
  const targets = [{ name: 'mesh01', client: c, objects: rendered('mesh01', 1) }];
  const plan = await planApply(targets, { dryRun: true });
  const r = await executePlan(plan, targets, { dryRun: true });
  assert.equal(r.clusters[0]?.outcome, 'would-change');
  assert.ok(c.calls.filter((x) => x.op === 'apply').every((x) => x.dryRun));
  assert.deepEqual(r.clusters[0]?.steps.map((s) => `${s.step}:${s.state}`), ['preflight:done', 'diff:done', 'dry-run:done', 'write:planned', 'write:planned', 'wait-helm-revision:planned', 'rollout:planned', 'rollout:planned']);
  const text = formatApplySummary(r, { steps: true });
  assert.match(text, /^mesh01: would change Secret clustermesh-apiserver-local-cert, HelmChartConfig rke2-cilium\n  1\. preflight: live checks pass\n  2\. diff: 2 of 2 object\(s\) differ/);
  assert.match(text, /  4\. server-side apply Secret kube-system\/clustermesh-apiserver-local-cert  \[planned\]/);
  assert.match(text, /  6\. wait for RKE2's helm-controller to install a revision after 1 of kube-system\/rke2-cilium  \[planned\]/);
});

test('a failing step fails its cluster: the steps after it are not run', async () => {
  const c = new FakeClusterClient('mesh01', [helmChart, releaseSecret(1, {})]);
  c.fail = (call) => (call.op === 'apply' && call.kind === 'HelmChartConfig' && !call.dryRun ? new Error('boom') : undefined);
  const r = await applyMesh([{ name: 'mesh01', client: c, objects: rendered('mesh01', 1) }], { now: () => 0, sleep: async () => {} });
  assert.equal(r.clusters[0]?.outcome, 'failed');
  assert.deepEqual(r.clusters[0]?.steps.map((s) => s.state), ['done', 'done', 'done', 'done', 'failed', 'not-run', 'not-run', 'not-run']);
});
