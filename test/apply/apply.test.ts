import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { applyMesh, diffMesh, formatApplySummary, HELM_CONTROLLER_WARNING, type ApplyEvent, type ApplyOptions } from '../../src/apply/apply.js';
import { objectsFromYaml } from '../../src/apply/diff.js';
import { clusterError } from '../../src/kube/errors.js';
import type { KubeObject } from '../../src/kube/client.js';
import { FakeClusterClient } from '../kube/fake-client.js';
import { NS, helmChart, hcc, releaseSecret, rendered } from './fixtures.js';


const ds = (gen: number, ready: boolean): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'cilium', namespace: NS, generation: gen },
  status: { observedGeneration: gen, desiredNumberScheduled: 2, updatedNumberScheduled: ready ? 2 : 1, numberAvailable: ready ? 2 : 1 },
});


function cluster(name: string): FakeClusterClient {
  const c = new FakeClusterClient(name, [helmChart, hcc('kubeProxyReplacement: true\n'), releaseSecret(1, { kubeProxyReplacement: true }), ds(1, true)]);
  return c;
}

/** Plays RKE2's helm-controller: after a HelmChartConfig change, a new revision and a rollout. */
function simulateHelmController(c: FakeClusterClient): ApplyOptions['sleep'] {
  let step = 0;
  return async () => {
    const applied = c.calls.some((x) => x.op === 'apply' && x.kind === 'HelmChartConfig' && !x.dryRun);
    if (!applied) return;
    step++;
    if (step === 1) {
      c.put(releaseSecret(2, { mesh: true }));
      c.put(ds(2, false));
    } else if (step === 2) c.put(ds(2, true));
  };
}


test('apply: SSA of the changed objects, waits for helm-controller and rollout; a second apply changes nothing', async () => {
  const c = cluster('mesh01');
  const events: ApplyEvent[] = [];
  const opts: ApplyOptions = { sleep: simulateHelmController(c), now: () => 0, onEvent: (e) => events.push(e), timeoutMs: 60_000 };
  const first = await applyMesh([{ name: 'mesh01', client: c, objects: rendered('mesh01', 1) }], opts);
  const r = first.clusters[0];
  assert.equal(r?.outcome, 'changed', r?.error?.message);
  assert.deepEqual(first.changed, ['mesh01']);
  assert.deepEqual(r?.revision, { before: 1, after: 2 });
  const applies = c.calls.filter((x) => x.op === 'apply');
  assert.deepEqual(applies.map((x) => `${x.kind}${x.dryRun ? ' (dry run)' : ''}`), ['Secret (dry run)', 'HelmChartConfig (dry run)', 'Secret', 'HelmChartConfig'], 'every object dry-run first, then Secrets first');
  assert.match(r?.diffText ?? '', /\+\s+name: mesh01/);
  assert.ok(!(r?.diffText ?? '').includes('SECRETKEYMATERIAL'), 'secret values are redacted in diffs');
  assert.match(r?.diffText ?? '', /\[secret sha256:[0-9a-f]{12}\]/);
  const stored = c.peek('Secret', 'clustermesh-apiserver-local-cert', NS);
  assert.equal(Buffer.from((stored?.['data'] as Record<string, string>)['tls.crt'] ?? '', 'base64').toString(), 'cert-mesh01');
  assert.ok(events.some((e) => e.phase === 'wait') && events.at(-1)?.phase === 'done');

  const hccBefore = structuredClone(c.peek('HelmChartConfig', 'rke2-cilium', NS));
  const appliesBefore = c.calls.filter((x) => x.op === 'apply').length;
  const second = await applyMesh([{ name: 'mesh01', client: c, objects: rendered('mesh01', 1) }], opts);
  assert.equal(second.clusters[0]?.outcome, 'unchanged');
  assert.deepEqual(second.unchanged, ['mesh01']);
  assert.equal(c.calls.filter((x) => x.op === 'apply').length, appliesBefore, 'no SSA call at all');
  assert.deepEqual(c.peek('HelmChartConfig', 'rke2-cilium', NS), hccBefore, 'no new managed fields or resourceVersion');
  assert.equal(formatApplySummary(second), 'mesh01: unchanged\n');
});

