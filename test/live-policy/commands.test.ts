// Every live command in-process, through `main` and an injected Connector, on in-memory RKE2
// clusters (world.ts): init, discover, apply (--dry-run, then for real), diff, status, doctor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/io.js';
import type { Facts } from '../../src/kube/facts.js';
import { world } from './world.js';

const writes = (c: { calls: { op: string; dryRun?: boolean }[] }) => c.calls.filter((x) => x.op === 'apply' && !x.dryRun).length;

test("discover, apply and diff use the spec's cilium.release and cilium.namespace, not rke2-cilium/kube-system", async () => {
  const w = await world({ release: 'my-cilium', namespace: 'cilium-system' });
  const d = await w.run('discover', w.specFile, '-o', 'json');
  assert.equal(d.code, 0, d.stderr);
  const facts = JSON.parse(d.stdout) as Facts;
  for (const name of ['mesh01', 'mesh02']) {
    const f = facts.clusters[name]!;
    assert.equal(f.helmRelease?.revision, 1, 'the release my-cilium in cilium-system was read');
    assert.equal(f.clusterName, 'default', 'cilium-config read in cilium-system');
    assert.deepEqual(f.clusterCIDR, [name === 'mesh01' ? '10.244.0.0/16' : '10.245.0.0/16'], 'HelmChart my-cilium read');
    assert.equal(f.warnings, undefined, JSON.stringify(f.warnings));
  }
  for (const c of w.clusters.values()) {
    assert.ok(!c.calls.some((x) => x.name === 'rke2-cilium' || x.namespace === 'kube-system' && x.kind !== 'Namespace' && x.kind !== 'HelmChart' && x.kind !== 'HelmChartConfig'), JSON.stringify(c.calls));
  }

  const dry = await w.run('apply', w.specFile, '--out', 'out', '--dry-run', '-o', 'json');
  assert.equal(dry.code, 0, dry.stderr);
  const plan = JSON.parse(dry.stdout) as { clusters: { cluster: string; outcome: string; steps: { step: string; state: string; release?: string; namespace?: string; name?: string }[] }[] };
  for (const c of plan.clusters) {
    assert.equal(c.outcome, 'would-change');
    assert.deepEqual(c.steps.find((s) => s.step === 'wait-helm-revision'), { step: 'wait-helm-revision', release: 'my-cilium', namespace: 'cilium-system', after: 1, state: 'planned' });
    assert.deepEqual(c.steps.filter((s) => s.step === 'rollout').map((s) => `${s.namespace}/${s.name}`), ['cilium-system/cilium', 'cilium-system/clustermesh-apiserver']);
    assert.ok(c.steps.some((s) => s.step === 'write' && (s as unknown as { object: { kind: string; name: string } }).object.name === 'my-cilium'));
  }
  for (const c of w.clusters.values()) assert.equal(writes(c), 0, 'a dry run writes nothing');

  const a = await w.run('apply', w.specFile, '--out', 'out', '--no-progress');
  assert.equal(a.code, 0, a.stdout + a.stderr);
  assert.match(a.stdout, /mesh01: changed .*HelmChartConfig my-cilium \(revision 1 → 2\)/);
  for (const c of w.clusters.values()) assert.ok(c.peek('HelmChartConfig', 'my-cilium', 'kube-system'), 'the HelmChartConfig of the HelmChart my-cilium');
  const diff = await w.run('diff', w.specFile, '--out', 'out');
  assert.equal(diff.code, 0, diff.stdout + diff.stderr);
  assert.match(diff.stdout, /mesh01: in sync\nmesh02: in sync/);
});

test('apply --dry-run prints the plan under each cluster; apply, a second apply that writes nothing, status and doctor', async () => {
  const w = await world();
  const dry = await w.run('apply', w.specFile, '--out', 'out', '--dry-run', '--no-progress');
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /^mesh01: would change Secret meshform-rke2-cilium-values, HelmChartConfig rke2-cilium\n  1\. preflight: live checks pass/m);
  assert.match(dry.stdout, /  3\. server-side dry run of Secret kube-system\/meshform-rke2-cilium-values, HelmChartConfig kube-system\/rke2-cilium\n  4\. server-side apply Secret kube-system\/meshform-rke2-cilium-values  \[planned\]/);
  assert.match(dry.stdout, /  6\. wait for RKE2's helm-controller to install a revision after 1 of kube-system\/rke2-cilium  \[planned\]\n  7\. wait for DaemonSet kube-system\/cilium to roll out  \[planned\]/);
  assert.match(dry.stdout, /\n# mesh01\n/);
  assert.doesNotMatch(dry.stdout + dry.stderr, /PRIVATE KEY/);

  const first = await w.run('apply', w.specFile, '--out', 'out', '--no-progress');
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.match(first.stdout, /mesh02: changed/);
  const counts = [...w.clusters.values()].map(writes);
  const second = await w.run('apply', w.specFile, '--out', 'out', '--no-progress');
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /mesh01: unchanged\nmesh02: unchanged/);
  assert.deepEqual([...w.clusters.values()].map(writes), counts, 'no write at all');

  const s = await w.run('status', w.specFile, '-o', 'json');
  assert.equal(s.code, 0, s.stdout + s.stderr);
  assert.equal((JSON.parse(s.stdout) as { ready: boolean }).ready, true);
  const doc = await w.run('doctor', w.specFile, '--no-probe');
  assert.equal(doc.code, 0, doc.stdout + doc.stderr);
});

test('apply refuses a spec whose peer endpoint is a control-plane node: exit 1, no cluster touched', async () => {
  const w = await world();
  const spec = parse(readFileSync(w.specFile, 'utf8')) as { clusters: { endpoint: { ips: string[] } }[] };
  spec.clusters[1]!.endpoint.ips = ['127.2.0.11', '127.2.0.21'];
  const { writeFileSync } = await import('node:fs');
  writeFileSync(w.specFile, JSON.stringify(spec));
  const r = await w.run('apply', w.specFile, '--out', 'out', '--no-progress');
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /ENDPOINT_IP_CONTROL_PLANE at clusters\[1\]\.endpoint\.ips\[0\]/);
  assert.match(r.stderr, /meshform: mesh01, mesh02 fail the live checks: no cluster was touched/);
  for (const c of w.clusters.values()) assert.equal(c.calls.filter((x) => x.op === 'apply').length, 0);
});

test('init takes its clients from the connector, by context', async () => {
  const w = await world();
  const out: string[] = [];
  const io: Io = { out: (t) => void out.push(t), err: () => undefined, now: () => new Date(), cwd: w.dir, env: {} };
  const code = await main(['init', '--context', 'mesh01', '--context', 'mesh02', '--name', 'fromlive', '--out', 'init'], io, { connector: w.connector });
  assert.equal(code, 0);
  const spec = parse(readFileSync(join(w.dir, 'init', 'mesh.yaml'), 'utf8')) as { clusters: { name: string; context: string; endpoint: { ips: string[] } }[] };
  assert.deepEqual(spec.clusters.map((c) => [c.name, c.context, c.endpoint.ips]), [['mesh01', 'mesh01', ['127.1.0.21', '127.1.0.22']], ['mesh02', 'mesh02', ['127.2.0.21', '127.2.0.22']]]);
  assert.deepEqual(w.connector.requests.slice(-2).map((r) => r.context), ['mesh01', 'mesh02']);
});
