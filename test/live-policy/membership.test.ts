// Membership of a running mesh (issue 11): who joins, stays and leaves, the waves and their gates
// as data, and add / remove / both / an unreachable cluster / waves with a fault, through the CLI
// in-process on fake RKE2 clusters whose agents report a peer ready only when both ends list each
// other (the chart derives a cluster's remote users and the peers it dials from one list).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { gateLinks, membershipOf, planWaves, wavesProblems, clearMeshValues } from '../../src/apply/membership.js';
import { parseWaves, recordedClusters } from '../../src/apply/rollout.js';
import type { KubeObject } from '../../src/kube/client.js';
import { world, type Rke2FakeCluster } from './world.js';

const three = [{ name: 'mesh01', id: 1, net: 1 }, { name: 'mesh02', id: 2, net: 2 }, { name: 'mesh03', id: 3, net: 3 }];
const full = (names: string[]) => names.map((name) => ({ name, peers: names.filter((n) => n !== name) }));

test('membershipOf: fresh, joining, staying and leaving from the live peer lists and the record', () => {
  const fresh = membershipOf({ clusters: full(['a', 'b']), livePeers: new Map([['a', []], ['b', undefined]]) });
  assert.deepEqual(fresh, { fresh: true, joining: [], staying: ['a', 'b'], leaving: [] });
  const add = membershipOf({ clusters: full(['a', 'b', 'c']), livePeers: new Map([['a', ['b']], ['b', ['a']], ['c', []]]) });
  assert.deepEqual([add.fresh, add.joining, add.staying], [false, ['c'], ['a', 'b']]);
  // c could not be read: assumed to stay, never planned as joining.
  const unread = membershipOf({ clusters: full(['a', 'b', 'c']), livePeers: new Map([['a', ['b']], ['b', ['a']]]) });
  assert.deepEqual(unread.joining, []);
  const remove = membershipOf({ clusters: full(['a', 'c']), livePeers: new Map([['a', ['b', 'c']], ['c', ['a', 'b']]]), recorded: ['a', 'b', 'c', 'd'] });
  assert.deepEqual(remove.leaving, [
    { name: 'b', listedBy: ['a', 'c'], recorded: true },
    { name: 'd', listedBy: [], recorded: true },
  ]);
});

test('planWaves: leave, then join, then the rest (all, N at a time, or the user\'s groups); a fresh mesh has no join wave', () => {
  const m = membershipOf({ clusters: full(['a', 'b', 'c', 'd']), livePeers: new Map([['a', ['b', 'c']], ['b', ['a', 'c']], ['c', ['a', 'b']], ['d', []]]) });
  const kinds = (ws: ReturnType<typeof planWaves>) => ws.map((w) => `${w.kind}:${w.clusters.join(',')}`);
  assert.deepEqual(kinds(planWaves(['a', 'b', 'c', 'd'], m)), ['join:d', 'rollout:a,b,c']);
  assert.deepEqual(kinds(planWaves(['a', 'b', 'c', 'd'], m, { waveSize: 2, prune: ['x'] })), ['leave:x', 'join:d', 'rollout:a,b', 'rollout:c']);
  assert.deepEqual(kinds(planWaves(['a', 'b', 'c', 'd'], m, { waves: [['c'], ['d', 'a']] })), ['join:d', 'rollout:c', 'rollout:a', 'rollout:b']);
  const fresh = membershipOf({ clusters: full(['a', 'b']), livePeers: new Map() });
  assert.deepEqual(kinds(planWaves(['a', 'b'], fresh, { waveSize: 1 })), ['rollout:a', 'rollout:b']);
  assert.deepEqual(planWaves(['a', 'b'], fresh).map((w) => w.index), [1]);
  assert.deepEqual(wavesProblems(['a', 'b'], parseWaves('a;b,z;a;')), ['wave 2 names z, which is not a cluster of the spec', 'a is named in more than one wave', 'wave 4 is empty']);
});