test('dry run: server-side dry run only, nothing stored, outcome would-change', async () => {
  const c = cluster('mesh01');
  const before = structuredClone(c.peek('HelmChartConfig', 'rke2-cilium', NS));
  const r = await applyMesh([{ name: 'mesh01', client: c, objects: rendered('mesh01', 1) }], { dryRun: true });
  assert.equal(r.clusters[0]?.outcome, 'would-change');
  assert.ok(c.calls.filter((x) => x.op === 'apply').every((x) => x.dryRun));
  assert.deepEqual(c.peek('HelmChartConfig', 'rke2-cilium', NS), before);
  assert.match(formatApplySummary(r, { diffs: true }), /mesh01: would change Secret clustermesh-apiserver-local-cert, HelmChartConfig rke2-cilium[\s\S]*# mesh01/);
});

test('a cluster whose API server is down fails alone; the other completes; re-running converges', async () => {
  const a = cluster('mesh01');
  const b = cluster('mesh02');
  let down = true;
  b.fail = () => (down ? clusterError({ cluster: 'mesh02', code: 'KUBE_UNREACHABLE', message: 'cannot reach the Kubernetes API at https://127.0.0.1:1 (connection refused)', rule: 'r', fix: 'f' }) : undefined);
  const targets = [{ name: 'mesh01', client: a, objects: rendered('mesh01', 1) }, { name: 'mesh02', client: b, objects: rendered('mesh02', 2) }];
  const r = await applyMesh(targets, { waitForHelmController: false, sleep: async () => {}, now: () => 0 });
  assert.deepEqual(r.changed, ['mesh01']);
  assert.deepEqual(r.failed, ['mesh02']);
  assert.equal(r.clusters[1]?.error?.exitCode, 3);
  assert.match(formatApplySummary(r), /mesh02: FAILED: cannot reach the Kubernetes API/);
  down = false;
  const again = await applyMesh(targets, { waitForHelmController: false, sleep: async () => {}, now: () => 0 });
  assert.deepEqual(again.unchanged, ['mesh01']);
  assert.deepEqual(again.changed, ['mesh02']);
});

test('preflight errors stop that cluster before any write', async () => {
  const c = cluster('mesh01');
  const r = await applyMesh([{ name: 'mesh01', client: c, objects: rendered('mesh01', 1) }], {
    preflight: () => [{ code: 'ENDPOINT_IP_CONTROL_PLANE', severity: 'error', path: 'clusters[0].endpoint.ips[0]', message: '192.0.2.11 is a control-plane node', rule: 'r', fix: 'f' }],
  });
  assert.equal(r.clusters[0]?.outcome, 'failed');
  assert.equal(r.clusters[0]?.error?.exitCode, 1);
  assert.equal(c.calls.filter((x) => x.op === 'apply').length, 0);
});

test('a release that does not exist: that cluster fails before any write, naming the release and the fix; the other completes', async () => {
  const a = cluster('mesh01');
  const b = new FakeClusterClient('mesh02', [releaseSecret(1, {}), ds(1, true)]);
  const sleep = simulateHelmController(a);
  const r = await applyMesh(
    [
      { name: 'mesh01', client: a, objects: rendered('mesh01', 1) },
      { name: 'mesh02', client: b, objects: rendered('mesh02', 2) },
    ],
    { now: () => 0, sleep, pollMs: 1 },
  );
  assert.equal(r.clusters[0]?.outcome, 'changed');
  const failed = r.clusters[1];
  assert.equal(failed?.outcome, 'failed');
  assert.equal(failed?.error?.exitCode, 3);
  const f = failed?.error?.findings[0];
  assert.equal(f?.code, 'RELEASE_NOT_FOUND');
  assert.equal(f?.path, 'cilium.release');
  assert.equal(f?.value, 'rke2-cilium');
  assert.match(f?.message ?? '', /cluster mesh02: no HelmChart kube-system\/rke2-cilium/);
  assert.match(f?.fix ?? '', /cilium\.release/);
  assert.equal(b.calls.filter((x) => x.op === 'apply').length, 0, 'nothing written to mesh02');
});

test("a field another manager owns stops that cluster before its first write (a dry run of every object comes first)", async () => {
  const c = cluster('mesh01');
  c.fail = (call) =>
    call.op === 'apply' && call.kind === 'HelmChartConfig'
      ? clusterError({ cluster: 'mesh01', code: 'KUBE_CONFLICT', message: 'server-side apply of HelmChartConfig rke2-cilium conflicts with another field manager', rule: 'r', fix: 'meshform apply --force' })
      : undefined;
  const secret: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'meshform-rke2-cilium-values', namespace: NS }, stringData: { 'values.yaml': 'a: 1\n' } };
  const r = await applyMesh([{ name: 'mesh01', client: c, objects: [secret, ...rendered('mesh01', 1)] }], { now: () => 0, sleep: async () => {} });
  assert.equal(r.clusters[0]?.outcome, 'failed');
  assert.equal(r.clusters[0]?.error?.findings[0]?.code, 'KUBE_CONFLICT');
  assert.equal(c.calls.filter((x) => x.op === 'apply' && !x.dryRun).length, 0, 'the Secret was not written either');
  assert.equal(await c.get('Secret', 'meshform-rke2-cilium-values', NS), undefined);
});

