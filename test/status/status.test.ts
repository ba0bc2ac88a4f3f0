import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectStatus, summarize, waitForMesh, type MeshStatus } from '../../src/status/status.js';
import { formatStatusJson, formatStatusTable } from '../../src/status/format.js';
import { clusterError } from '../../src/kube/errors.js';
import { FakeClusterClient, agentPod } from '../kube/fake-client.js';
import { AGENT_115_READY, AGENT_115_X509, AGENT_116_KVSTOREMESH, HEALTH, KVSTOREMESH_116 } from './fixtures.js';

function cluster(name: string, byPod: Record<string, string>, opts: { dbgMissing?: boolean; kvs?: string } = {}): FakeClusterClient {
  const c = new FakeClusterClient(name, Object.keys(byPod).map((p, i) => agentPod(p, `w${i + 1}`)));
  if (opts.kvs !== undefined) c.put(agentPod('clustermesh-apiserver-0', 'w1', 'Running', { 'k8s-app': 'clustermesh-apiserver' }, ['etcd', 'apiserver', 'kvstoremesh']));
  c.execHandler = (_ns, pod, container, cmd) => {
    if (cmd[0] === 'cilium-dbg' && opts.dbgMissing) return { stdout: '', stderr: '', exitCode: 127, message: 'exec: "cilium-dbg": executable file not found in $PATH' };
    if ((cmd[0] === 'cilium-dbg' || cmd[0] === 'cilium') && container === 'cilium-agent') return { stdout: byPod[pod] ?? '', stderr: '', exitCode: 0 };
    if (cmd[0] === 'cilium-health') return { stdout: HEALTH, stderr: '', exitCode: 0 };
    if (cmd[0] === 'kvstoremesh-dbg' && container === 'kvstoremesh') return { stdout: opts.kvs ?? '', stderr: '', exitCode: 0 };
    return { stdout: '', stderr: 'unexpected', exitCode: 1 };
  };
  return c;
}

test('every peer ready on every agent → matrix full and mesh ready', async () => {
  const a = cluster('mesh01', { 'cilium-a': AGENT_115_READY, 'cilium-b': AGENT_115_READY });
  const s = await collectStatus([{ name: 'mesh01', client: a, peers: ['mesh02'] }]);
  assert.deepEqual(s.matrix, [{ cluster: 'mesh01', peer: 'mesh02', ready: 2, total: 2 }]);
  assert.equal(s.ready, true);
  assert.equal(s.clusters[0]?.nodes[0]?.health?.reachable, 1);
  assert.equal(s.clusters[0]?.nodes[0]?.command, 'cilium-dbg');
});

test('one failing agent makes the cell 1/2 and the mesh not ready, with the reason', async () => {
  const a = cluster('mesh01', { 'cilium-a': AGENT_115_READY, 'cilium-b': AGENT_115_X509 });
  const s = await collectStatus([{ name: 'mesh01', client: a, peers: ['mesh02'] }]);
  assert.deepEqual(s.matrix[0], { cluster: 'mesh01', peer: 'mesh02', ready: 1, total: 2 });
  assert.equal(s.ready, false);
  const bad = s.clusters[0]?.nodes.find((n) => n.pod === 'cilium-b')?.peers[0];
  assert.match(bad?.status ?? '', /unknown authority/);
  const table = formatStatusTable(s);
  assert.match(table, /mesh01\s+-\s+1\/2/);
  assert.match(table, /mesh01\/w2 → mesh02: not ready: tls: failed to verify/);
});

test('a peer in the spec that the agent does not know is not ready; extra peers are listed', async () => {
  const a = cluster('mesh01', { 'cilium-a': AGENT_115_READY });
  const s = await collectStatus([{ name: 'mesh01', client: a, peers: ['mesh03'] }]);
  assert.equal(s.ready, false);
  assert.deepEqual(s.clusters[0]?.nodes[0]?.peers[0]?.reasons, ['peer not configured on this node']);
  assert.deepEqual(s.clusters[0]?.nodes[0]?.unexpectedPeers, ['mesh02']);
});

test('falls back to `cilium status` when cilium-dbg is missing (Cilium < 1.15)', async () => {
  const a = cluster('mesh01', { 'cilium-a': AGENT_115_READY }, { dbgMissing: true });
  const s = await collectStatus([{ name: 'mesh01', client: a, peers: ['mesh02'] }]);
  assert.equal(s.ready, true);
  assert.equal(s.clusters[0]?.nodes[0]?.command, 'cilium');
});