test('gateLinks: only links both ends configure; settled clusters carry their spec peers, the others their live ones', () => {
  const input = { clusters: full(['a', 'b', 'c']), livePeers: new Map([['a', ['b', 'x']], ['b', ['a', 'x']], ['c', []]]) };
  // c joined (settled): a and b do not list it yet, so no link of c is gated; a↔b stay gated.
  assert.deepEqual(Object.fromEntries(gateLinks(input, new Set(['c']))), { a: ['b'], b: ['a'], c: [] });
  assert.deepEqual(Object.fromEntries(gateLinks(input, new Set(['c', 'a']))), { a: ['b', 'c'], b: ['a'], c: ['a'] });
  assert.deepEqual(Object.fromEntries(gateLinks(input, new Set(['a', 'b', 'c']))), { a: ['b', 'c'], b: ['a', 'c'], c: ['a', 'b'] });
});

test('clearMeshValues empties clustermesh.config.clusters (list or map form) and keeps the rest with comments; nothing to clear → undefined', () => {
  const v = '# mine\ncluster:\n  name: b # keep\nclustermesh:\n  config:\n    enabled: true\n    clusters:\n      - name: a\n        port: 32379\n';
  const out = clearMeshValues(v)!;
  assert.match(out, /# mine/);
  assert.match(out, /name: b # keep/);
  assert.deepEqual((parse(out) as { clustermesh: { config: unknown } }).clustermesh.config, { enabled: true, clusters: [] });
  assert.deepEqual((parse(clearMeshValues('clustermesh: {config: {clusters: {a: {port: 1}}}}\n')!) as { clustermesh: { config: unknown } }).clustermesh.config, { clusters: {} });
  assert.equal(clearMeshValues('clustermesh: {config: {clusters: []}}\n'), undefined);
  assert.equal(clearMeshValues('cluster: {name: b}\n'), undefined);
});

test('recordedClusters reads plan.json names and connections; anything else is no record', () => {
  assert.deepEqual(recordedClusters(JSON.stringify({ clusters: [{ name: 'a', connection: { context: 'ctx-a', kubeconfig: 'k' } }, { name: 'b' }, { id: 3 }] })), [
    { name: 'a', connection: { context: 'ctx-a', kubeconfig: 'k' } },
    { name: 'b' },
  ]);
  assert.deepEqual(recordedClusters('not json'), []);
  assert.deepEqual(recordedClusters(undefined), []);
});

// ---------------------------------------------------------------------------------------------
// On fake RKE2 clusters, through the CLI.

/** The peers a cluster's HelmChartConfig lists. */
function livePeers(c: Rke2FakeCluster): string[] {
  const text = (c.peek('HelmChartConfig', 'rke2-cilium', 'kube-system')?.['spec'] as { valuesContent?: string } | undefined)?.valuesContent ?? '';
  const list = ((parse(text) ?? {}) as { clustermesh?: { config?: { clusters?: { name: string }[] } } }).clustermesh?.config?.clusters ?? [];
  return list.map((p) => p.name);
}

async function meshWorld() {
  const w = await world({ clusters: three });
  const order: string[] = [];
  for (const c of w.clusters.values()) {
    // Agents: a peer is ready when both ends list each other (as the chart's users and peers are one list).
    c.execHandler = (_ns, _pod, _container, cmd) => {
      if (!(cmd[0] === 'cilium-dbg' && cmd[1] === 'status')) return { stdout: '', stderr: `${cmd[0]}: not in this fake`, exitCode: 127 };
      const clusters = livePeers(c).map((p) => {
        const other = w.clusters.get(p);
        const ready = other !== undefined && livePeers(other).includes(c.shape.name);
        return ready
          ? { name: p, ready: true, connected: true, status: 'etcd: 1/1 connected', config: { required: true, retrieved: true }, synced: { nodes: true, endpoints: true, identities: true, services: true } }
          : { name: p, ready: false, connected: false, status: 'Waiting for initial connection to be established' };
      });
      return { stdout: JSON.stringify({ 'cluster-mesh': { clusters } }), stderr: '', exitCode: 0 };
    };
    const apply = c.apply.bind(c);
    c.apply = async (obj: KubeObject, opts = {}) => {
      if (!opts.dryRun && obj.kind === 'HelmChartConfig') order.push(c.shape.name);
      return apply(obj, opts);
    };
  }
  const spec = () => parse(readFileSync(w.specFile, 'utf8')) as { clusters: Record<string, unknown>[] };
  const all = spec().clusters;
  const setClusters = (names: string[]) => {
    const d = spec();
    d.clusters = all.filter((c) => names.includes(c['name'] as string));
    writeFileSync(w.specFile, stringify(d));
  };
  const apply = (...extra: string[]) => w.run('apply', w.specFile, '--out', 'out', '--no-progress', '--gate-timeout', '3s', ...extra);
  const status = () => w.run('status', w.specFile);
  return { ...w, order, setClusters, apply, status, peersOf: (n: string) => livePeers(w.clusters.get(n)!) };
}

test('add a cluster to a running mesh: it joins first, then the others add it; every link ready, none of the old ones broken', async () => {
  const w = await meshWorld();
  w.setClusters(['mesh01', 'mesh02']);
  const formed = await w.apply();
  assert.equal(formed.code, 0, formed.stdout + formed.stderr);
  assert.equal((await w.status()).code, 0);
  w.order.length = 0;
  w.setClusters(['mesh01', 'mesh02', 'mesh03']);
  const dry = await w.apply('--dry-run');
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stderr, /wave 1 \(join\): join mesh03\nwave 2 \(rollout\): apply mesh01, mesh02/);
  assert.deepEqual(w.order, [], 'a dry run writes nothing');
  const r = await w.apply();
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(w.order[0], 'mesh03', 'mesh03 first');
  assert.deepEqual(w.order.slice(1).sort(), ['mesh01', 'mesh02']);
  assert.match(r.stderr, /wave 1: gate passed after [\d.]+ s \(2 links ready\)/, 'the old links were gated and stayed ready');
  assert.deepEqual(['mesh01', 'mesh02', 'mesh03'].map(w.peersOf), [['mesh02', 'mesh03'], ['mesh01', 'mesh03'], ['mesh01', 'mesh02']]);
  const s = await w.status();
  assert.equal(s.code, 0, s.stdout);
});

test('remove a cluster: without --prune the others drop it and a warning says how to clear it; --prune clears it first; it shows nowhere', async () => {
  const w = await meshWorld();
  assert.equal((await w.apply()).code, 0);
  w.setClusters(['mesh01', 'mesh03']);
  const plain = await w.apply('--dry-run');
  assert.match(plain.stderr, /warning MEMBER_LEAVING at clusters: cluster mesh02 left the spec: mesh01, mesh03 still list it and drop it now; its own mesh configuration stays until it is cleared/);
  assert.match(plain.stderr, /fix: +clear it too: meshform apply .*mesh\.yaml --prune \(see it first with --dry-run\), or meshform disconnect mesh02 --context mesh02/);
  const pruneDry = await w.apply('--prune', '--dry-run');
  assert.match(pruneDry.stderr, /wave 1 \(leave\): clear the mesh configuration of mesh02\nwave 2 \(rollout\): apply mesh01, mesh03/);
  assert.deepEqual(w.peersOf('mesh02'), ['mesh01', 'mesh03'], 'dry run: nothing changed');
  const r = await w.apply('--prune');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual(['mesh01', 'mesh02', 'mesh03'].map(w.peersOf), [['mesh03'], [], ['mesh01']]);
  // Nothing meshform wrote on the staying clusters names mesh02 any more.
  for (const n of ['mesh01', 'mesh03']) {
    const c = w.clusters.get(n)!;
    const written = [...c.objects.values()].filter((o) => o.kind === 'HelmChartConfig' || (o.kind === 'Secret' && o['type'] !== 'helm.sh/release.v1'));
    assert.doesNotMatch(JSON.stringify(written), /mesh02/, n);
  }
  const s = await w.status();
  assert.equal(s.code, 0, s.stdout);
  assert.doesNotMatch(s.stdout, /mesh02/);
  // Re-adding it works: it joins again.
  w.setClusters(['mesh01', 'mesh02', 'mesh03']);
  const back = await w.apply();
  assert.equal(back.code, 0, back.stdout + back.stderr);
  assert.match(back.stderr, /wave 1 \(join\): join mesh02/);
  assert.equal((await w.status()).code, 0);
});

test('remove and add at once; a leaving cluster that is unreachable is named with what to run later, the others are still cleaned', async () => {
  const w = await meshWorld();
  w.setClusters(['mesh01', 'mesh02']);
  assert.equal((await w.apply()).code, 0);
  w.setClusters(['mesh01', 'mesh03']);
  w.clusters.get('mesh02')!.fail = (call) => (call.op === 'get' ? Object.assign(new Error('connect ECONNREFUSED 127.2.0.11:6443'), { code: 'ECONNREFUSED' }) : undefined);
  w.order.length = 0;
  const r = await w.apply('--prune');
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stderr, /error MEMBER_CLEAR_FAILED at clusters: cluster mesh02: cannot clear the mesh configuration of mesh02: .*ECONNREFUSED.*the other clusters drop it all the same/);
  assert.match(r.stderr, /fix: +once mesh02 is reachable: meshform disconnect mesh02 --context mesh02/);
  // mesh01's only peer leaves: mesh01 and mesh03 form a mesh from scratch, together.
  assert.doesNotMatch(r.stderr, /wave \d/);
  assert.deepEqual([...w.order].sort(), ['mesh01', 'mesh03']);
  assert.deepEqual([w.peersOf('mesh01'), w.peersOf('mesh03')], [['mesh03'], ['mesh01']]);
  assert.equal((await w.status()).code, 0);
  // Later, reachable again: disconnect clears it.
  w.clusters.get('mesh02')!.fail = () => undefined;
  assert.deepEqual(w.peersOf('mesh02'), ['mesh01']);
  const d = await w.run('disconnect', 'mesh02', '--context', 'mesh02');
  assert.equal(d.code, 0, d.stdout + d.stderr);
  assert.deepEqual(w.peersOf('mesh02'), []);
  assert.match(d.stdout, /mesh02 dials no peer and admits none now/);
  const again = await w.run('disconnect', 'mesh02', '--context', 'mesh02');
  assert.match(again.stderr, /warning MEMBER_NOTHING_TO_CLEAR/);
  assert.equal(again.code, 0);
});

