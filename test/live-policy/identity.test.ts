// A meshed cluster's name or ID never changes in place (issue 11 item 3): the identity check, and
// the guided sequence it gives as the fix, walked through in-process on fake RKE2 clusters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { identityFindings, meshPeersOf } from '../../src/discover/discover.js';
import type { Facts } from '../../src/kube/facts.js';
import { world } from './world.js';

test('meshPeersOf: the list and the 1.19 map form; no peers while clustermesh.config is not enabled', () => {
  assert.deepEqual(meshPeersOf({ clustermesh: { config: { enabled: true, clusters: [{ name: 'b' }, { name: 'a' }] } } }), ['a', 'b']);
  assert.deepEqual(meshPeersOf({ clustermesh: { config: { enabled: true, clusters: { c: { port: 1 } } } } }), ['c']);
  assert.deepEqual(meshPeersOf({ clustermesh: { config: { clusters: [{ name: 'a' }] } } }), []);
  assert.equal(meshPeersOf(undefined), undefined);
});

test('a meshed cluster renamed or re-numbered is refused even with --allow-identity-change; one not yet meshed only warns with it', () => {
  const meshed = { clusterName: 'mesh02', clusterId: 2, peers: ['mesh01'] };
  const rename = identityFindings({ name: 'mesh02b', id: 7, index: 1 }, meshed, { allowIdentityChange: true });
  assert.deepEqual(rename.map((f) => [f.code, f.severity, f.path, f.value]), [['CLUSTER_RENAME_MESHED', 'error', 'clusters[1].name', 'mesh02']]);
  assert.match(rename[0]!.message, /runs Cilium as mesh02 \(cluster-id 2\) and is meshed with mesh01: the spec would change its name mesh02 → mesh02b, ID 2 → 7 in place/);
  assert.match(rename[0]!.fix, /1\. disconnect: keep name mesh02 and id 2 in the spec for now, give it peers: \[\]/);
  assert.match(rename[0]!.fix, /2\. change name and ID together .* meshform apply --only mesh02b --allow-identity-change; workloads: Cilium's docs ask to restart every workload/);
  assert.match(rename[0]!.fix, /3\. reconnect: remove the peers lists again, meshform apply, then meshform status --wait/);
  assert.deepEqual(rename[0]!.scope, { kind: 'dialled', cluster: 'mesh02b' });
  const id = identityFindings({ name: 'mesh02', id: 7, index: 1 }, meshed, { allowIdentityChange: true });
  assert.deepEqual(id.map((f) => [f.code, f.severity, f.path]), [['CLUSTER_ID_CHANGE_MESHED', 'error', 'clusters[1].id']]);
  // Not meshed (no peers in its values): --allow-identity-change still works.
  const lone = { clusterName: 'mesh02', clusterId: 2, peers: [] };
  assert.deepEqual(identityFindings({ name: 'mesh02b', id: 7 }, lone).map((f) => [f.code, f.severity]), [['CLUSTER_IDENTITY_MISMATCH', 'error'], ['CLUSTER_ID_CHANGE', 'error']]);
  assert.deepEqual(identityFindings({ name: 'mesh02b', id: 7 }, lone, { allowIdentityChange: true }).map((f) => f.severity), ['warning', 'warning']);
  assert.deepEqual(identityFindings({ name: 'mesh02', id: 2 }, meshed), [], 'no change, nothing to say');
  // The context points at mesh02, which lists mesh01 as its peer: not mesh01 renamed, but the wrong cluster.
  const wrong = identityFindings({ name: 'mesh01', id: 1, index: 0 }, meshed, { allowIdentityChange: true });
  assert.deepEqual(wrong.map((f) => [f.code, f.severity, f.path]), [['CLUSTER_IDENTITY_MISMATCH', 'error', 'clusters[0].context']]);
  assert.match(wrong[0]!.message, /the context points at mesh02, a peer of mesh01/);
});

test('on a running mesh: a rename is refused before any write; the guided sequence (disconnect, rename with ID, reconnect) goes through', async () => {
  const w = await world();
  const apply = (...extra: string[]) => w.run('apply', w.specFile, '--out', 'out', '--no-progress', ...extra);
  assert.equal((await apply()).code, 0, 'the mesh is formed');
  const edit = (fn: (d: { clusters: Record<string, unknown>[] }) => void) => {
    const d = parse(readFileSync(w.specFile, 'utf8')) as { clusters: Record<string, unknown>[] };
    fn(d);
    writeFileSync(w.specFile, stringify(d));
  };
  const mesh02 = w.clusters.get('mesh02')!;
  const writes = () => [...w.clusters.values()].map((c) => c.calls.filter((x) => x.op === 'apply').length);

  // In place: refused, with and without --allow-identity-change, nothing written.
  edit((d) => Object.assign(d.clusters[1]!, { name: 'mesh03', id: 3 }));
  const before = writes();
  for (const flags of [[], ['--allow-identity-change']]) {
    const r = await apply(...flags);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /error CLUSTER_RENAME_MESHED at clusters\[1\]\.name: cluster mesh03: the cluster behind its context runs Cilium as mesh02 \(cluster-id 2\) and is meshed with mesh01/);
    assert.match(r.stderr, /fix: +if the context of mesh03 is right and this is a rename, do it in three steps/);
    assert.match(r.stderr, /no cluster was touched/);
  }
  assert.deepEqual(writes(), before, 'no apply call, not even a dry run');

  // 1. Disconnect under the old name and ID.
  edit((d) => {
    Object.assign(d.clusters[1]!, { name: 'mesh02', id: 2, peers: [] });
    d.clusters[0]!['peers'] = [];
  });
  assert.equal((await apply()).code, 0);
  const facts = JSON.parse((await w.run('discover', w.specFile, '-o', 'json')).stdout) as Facts;
  assert.deepEqual([facts.clusters['mesh01']?.peers, facts.clusters['mesh02']?.peers], [[], []], 'neither is meshed now');
  // 2. Name and ID together, on that cluster only, knowingly.
  edit((d) => Object.assign(d.clusters[1]!, { name: 'mesh03', id: 3 }));
  const renamed = await apply('--only', 'mesh03', '--allow-identity-change');
  assert.equal(renamed.code, 0, renamed.stdout + renamed.stderr);
  assert.match(renamed.stderr, /warning CLUSTER_IDENTITY_MISMATCH at clusters\[1\]\.name/);
  assert.equal((mesh02.peek('ConfigMap', 'cilium-config', 'kube-system')?.['data'] as Record<string, string>)['cluster-name'], 'mesh03');
  // 3. Reconnect.
  edit((d) => {
    for (const c of d.clusters) delete c['peers'];
  });
  const back = await apply();
  assert.equal(back.code, 0, back.stdout + back.stderr);
  assert.match(back.stdout, /mesh01: changed[\s\S]*mesh03: changed/);
});