test('a rollout that does not finish is a timeout failure', async () => {
  const c = cluster('mesh01');
  c.put(ds(1, false));
  let t = 0;
  const r = await applyMesh([{ name: 'mesh01', client: c, objects: rendered('mesh01', 1) }], { waitForHelmController: false, timeoutMs: 5000, now: () => t, sleep: async (ms) => { t += ms; } });
  assert.equal(r.clusters[0]?.outcome, 'failed');
  assert.equal(r.clusters[0]?.error?.findings[0]?.code, 'KUBE_TIMEOUT');
});

test('a failed helm-controller upgrade is reported', async () => {
  const c = cluster('mesh01');
  const r = await applyMesh([{ name: 'mesh01', client: c, objects: rendered('mesh01', 1) }], {
    now: () => 0, sleep: async () => { c.put(releaseSecret(2, {}, 'failed')); },
  });
  assert.match(r.clusters[0]?.error?.message ?? '', /helm-controller's upgrade of rke2-cilium failed \(revision 2\)/);
});

test('apply --method helm: runs helm upgrade like the seed, warns about the helm-controller; unchanged values run nothing', async () => {
  const values = { name: 'values/mesh01.yaml', content: stringify({ kubeProxyReplacement: true, cluster: { name: 'mesh01', id: 1 } }), secret: false };
  const secrets = { name: 'secrets/mesh01.values.yaml', content: stringify({ tls: { ca: { cert: 'Q0EgQ0VSVA==', key: 'S0VZIE1BVEVSSUFM' } } }), secret: true };
  const c = cluster('mesh01');
  const runs: string[][] = [];
  const seen: Array<{ content: string; mode: number }> = [];
  const helmRunner = async (args: string[]) => {
    runs.push(args);
    // helm gets the rendered contents through private files that exist while it runs.
    for (let i = 0; i < args.length; i++) if (args[i] === '-f') seen.push({ content: readFileSync(args[i + 1]!, 'utf8'), mode: statSync(args[i + 1]!).mode & 0o777 });
    c.put(releaseSecret(2, { kubeProxyReplacement: true, cluster: { name: 'mesh01', id: 1 }, tls: { ca: { cert: 'Q0EgQ0VSVA==', key: 'S0VZIE1BVEVSSUFM' } } }));
    return { code: 0, stdout: '', stderr: '' };
  };
  const target = { name: 'mesh01', client: c, objects: [], helm: { values: [values, secrets], chart: 'rke2-charts/rke2-cilium', version: '1.16.302', connection: { kubeconfig: '/k/mesh01.yaml', context: 'mesh01' } } };
  const r = await applyMesh([target], { method: 'helm', helmRunner, sleep: async () => {}, now: () => 0 });
  assert.equal(r.clusters[0]?.outcome, 'changed', r.clusters[0]?.error?.message);
  assert.deepEqual(runs[0]?.slice(0, 7), ['upgrade', 'rke2-cilium', 'rke2-charts/rke2-cilium', '--version', '1.16.302', '-n', 'kube-system']);
  assert.deepEqual([runs[0]?.[7], runs[0]?.[9], runs[0]?.[11]], ['-f', '-f', '--kubeconfig']);
  assert.deepEqual(seen, [{ content: values.content, mode: 0o600 }, { content: secrets.content, mode: 0o600 }]);
  assert.ok(!existsSync(runs[0]![8]!) && !existsSync(runs[0]![10]!), 'the temporary values files are gone after helm ran');
  assert.ok(runs[0]?.includes('--kube-context'));
  assert.deepEqual(r.clusters[0]?.warnings, [HELM_CONTROLLER_WARNING]);
  assert.ok(!(r.clusters[0]?.valuesDiff ?? '').includes('S0VZIE1BVEVSSUFM'), 'secrets file values are redacted');
  assert.deepEqual(r.clusters[0]?.revision, { before: 1, after: 2 });
  const again = await applyMesh([target], { method: 'helm', helmRunner, sleep: async () => {}, now: () => 0 });
  assert.equal(again.clusters[0]?.outcome, 'unchanged');
  assert.equal(runs.length, 1, 'no second helm upgrade: no new revision');
});

test('apply --method helm: a failing helm and a missing release are clear failures', async () => {
  const values = { name: 'values/mesh01.yaml', content: 'a: 1\n', secret: false };
  const c = cluster('mesh01');
  const r = await applyMesh([{ name: 'mesh01', client: c, objects: [], helm: { values: [values], chart: 'x/rke2-cilium', version: '1', connection: {} } }], {
    method: 'helm', helmRunner: async () => ({ code: 1, stdout: '', stderr: 'Error: UPGRADE FAILED: chart "rke2-cilium" version "1" not found' }), now: () => 0, sleep: async () => {},
  });
  assert.match(r.clusters[0]?.error?.message ?? '', /cluster mesh01: helm upgrade rke2-cilium failed: Error: UPGRADE FAILED/);
  const empty = new FakeClusterClient('mesh02');
  const r2 = await applyMesh([{ name: 'mesh02', client: empty, objects: [], helm: { values: [values], chart: 'x', version: '1', connection: {} } }], { method: 'helm', helmRunner: async () => ({ code: 0, stdout: '', stderr: '' }) });
  assert.match(r2.clusters[0]?.error?.message ?? '', /helm release rke2-cilium not found in kube-system/);
});

test('diff: drift is per cluster; in sync is no drift', async () => {
  const a = cluster('mesh01');
  const b = cluster('mesh02');
  await applyMesh([{ name: 'mesh02', client: b, objects: rendered('mesh02', 2) }], { waitForHelmController: false, timeoutMs: 0 });
  const d = await diffMesh([{ name: 'mesh01', client: a, objects: rendered('mesh01', 1) }, { name: 'mesh02', client: b, objects: rendered('mesh02', 2) }]);
  assert.equal(d.drift, true);
  assert.deepEqual(d.clusters.map((c) => [c.cluster, c.differences.map((x) => `${x.kind}:${x.state}`)]), [
    ['mesh01', ['HelmChartConfig:differs', 'Secret:missing']],
    ['mesh02', []],
  ]);
  assert.equal((await diffMesh([{ name: 'mesh02', client: b, objects: rendered('mesh02', 2) }])).drift, false);
});

test('objectsFromYaml rejects documents that are not objects meshform applies', () => {
  assert.throws(() => objectsFromYaml('kind: Pod\nmetadata: {name: x}\n---\nfoo: bar\n'), /not an object meshform can apply/);
  assert.equal(objectsFromYaml('---\n# only a comment\n').length, 0);
});

test('apply --method helm reads rendered values that keep many of the user\'s aliases (more than the yaml default of 100)', async () => {
  const values = [{ name: 'values/mesh01.yaml', content: `a: &a 1\nl: [${Array.from({ length: 150 }, () => '*a').join(', ')}]\n`, secret: false }];
  const c = cluster('mesh01');
  const r = await applyMesh([{ name: 'mesh01', client: c, objects: [], helm: { values, chart: 'x/rke2-cilium', version: '1', connection: {} } }], {
    method: 'helm', helmRunner: async () => ({ code: 1, stdout: '', stderr: 'Error: stop here' }), now: () => 0, sleep: async () => {},
  });
  // Reaching helm shows the values were read; with the yaml default (100) it fails with "Excessive alias count".
  assert.match(r.clusters[0]?.error?.message ?? '', /helm upgrade rke2-cilium failed: Error: stop here/);
});

test('apply --method helm --dry-run uses the rendered values themselves: no values file on disk is read (none was written)', async () => {
  const { makeSpec, FAKE_CA } = await import('../render/helpers.js');
  const { planMesh } = await import('../../src/plan/plan.js');
  const { renderMesh } = await import('../../src/render/render.js');
  const { clusterArtefacts, helmExtraObjects, helmValues } = await import('../../src/apply/from-render.js');
  const files = renderMesh(planMesh(makeSpec(2, { method: 'helm' }), { ca: FAKE_CA }), { targets: ['values', 'rke2'] });
  const ca = clusterArtefacts('c000', files);
  assert.deepEqual(ca.values.map((f) => f.role), ['values', 'secretValues']);
  const values = helmValues(ca);
  assert.deepEqual(values.map((v) => v.content), ca.values.map((f) => f.content));
  const c = cluster('c000');
  const runs: string[][] = [];
  const r = await applyMesh(
    [{ name: 'c000', client: c, objects: helmExtraObjects(ca), helm: { values, chart: 'x/rke2-cilium', version: '1', connection: {} } }],
    { method: 'helm', dryRun: true, helmRunner: async (args) => (runs.push(args), { code: 0, stdout: '', stderr: '' }), now: () => 0, sleep: async () => {} },
  );
  assert.equal(r.clusters[0]?.outcome, 'would-change', r.clusters[0]?.error?.message);
  // The diff shows the rendered peer list, read from the artefact, not from a file.
  assert.match(r.clusters[0]?.valuesDiff ?? '', /c001/);
  assert.doesNotMatch(r.clusters[0]?.valuesDiff ?? '', /BEGIN|PRIVATE/, 'secret values stay redacted');
  assert.equal(runs.length, 0, 'a dry run never runs helm');
});

test('render artefacts carry cluster, role and the objects of their manifests', async () => {
  const { makeSpec, FAKE_CA } = await import('../render/helpers.js');
  const { planMesh } = await import('../../src/plan/plan.js');
  const { renderMesh } = await import('../../src/render/render.js');
  const files = renderMesh(planMesh(makeSpec(2, { method: 'helm', rke2Version: 'v1.32.4+rke2r1' }), { ca: FAKE_CA }), { targets: ['values', 'rke2', 'plan'] });
  const hcc = files.find((f) => f.cluster === 'c001' && f.role === 'helmChartConfig')!;
  assert.deepEqual(hcc.objects, objectsFromYaml(hcc.content, hcc.path));
  assert.equal(hcc.objects?.[0]?.kind, 'HelmChartConfig');
  assert.equal(files.find((f) => f.role === 'plan')?.cluster, undefined);
  for (const f of files) assert.ok(f.role, `${f.path} has a role`);
});