test('one exec per agent pod through its shell; an image without a shell gets one exec per command (learned from the pods that answered)', async () => {
  const pods = { 'cilium-a': AGENT_115_READY, 'cilium-b': AGENT_115_READY, 'cilium-c': AGENT_115_READY };
  const withShell = cluster('mesh01', pods);
  const s1 = await collectStatus([{ name: 'mesh01', client: withShell, peers: ['mesh02'] }]);
  assert.equal(s1.ready, true);
  assert.equal(s1.clusters[0]?.nodes.every((n) => n.health?.reachable === 1), true);
  assert.deepEqual(withShell.calls.filter((c) => c.op === 'exec').map((c) => c.command?.[0]), ['sh', 'sh', 'sh']);

  // All pods at once: each tries the shell at most once (those asked before any answer came back);
  // one at a time: only the first pod tries it, the others go straight to one exec per command.
  for (const podConcurrency of [16, 1]) {
    const noShell = cluster('mesh01', pods, { dbgMissing: true });
    noShell.shell = false;
    const s2 = await collectStatus([{ name: 'mesh01', client: noShell, peers: ['mesh02'] }], { podConcurrency });
    assert.equal(s2.ready, true);
    assert.equal(s2.clusters[0]?.nodes.every((n) => n.command === 'cilium' && n.health?.reachable === 1), true);
    const execs = noShell.calls.filter((c) => c.op === 'exec').map((c) => `${c.name} ${c.command?.[0]}`);
    const shellTries = execs.filter((e) => e.endsWith(' sh'));
    if (podConcurrency === 1) assert.deepEqual(shellTries, ['cilium-a sh'], 'one at a time: only the first pod tries the shell');
    else assert.ok(shellTries.length <= Object.keys(pods).length && new Set(shellTries).size === shellTries.length, `at most one try per pod: ${shellTries.join(', ')}`);
    for (const pod of Object.keys(pods)) {
      assert.deepEqual(execs.filter((e) => e.startsWith(`${pod} `) && !e.endsWith(' sh')), [`${pod} cilium-dbg`, `${pod} cilium`, `${pod} cilium-health`]);
    }
  }
});

test('the agents and the KVStoreMesh pods of a cluster are asked at the same time, not one stage after the other', async () => {
  const a = cluster('mesh01', { 'cilium-a': AGENT_116_KVSTOREMESH, 'cilium-b': AGENT_116_KVSTOREMESH }, { kvs: KVSTOREMESH_116 });
  let inFlight = 0;
  let most = 0;
  const exec = a.exec.bind(a);
  a.exec = async (...args: Parameters<typeof exec>) => {
    inFlight++;
    most = Math.max(most, inFlight);
    await new Promise((r) => setTimeout(r, 20));
    try {
      return await exec(...args);
    } finally {
      inFlight--;
    }
  };
  const s = await collectStatus([{ name: 'mesh01', client: a, peers: ['mesh02'] }]);
  assert.equal(s.ready, true);
  const pods = 2 + (s.clusters[0]?.kvstoremesh?.length ?? 0);
  assert.ok((s.clusters[0]?.kvstoremesh?.length ?? 0) >= 1);
  assert.equal(most, pods, `every pod's exec in flight at once (${most} of ${pods})`);
});

test('KVStoreMesh pods are queried in the kvstoremesh container', async () => {
  const a = cluster('mesh01', { 'cilium-a': AGENT_116_KVSTOREMESH }, { kvs: KVSTOREMESH_116 });
  const s = await collectStatus([{ name: 'mesh01', client: a, peers: ['mesh02'] }]);
  assert.equal(s.clusters[0]?.kvstoremesh?.[0]?.peers[0]?.ready, true);
  assert.equal(s.ready, true);
});

test('an agent pod that is not Running, or whose exec fails, is reported and not ready', async () => {
  const a = cluster('mesh01', { 'cilium-a': AGENT_115_READY });
  a.put(agentPod('cilium-z', 'w9', 'Pending'));
  const s = await collectStatus([{ name: 'mesh01', client: a, peers: ['mesh02'] }]);
  const z = s.clusters[0]?.nodes.find((n) => n.pod === 'cilium-z');
  assert.equal(z?.error, 'pod is Pending');
  assert.deepEqual(s.matrix[0], { cluster: 'mesh01', peer: 'mesh02', ready: 1, total: 2 });
});

