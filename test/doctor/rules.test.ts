import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyFailure } from '../../src/doctor/rules.js';

// Failure texts as Cilium agents print them in `cluster-mesh.clusters[].status` (Go error strings),
// one or more per row of DESIGN.md §8.4.
const cases: [string, string][] = [
  ['failed to detect whether the cluster configuration is required: etcdserver: permission denied', 'PERMISSION_DENIED'],
  // Cilium 1.16.19 and 1.18.11 (kvstoremesh-dbg status in the lab) for a foreign CA, a missing user, a
  // wrong port alike: names no cause.
  ['Waiting for initial connection to be established', 'NOT_CONNECTED'],
  ['unable to retrieve cluster configuration: etcdserver: permission denied', 'PERMISSION_DENIED'],
  ['rpc error: code = PermissionDenied desc = etcdserver: permission denied', 'PERMISSION_DENIED'],
  ['tls: failed to verify certificate: x509: certificate signed by unknown authority (possibly because of "crypto/ecdsa: verification error" while trying to verify candidate authority certificate "Cilium CA")', 'CA_MISMATCH'],
  ['x509: certificate signed by unknown authority', 'CA_MISMATCH'],
  ['remote error: tls: unknown certificate authority', 'CA_MISMATCH'],
  ['remote error: tls: bad certificate', 'CA_MISMATCH'],
  ['tls: failed to verify certificate: x509: certificate is valid for clustermesh-apiserver.cilium.io, *.mesh.cilium.io, clustermesh-apiserver.kube-system.svc, not mesh02.example.net', 'SAN_MISSING'],
  ["x509: cannot validate certificate for 198.51.100.7 because it doesn't contain any IP SANs", 'SAN_MISSING'],
  ['context deadline exceeded', 'UNREACHABLE'],
  ['dial tcp 192.0.2.21:32379: connect: connection refused', 'UNREACHABLE'],
  ['dial tcp 192.0.2.21:32379: i/o timeout', 'UNREACHABLE'],
  ['dial tcp 192.0.2.21:32379: connect: no route to host', 'UNREACHABLE'],
  ['remote cluster configuration required but not found', 'CONFIG_NOT_FOUND'],
  ['clusterID 2 is already used by remote cluster mesh03', 'CLUSTER_ID_CLASH'],
  ['remote cluster ID 1 is already assigned to the local cluster', 'CLUSTER_ID_CLASH'],
  ['dial tcp: lookup mesh02.mesh.cilium.io on 10.43.0.10:53: no such host', 'DNS'],
];

for (const [text, code] of cases) {
  test(`classifies "${text.slice(0, 70)}" as ${code}`, () => {
    const d = classifyFailure(text, { cluster: 'mesh01', peer: 'mesh02' });
    assert.equal(d.code, code);
    assert.equal(d.seen, text);
    assert.ok(d.cause.length > 0 && d.fix.length > 0);
  });
}

test('cause and fix name both sides', () => {
  const d = classifyFailure('etcdserver: permission denied', { cluster: 'mesh01', peer: 'mesh02' });
  assert.match(d.cause, /mesh02 does not admit user remote-mesh01/);
  assert.match(d.fix, /worker node IPs/);
});

test('the SAN fix names the missing name', () => {
  const d = classifyFailure('x509: certificate is valid for a.example, not mesh02.example.net', { peer: 'mesh02' });
  assert.match(d.fix, /mesh02\.example\.net/);
});

test('an unknown text is UNKNOWN with a pointer to the log', () => {
  const d = classifyFailure('something odd happened');
  assert.equal(d.code, 'UNKNOWN');
  assert.match(d.fix, /logs/);
});