test('waves of 1: a failing cluster stops the rollout, later waves untouched; a gate that never passes stops it with exit 1; the re-run converges', async () => {
  const w = await meshWorld();
  const bad = w.clusters.get('mesh02')!;
  bad.fail = (call) => (call.op === 'apply' && !call.dryRun ? new Error('the server is currently unable to handle the request') : undefined);
  const r = await w.apply('--wave-size', '1');
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /Stopped after wave 2: a cluster of it failed\. Not touched: mesh03\./);
  assert.deepEqual([w.peersOf('mesh01'), w.peersOf('mesh02'), w.peersOf('mesh03')], [['mesh02', 'mesh03'], [], []]);
  bad.fail = () => undefined;
  // The gate after wave 1 (mesh01 is settled, mesh02 and mesh03 not yet meshed) has no link to wait for.
  const again = await w.apply('--wave-size', '1');
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.equal((await w.status()).code, 0);

  // A gate that cannot pass: mesh03's agents stop answering ready; only mesh01 is applied.
  const w2 = await meshWorld();
  assert.equal((await w2.apply()).code, 0);
  const m3 = w2.clusters.get('mesh03')!;
  const ok = m3.execHandler;
  m3.execHandler = (ns, pod, container, cmd) => {
    const out = ok!(ns, pod, container, cmd) as { stdout: string; stderr: string; exitCode: number };
    return { ...out, stdout: out.stdout.replaceAll('"ready":true', '"ready":false') };
  };
  // A change that touches every cluster, so each wave has work.
  const d = parse(readFileSync(w2.specFile, 'utf8')) as Record<string, unknown>;
  d['apiserver'] = { replicas: 3 };
  writeFileSync(w2.specFile, stringify(d));
  const g = await w2.apply('--waves', 'mesh01;mesh02,mesh03');
  assert.equal(g.code, 1, g.stdout + g.stderr);
  assert.match(g.stderr, /wave 1: gate NOT passed after [\d.]+ s: mesh03→mesh01 0\/2, mesh03→mesh02 0\/2/);
  assert.match(g.stdout, /Stopped after wave 1: its links did not all become ready\. Not touched: mesh02, mesh03\./);
  const bad2 = await w2.apply('--waves', 'mesh01;mesh09');
  assert.equal(bad2.code, 2);
  assert.match(bad2.stderr, /error USAGE_WAVES at --waves: wave 2 names mesh09, which is not a cluster of the spec/);
});

