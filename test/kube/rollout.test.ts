import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rolloutState, waitForRollout } from '../../src/kube/rollout.js';
import { mapBounded } from '../../src/kube/pool.js';
import { FakeClusterClient } from './fake-client.js';
import type { KubeObject } from '../../src/kube/client.js';

const ds = (gen: number, observed: number, desired: number, updated: number, available: number): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'cilium', namespace: 'kube-system', generation: gen },
  status: { observedGeneration: observed, desiredNumberScheduled: desired, updatedNumberScheduled: updated, numberAvailable: available },
});
const deploy = (replicas: number, updated: number, total: number, available: number): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'clustermesh-apiserver', namespace: 'kube-system', generation: 2 },
  spec: { replicas }, status: { observedGeneration: 2, updatedReplicas: updated, replicas: total, availableReplicas: available },
});

test('DaemonSet rollout follows kubectl: generation, updated, available', () => {
  assert.equal(rolloutState(ds(3, 2, 4, 4, 4)).done, false);
  assert.match(rolloutState(ds(3, 3, 4, 2, 2)).message, /2 of 4 updated pods are scheduled/);
  assert.match(rolloutState(ds(3, 3, 4, 4, 3)).message, /3 of 4 updated pods are available/);
  assert.equal(rolloutState(ds(3, 3, 4, 4, 4)).done, true);
});

test('Deployment rollout waits for old replicas to go', () => {
  assert.equal(rolloutState(deploy(2, 1, 2, 2)).done, false);
  assert.match(rolloutState(deploy(2, 2, 3, 2)).message, /1 old replicas pending termination/);
  assert.equal(rolloutState(deploy(2, 2, 2, 2)).done, true);
});

test('waitForRollout polls until done and reports progress', async () => {
  const c = new FakeClusterClient('mesh01', [ds(2, 2, 2, 1, 1)]);
  const seen: string[] = [];
  let polls = 0;
  const done = await waitForRollout(c, 'DaemonSet', 'kube-system', 'cilium', {
    timeoutMs: 10_000, now: () => 0, onProgress: (m) => seen.push(m),
    sleep: async () => { if (++polls === 2) c.put(ds(2, 2, 2, 2, 2)); },
  });
  assert.equal(done.done, true);
  assert.deepEqual(seen, ['1 of 2 updated pods are scheduled', '2 of 2 pods available']);
});

test('waitForRollout times out with a cluster error naming the object', async () => {
  const c = new FakeClusterClient('mesh01', [ds(2, 2, 2, 1, 1)]);
  let t = 0;
  await assert.rejects(
    waitForRollout(c, 'DaemonSet', 'kube-system', 'cilium', { timeoutMs: 3000, now: () => t, sleep: async (ms) => { t += ms; }, pollMs: 1000 }),
    (e: Error & { exitCode?: number }) => /cluster mesh01: DaemonSet kube-system\/cilium did not finish rolling out within 3 s/.test(e.message) && e.exitCode === 3,
  );
});

test('an optional missing Deployment counts as done', async () => {
  const c = new FakeClusterClient('mesh01');
  assert.equal((await waitForRollout(c, 'Deployment', 'kube-system', 'clustermesh-apiserver', { timeoutMs: 0, optional: true })).done, true);
});

test('mapBounded keeps order, bounds concurrency and settles failures separately', async () => {
  let inFlight = 0;
  let peak = 0;
  const r = await mapBounded([1, 2, 3, 4, 5, 6], 2, async (n) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((res) => setTimeout(res, 3));
    inFlight--;
    if (n === 3) throw new Error('three');
    return n * 10;
  });
  assert.equal(peak, 2);
  assert.deepEqual(r.map((x) => (x.ok ? x.value : (x.error as Error).message)), [10, 20, 'three', 40, 50, 60]);
});
