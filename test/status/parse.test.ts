import { test } from 'node:test';
import assert from 'node:assert/strict';
import { notReadyReasons, parseAgentStatus, parseHealthStatus, parseKvstoremeshStatus, StatusParseError } from '../../src/status/parse.js';
import { AGENT_115_READY, AGENT_115_X509, AGENT_116_KVSTOREMESH, AGENT_119_PARTIAL, HEALTH, KVSTOREMESH_116 } from './fixtures.js';

test('1.15: a connected, synced peer is ready; global services are read', () => {
  const cm = parseAgentStatus(AGENT_115_READY);
  assert.equal(cm?.numGlobalServices, 11);
  const p = cm?.clusters[0];
  assert.equal(p?.name, 'mesh02');
  assert.equal(p?.config?.clusterId, 2);
  assert.deepEqual(notReadyReasons(p), []);
});

test('1.15: omitted booleans read as false and the failure text is kept', () => {
  const p = parseAgentStatus(AGENT_115_X509)?.clusters[0];
  assert.equal(p?.ready, false);
  assert.equal(p?.connected, false);
  assert.equal(p?.numFailures, 4);
  assert.equal(p?.lastFailure, '2026-11-27T10:00:00.000Z');
  const reasons = notReadyReasons(p);
  assert.match(reasons[0] ?? '', /x509: certificate signed by unknown authority/);
  assert.match(reasons.join(';'), /not synced: nodes, endpoints, identities, services/);
});

test('1.16 KVStoreMesh: the agent view and the kvstoremesh list both parse', () => {
  const p = parseAgentStatus(AGENT_116_KVSTOREMESH)?.clusters[0];
  assert.equal(p?.config?.kvstoremesh, true);
  assert.equal(parseAgentStatus(AGENT_116_KVSTOREMESH)?.numGlobalServices, undefined);
  const k = parseKvstoremeshStatus(KVSTOREMESH_116);
  assert.equal(k.length, 1);
  assert.deepEqual(notReadyReasons(k[0]), []);
  assert.deepEqual(parseKvstoremeshStatus({ clusters: JSON.parse(KVSTOREMESH_116) }).map((c) => c.name), ['mesh02']);
});

test('1.19: extra MCS fields are tolerated; config not retrieved and unsynced parts are reasons', () => {
  const cm = parseAgentStatus(AGENT_119_PARTIAL);
  assert.deepEqual(notReadyReasons(cm?.clusters[0]), []);
  const reasons = notReadyReasons(cm?.clusters[1]);
  assert.ok(reasons.includes('cluster configuration required but not retrieved'));
  assert.ok(reasons.includes('not synced: endpoints, services'));
  assert.match(reasons[0] ?? '', /^not ready/);
});

test('no cluster-mesh key means no mesh', () => {
  assert.equal(parseAgentStatus('{"cilium":{"state":"Ok"}}'), undefined);
});

test('a warning line before the JSON is skipped; garbage is a parse error', () => {
  assert.equal(parseAgentStatus(`level=warning msg="x"\n${AGENT_115_READY}`)?.clusters.length, 1);
  assert.throws(() => parseAgentStatus('Error: cannot connect'), StatusParseError);
});

test('an absent peer is not ready', () => {
  assert.deepEqual(notReadyReasons(undefined), ['peer not configured on this node']);
});

test('pre-1.14 entries without connected/synced are judged by ready alone', () => {
  const cm = parseAgentStatus({ 'cluster-mesh': { clusters: [{ name: 'b', ready: true, status: 'ok', 'num-nodes': 2 }] } });
  assert.equal(cm?.clusters[0]?.connected, undefined);
  assert.deepEqual(notReadyReasons(cm?.clusters[0]), []);
});

test('cilium-health: nodes named <cluster>/<node>; failed probes make a node unreachable', () => {
  const nodes = parseHealthStatus(HEALTH);
  assert.deepEqual(nodes.map((n) => [n.cluster, n.node, n.reachable]), [
    ['mesh01', 'w1', true],
    ['mesh02', 'w1', false],
  ]);
  assert.equal(nodes[1]?.errors.length, 2);
  assert.match(nodes[1]?.errors[1] ?? '', /connection timed out/);
});
