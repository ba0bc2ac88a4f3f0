// Which clusters a finding stops (src/live/scope.ts), from the scope the rule gave it: never from
// its path. Specs are built in memory (test/validate/builder.ts); the findings come from the real rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Finding } from '../../src/errors.js';
import type { Facts } from '../../src/kube/facts.js';
import { admitApply, clustersStoppedBy, findingsFor } from '../../src/live/scope.js';
import { validateSpec } from '../../src/validate/rules.js';
import { buildSpec } from '../validate/builder.js';

const NOW = new Date('2026-11-27T12:00:00Z');

/** c1, c2, c3, where c3 peers with c2 only (and c2 with both): c1 does not dial c3. */
function triangle() {
  const spec = buildSpec(3);
  const [c1, c2, c3] = spec.clusters as [typeof spec.clusters[0], typeof spec.clusters[0], typeof spec.clusters[0]];
  c1.peers = ['c2'];
  c2.peers = ['c1', 'c3'];
  c3.peers = ['c2'];
  for (const c of spec.clusters) c.peersExplicit = true;
  return { spec, c1, c2, c3 };
}

/** Facts in which `c`'s first endpoint IP is a control-plane node of `c`. */
function controlPlaneFacts(spec: ReturnType<typeof buildSpec>, name: string): Facts {
  const facts: Facts = { clusters: {} };
  for (const c of spec.clusters) {
    const ips = c.endpoint.type === 'NodePort' ? c.endpoint.ips : [];
    facts.clusters[c.name] = {
      nodes: ips.map((ip, j) => ({ name: `${c.name}-n${j}`, roles: c.name === name && j === 0 ? ['control-plane', 'etcd'] : ['worker'], internalIPs: [ip], externalIPs: [], podCIDRs: [] })),
    };
  }
  return facts;
}

test('an endpoint IP that is a control-plane node stops its cluster and every cluster that dials it, and no other', () => {
  const { spec } = triangle();
  const findings = validateSpec(spec, { facts: controlPlaneFacts(spec, 'c3'), now: NOW }).filter((f) => f.code === 'ENDPOINT_IP_CONTROL_PLANE');
  assert.equal(findings.length, 1);
  assert.deepEqual(findings[0]?.scope, { kind: 'dialled', cluster: 'c3' });
  assert.deepEqual(clustersStoppedBy(findings[0]!, spec), ['c3', 'c2'], 'c2 dials c3; c1 does not');
  assert.deepEqual(findingsFor('c1', findings, spec), []);
});

test('a CIDR finding stops its own cluster only; a mesh-wide one (or one without a scope) stops all', () => {
  const { spec, c2 } = triangle();
  c2.podCIDRs = [spec.clusters[0]!.podCIDRs[0]!];
  const overlap = validateSpec(spec, { now: NOW }).find((f) => f.code === 'POD_CIDR_OVERLAP');
  assert.deepEqual(overlap?.scope, { kind: 'cluster', cluster: 'c2' });
  assert.deepEqual(clustersStoppedBy(overlap!, spec), ['c2']);
  spec.maxConnectedClusters = 7 as 255;
  const mesh = validateSpec(spec, { now: NOW }).find((f) => f.code === 'MAX_CONNECTED_INVALID');
  assert.deepEqual(mesh?.scope, { kind: 'mesh' });
  assert.deepEqual(clustersStoppedBy(mesh!, spec), ['c1', 'c2', 'c3']);
  const { scope: _s, ...bare } = mesh!;
  assert.deepEqual(clustersStoppedBy(bare, spec), ['c1', 'c2', 'c3']);
});

test('the scope is what decides, not the path: a path that names one cluster with a mesh scope stops all', () => {
  const { spec } = triangle();
  const f: Finding = { code: 'ENDPOINT_IP_CONTROL_PLANE', severity: 'error', path: 'clusters[2].endpoint.ips[0]', message: 'm', rule: 'r', fix: 'f', scope: { kind: 'mesh' } };
  assert.deepEqual(clustersStoppedBy(f, spec), ['c1', 'c2', 'c3']);
  assert.deepEqual(clustersStoppedBy({ ...f, path: '', scope: { kind: 'dialled', cluster: 'c1' } }, spec), ['c1', 'c2']);
});

test('admitApply: mesh-wide errors refuse all; errors stopping every chosen cluster refuse; else the stopped ones are held back', () => {
  const { spec } = triangle();
  const dialled: Finding = { code: 'ENDPOINT_IP_CONTROL_PLANE', severity: 'error', path: 'p', message: 'm', rule: 'r', fix: 'f', scope: { kind: 'dialled', cluster: 'c3' } };
  const warning: Finding = { ...dialled, code: 'ENDPOINT_SINGLE_IP', severity: 'warning' };
  assert.deepEqual(admitApply(spec, [dialled, warning], ['c1', 'c2', 'c3']), { refused: false, held: ['c2', 'c3'], warnings: [warning] });
  assert.deepEqual(admitApply(spec, [dialled], ['c2', 'c3']), { refused: true, findings: [dialled], clusters: ['c2', 'c3'], meshWide: false });
  assert.deepEqual(admitApply(spec, [dialled], ['c1']), { refused: false, held: [], warnings: [] }, '--only c1: nothing stops it');
  const mesh: Finding = { ...dialled, scope: { kind: 'mesh' } };
  assert.deepEqual(admitApply(spec, [mesh], ['c1']), { refused: true, findings: [mesh], clusters: [], meshWide: true });
});