test('an unreachable cluster is reported in its entry; the others are still read', async () => {
  const a = cluster('mesh01', { 'cilium-a': AGENT_115_READY });
  const b = cluster('mesh02', { 'cilium-x': AGENT_115_READY });
  b.fail = () => clusterError({ cluster: 'mesh02', code: 'KUBE_UNREACHABLE', message: 'cannot reach the Kubernetes API at https://127.0.0.1:1 (connection refused)', rule: 'r', fix: 'f' });
  const s = await collectStatus([{ name: 'mesh01', client: a, peers: ['mesh02'] }, { name: 'mesh02', client: b, peers: ['mesh01'] }]);
  assert.equal(s.clusters[0]?.nodes.length, 1);
  assert.equal(s.clusters[1]?.errorCode, 'KUBE_UNREACHABLE');
  assert.match(s.clusters[1]?.error ?? '', /^cluster mesh02: cannot reach/);
  assert.equal(s.ready, false);
  assert.match(formatStatusTable(s), /mesh02\s+error\s+-/);
});

test('agents are asked concurrently but within the bound', async () => {
  const pods: Record<string, string> = {};
  for (let i = 0; i < 12; i++) pods[`cilium-${String(i).padStart(2, '0')}`] = AGENT_115_READY;
  const a = cluster('mesh01', pods);
  let inFlight = 0;
  let peak = 0;
  const inner = a.execHandler;
  a.execHandler = async (...args) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    return inner(...args);
  };
  const s = await collectStatus([{ name: 'mesh01', client: a, peers: ['mesh02'] }], { podConcurrency: 4, health: false });
  assert.equal(s.matrix[0]?.total, 12);
  assert.equal(peak, 4);
});

test('waitForMesh polls with backoff until ready', async () => {
  const seq: boolean[] = [false, false, true];
  let t = 0;
  const sleeps: number[] = [];
  const r = await waitForMesh(async () => summarizeReady(seq.shift() ?? true), {
    timeoutMs: 60_000, intervalMs: 1000, now: () => t, sleep: async (ms) => { sleeps.push(ms); t += ms; },
  });
  assert.equal(r.timedOut, false);
  assert.deepEqual(sleeps, [1000, 2000]);
});

test('waitForMesh with readyReads 2 (the gates): a ready read followed by a not-ready one does not pass; two in a row do', async () => {
  const seq: boolean[] = [true, false, true, true, false];
  let t = 0;
  let reads = 0;
  const r = await waitForMesh(async () => { reads++; return summarizeReady(seq.shift() ?? false); }, {
    timeoutMs: 60_000, intervalMs: 1000, maxIntervalMs: 2000, readyReads: 2, now: () => t, sleep: async (ms) => { t += ms; },
  });
  assert.equal(r.timedOut, false);
  assert.equal(r.status.ready, true);
  assert.equal(reads, 4, 'passes on the 4th read (ready after ready), not on the 1st');
  // The default stays one ready read.
  const once = await waitForMesh(async () => summarizeReady(true), { timeoutMs: 1000, now: () => 0, sleep: async () => {} });
  assert.equal(once.status.ready, true);
});

test('waitForMesh gives up at the timeout and returns the last status', async () => {
  let t = 0;
  const r = await waitForMesh(async () => summarizeReady(false), { timeoutMs: 5000, intervalMs: 1000, now: () => t, sleep: async (ms) => { t += ms; } });
  assert.equal(r.timedOut, true);
  assert.equal(r.status.ready, false);
  assert.equal(t, 5000);
});

test('JSON output round-trips', async () => {
  const a = cluster('mesh01', { 'cilium-a': AGENT_115_READY });
  const s = await collectStatus([{ name: 'mesh01', client: a, peers: ['mesh02'] }]);
  assert.deepEqual(JSON.parse(formatStatusJson(s)), JSON.parse(JSON.stringify(s)));
  assert.match(formatStatusTable(s, { detail: true }), /CLUSTER\s+NODE\s+POD\s+PEER/);
});

function summarizeReady(ready: boolean): MeshStatus {
  return summarize([{ name: 'a', peers: ['b'], nodes: [{ pod: 'p', node: 'n', peers: [{ peer: 'b', ready, reasons: ready ? [] : ['x'], numFailures: 0 }], unexpectedPeers: [] }] }]);
}