test('init --add: the new cluster is appended to the spec with the next free ID and NodePort, comments kept; an overlapping one is refused with nothing written', async () => {
  const w = await meshWorld();
  w.setClusters(['mesh01', 'mesh02']);
  writeFileSync(w.specFile, `# our mesh, reviewed by the network team\n${readFileSync(w.specFile, 'utf8')}`);
  assert.equal((await w.apply()).code, 0);
  // mesh03's pod CIDR overlaps mesh01's: refused, nothing written.
  const m3 = w.clusters.get('mesh03')!;
  const chart = m3.peek('HelmChart', 'rke2-cilium', 'kube-system')!;
  const spec = chart['spec'] as { set: Record<string, string> };
  const own = spec.set['global.clusterCIDR'];
  m3.put({ ...chart, spec: { ...spec, set: { ...spec.set, 'global.clusterCIDR': '10.244.0.0/16' } } });
  const before = readFileSync(w.specFile, 'utf8');
  const bad = await w.run('init', '--add', w.specFile, '--context', 'mesh03');
  assert.equal(bad.code, 1, bad.stdout + bad.stderr);
  assert.match(bad.stderr, /error INIT_ADD_INVALID at clusters: .*mesh\.yaml with mesh03 added breaks the rules above: nothing was written/);
  assert.match(bad.stderr, /10\.244\.0\.0\/16/);
  assert.equal(readFileSync(w.specFile, 'utf8'), before);
  m3.put({ ...chart, spec: { ...spec, set: { ...spec.set, 'global.clusterCIDR': own! } } });
  const again = await w.run('init', '--add', w.specFile, '--context', 'mesh02');
  assert.equal(again.code, 1);
  assert.match(again.stderr, /error INIT_ALREADY_IN_SPEC at --context: context mesh02 is already used by mesh02/);

  const r = await w.run('init', '--add', w.specFile, '--context', 'mesh03');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /Added mesh03 \(id 3\) to /);
  const text = readFileSync(w.specFile, 'utf8');
  assert.match(text, /^# our mesh, reviewed by the network team/);
  assert.equal(text.slice(0, before.length), before, 'the existing spec is kept as it was; the entry is appended');
  const added = (parse(text) as { clusters: { name: string; id: number; context: string; podCIDR: string; endpoint: { nodePort: number; ips: string[] } }[] }).clusters[2]!;
  assert.deepEqual([added.name, added.id, added.context, added.podCIDR, added.endpoint.ips], ['mesh03', 3, 'mesh03', own, ['127.3.0.21', '127.3.0.22']]);
  assert.ok(![32379, 32380].includes(added.endpoint.nodePort), `a NodePort not used by mesh01/mesh02: ${added.endpoint.nodePort}`);
  const joined = await w.apply();
  assert.equal(joined.code, 0, joined.stdout + joined.stderr);
  assert.match(joined.stderr, /wave 1 \(join\): join mesh03/);
  assert.equal((await w.status()).code, 0);
});
