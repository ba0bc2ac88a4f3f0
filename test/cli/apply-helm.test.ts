// apply --method helm --dry-run on an output folder that was never rendered: the helm method takes
// the values from render's artefacts, not from files on disk (which a dry run never writes). Before
// the artefacts were typed, it read <out>/values/<c>.yaml and failed (or diffed a stale render).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { applyCommand } from '../../src/cli/live.js';
import type { Io } from '../../src/cli/io.js';
import { loadSpec } from '../../src/spec/load.js';
import { FakeClusterClient, fakeConnector } from '../kube/fake-client.js';
import type { KubeObject } from '../../src/kube/client.js';
import { helmChart, releaseSecret } from '../apply/fixtures.js';
import { exampleCopy, meshform } from './helpers.js';

test('apply --method helm --dry-run diffs the rendered values without any values file on disk', async () => {
  const dir = await exampleCopy('seed');
  assert.equal(meshform(['ca', 'init', '--spec', 'mesh.yaml'], { cwd: dir }).code, 0);
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => void out.push(t), err: (t) => void err.push(t), now: () => new Date(), cwd: dir, env: {} };
  const clients = new Map<string, FakeClusterClient>();
  // Worker nodes at the spec's endpoint IPs, the HelmChart and a deployed release: all apply reads.
  const node = (name: string, ip: string): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: {} }, status: { addresses: [{ type: 'InternalIP', address: ip }] } });
  const spec = await loadSpec(join(dir, 'mesh.yaml'));
  for (const c of spec.clusters) {
    const ips = c.endpoint.type === 'NodePort' ? c.endpoint.ips : [];
    clients.set(c.name, new FakeClusterClient(c.name, [helmChart, releaseSecret(1, { kubeProxyReplacement: true }), ...ips.map((ip, i) => node(`${c.name}-w${i}`, ip))]));
  }
  const code = await applyCommand(
    io,
    join(dir, 'mesh.yaml'),
    { out: 'never-rendered', method: 'helm', dryRun: true, timeout: '1m', chart: 'rke2-charts/rke2-cilium', helm: 'no-such-helm', allowIdentityChange: false, force: false, wait: false, output: 'json', progress: false },
    { connector: fakeConnector(clients) },
  );
  assert.ok(out.length > 0, err.join("\n"));
  const result = JSON.parse(out.join('\n')) as { clusters: Array<{ cluster: string; outcome: string; error?: { message: string } }> };
  assert.deepEqual(
    result.clusters.map((c) => [c.cluster, c.outcome, c.error?.message]),
    [['mesh01', 'would-change', undefined], ['mesh02', 'would-change', undefined]],
    err.join('\n'),
  );
  assert.equal(code, 0, err.join('\n'));
  assert.ok(!existsSync(join(dir, 'never-rendered')), 'a dry run writes nothing');
  for (const [name, c] of clients) assert.ok(!c.calls.some((x) => x.op === "apply" && !x.dryRun), `${name}: nothing applied`);
});
