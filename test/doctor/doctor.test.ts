import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { diagnoseStatus, doctorReport, formatDoctorReport, runProbes } from '../../src/doctor/doctor.js';
import { liveCredentials, liveProbeTargets } from '../../src/doctor/live.js';
import { summarize } from '../../src/status/status.js';
import type { ProbeResult } from '../../src/doctor/probe.js';
import { FakeClusterClient } from '../kube/fake-client.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('status failures are classified per cluster/peer and folded over nodes', () => {
  const bad = { peer: 'mesh02', ready: false, reasons: ['not ready: etcdserver: permission denied'], status: 'failed to detect whether the cluster configuration is required: etcdserver: permission denied', numFailures: 3 };
  const s = summarize([
    { name: 'mesh01', peers: ['mesh02'], nodes: [
      { pod: 'a', node: 'w1', peers: [bad], unexpectedPeers: [] },
      { pod: 'b', node: 'w2', peers: [bad], unexpectedPeers: [] },
      { pod: 'c', node: 'w3', peers: [{ peer: 'mesh02', ready: false, reasons: ['peer not configured on this node'], numFailures: 0 }], unexpectedPeers: [] },
    ] },
    { name: 'mesh02', peers: ['mesh01'], nodes: [], error: 'cluster mesh02: cannot reach the Kubernetes API at https://127.0.0.1:1 (connection refused)' },
  ]);
  const f = diagnoseStatus(s);
  const perm = f.find((x) => x.code === 'PERMISSION_DENIED');
  assert.deepEqual(perm?.where, ['w1', 'w2']);
  assert.match(perm?.cause ?? '', /mesh02 does not admit user remote-mesh01/);
  assert.ok(f.some((x) => x.source === 'cluster' && x.cluster === 'mesh02'));
  assert.ok(f.some((x) => x.code === 'PEER_NOT_CONFIGURED' && /have no configuration for mesh02/.test(x.cause)));
  const text = formatDoctorReport(doctorReport(s, []));
  assert.match(text, /✗ mesh01 → mesh02 \[PERMISSION_DENIED\] \(agent, w1, w2\)/);
});

test('an agent that does not answer is AGENT_NO_ANSWER naming the pod; another exec failure stays UNKNOWN', () => {
  const s = summarize([
    { name: 'mesh02', peers: ['mesh01'], nodes: [
      { pod: 'cilium-x1', node: 'w1', peers: [], unexpectedPeers: [], error: 'exec cilium-dbg status -o json in kube-system/cilium-x1 did not finish within 5 s' },
      { pod: 'cilium-x2', node: 'w2', peers: [], unexpectedPeers: [], error: 'exec failed: container not found' },
    ] },
  ]);
  const f = diagnoseStatus(s);
  const hung = f.find((x) => x.code === 'AGENT_NO_ANSWER');
  assert.deepEqual(hung?.where, ['w1']);
  assert.match(hung?.fix ?? '', /kubectl -n kube-system logs cilium-x1 -c cilium-agent/);
  assert.match(hung?.fix ?? '', /--exec-timeout/);
  assert.deepEqual(f.find((x) => x.code === 'UNKNOWN')?.where, ['w2']);
});

test('a healthy mesh and passing probes report no problems', () => {
  const s = summarize([{ name: 'a', peers: ['b'], nodes: [{ pod: 'p', node: 'n', peers: [{ peer: 'b', ready: true, reasons: [], numFailures: 0 }], unexpectedPeers: [] }] }]);
  const probe: ProbeResult = { target: { cluster: 'a', peer: 'b', host: '127.0.0.1', port: 1, serverName: 'b.mesh.cilium.io' }, ok: true, steps: [{ step: 'tcp', ok: true, detail: '' }] };
  const r = doctorReport(s, [probe]);
  assert.equal(r.healthy, true);
  assert.match(formatDoctorReport(r), /^no problems found/);
});

test('a peer Cilium 1.16+ only waits for: NOT_CONNECTED, dropped when a probe of that link names the cause', () => {
  // The real status text of Cilium 1.16.19/1.18.11 for a foreign CA (kvstoremesh-dbg status in the lab).
  const waiting = 'Waiting for initial connection to be established';
  const s = summarize([{ name: 'a', peers: ['b'], nodes: [{ pod: 'p', node: 'n', peers: [{ peer: 'b', ready: false, status: waiting, reasons: [`not ready: ${waiting}`], numFailures: 0 }], unexpectedPeers: [] }] }]);
  const alone = doctorReport(s, []);
  assert.deepEqual(alone.findings.map((f) => f.code), ['NOT_CONNECTED']);
  assert.match(alone.findings[0]!.fix, /cilium-dbg troubleshoot clustermesh b/);
  const probe: ProbeResult = {
    target: { cluster: 'a', peer: 'b', host: '127.0.0.1', port: 1, serverName: 'b.mesh.cilium.io' }, ok: false, failedStep: 'tls',
    steps: [{ step: 'tcp', ok: true, detail: '' }, { step: 'tls', ok: false, detail: 'x509: certificate signed by unknown authority' }],
    diagnosis: { code: 'CA_MISMATCH', seen: 'x509: certificate signed by unknown authority', cause: 'c', fix: 'f' },
  };
  const r = doctorReport(s, [probe]);
  assert.deepEqual(r.findings.map((f) => [f.code, f.source]), [['CA_MISMATCH', 'probe']]);
  assert.equal(r.healthy, false);
});

test('failed probes become findings naming the endpoint and the first failing step', async () => {
  const results = await runProbes([{ cluster: 'a', peer: 'b', host: '127.0.0.1', port: 1, serverName: 'b.x' }], () => ({ caPem: '', certPem: '', key: { reveal: () => '' } as never }), { timeoutMs: 500 });
  const r = doctorReport(undefined, results);
  assert.equal(r.healthy, false);
  assert.equal(r.findings[0]?.code, 'UNREACHABLE');
  assert.deepEqual(r.findings[0]?.where, ['127.0.0.1:1']);
  assert.match(r.findings[0]?.seen ?? '', /^tcp: dial tcp 127.0.0.1:1: connect: connection refused/);
});

test('live probe targets: peers from cilium-clustermesh, names mapped through hostAliases; credentials from the remote cert', async () => {
  const cfg = (host: string) => b64(stringify({ endpoints: [`https://${host}:32380`], 'trusted-ca-file': '/var/lib/cilium/clustermesh/common-etcd-client-ca.crt' }));
  const c = new FakeClusterClient('mesh01', [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cilium-clustermesh', namespace: 'kube-system' }, data: { mesh02: cfg('mesh02.mesh.cilium.io'), mesh03: cfg('cm.mesh03.example.net'), 'mesh02.etcd-client.crt': b64('x') } },
    { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'cilium', namespace: 'kube-system' }, spec: { template: { spec: { hostAliases: [{ ip: '198.51.100.21', hostnames: ['mesh02.mesh.cilium.io'] }, { ip: '198.51.100.22', hostnames: ['mesh02.mesh.cilium.io'] }] } } } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'clustermesh-apiserver-remote-cert', namespace: 'kube-system' }, data: { 'tls.crt': b64('CERT'), 'tls.key': b64('KEY'), 'ca.crt': b64('CA') } },
  ]);
  const t = await liveProbeTargets(c);
  assert.deepEqual(t.map((x) => [x.peer, x.host, x.port, x.serverName]), [
    ['mesh02', '198.51.100.21', 32380, 'mesh02.mesh.cilium.io'],
    ['mesh02', '198.51.100.22', 32380, 'mesh02.mesh.cilium.io'],
    ['mesh03', 'cm.mesh03.example.net', 32380, 'cm.mesh03.example.net'],
  ]);
  const cred = await liveCredentials(c);
  assert.equal(cred?.certPem, 'CERT');
  assert.equal(cred?.key.reveal(), 'KEY');
  assert.equal(JSON.stringify(cred).includes('KEY"'), false);
  assert.equal(await liveCredentials(new FakeClusterClient('x')), undefined);
});

test('cilium-health unreachable nodes become NODE_UNREACHABLE findings naming the port numbers', () => {
  const s = summarize([{ name: 'mesh01', peers: ['mesh02'], nodes: [{ pod: 'p', node: 'w1', peers: [{ peer: 'mesh02', ready: true, reasons: [], numFailures: 0 }], unexpectedPeers: [],
    health: { reachable: 1, total: 2, unreachable: [{ name: 'mesh02/w1', cluster: 'mesh02', node: 'w1', reachable: false, errors: ['node icmp: Connection timed out'] }] } }] }]);
  const f = diagnoseStatus(s);
  assert.equal(f.length, 1);
  assert.equal(f[0]?.code, 'NODE_UNREACHABLE');
  assert.equal(f[0]?.peer, 'mesh02');
  assert.match(f[0]?.fix ?? '', /4240\/TCP.*8472\/UDP/);
});

test('live mesh config: every declared peer (even one without a usable endpoint), the agent image version; admitted users; the login user of a cert', async () => {
  const { liveMeshConfig, liveRemoteUsers, certificateUser } = await import('../../src/doctor/live.js');
  const { makeCa, makeLeaf } = await import('./certs.js');
  const c = new FakeClusterClient('mesh01', [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cilium-clustermesh', namespace: 'kube-system' },
      data: { mesh02: b64(stringify({ endpoints: ['https://mesh02.mesh.cilium.io:32380'] })), mesh03: b64('endpoints: [not a url]'), 'mesh02.etcd-client.crt': b64('x') } },
    { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'cilium', namespace: 'kube-system' },
      spec: { template: { spec: { containers: [{ name: 'cilium-agent', image: 'rancher/mirrored-cilium-cilium:v1.16.3@sha256:abc' }] } } } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'clustermesh-remote-users', namespace: 'kube-system' }, data: { 'users.yaml': 'users:\n- name: remote-mesh02\n  role: remote\n' } },
  ]);
  const m = await liveMeshConfig(c);
  assert.deepEqual(m.declaredPeers, ['mesh02', 'mesh03']);
  assert.deepEqual(m.targets.map((t) => t.peer), ['mesh02']);
  assert.equal(m.imageVersion, '1.16.3');
  assert.deepEqual(await liveRemoteUsers(c), ['remote-mesh02']);
  assert.equal(await liveRemoteUsers(new FakeClusterClient('x')), undefined, 'authMode legacy renders no users ConfigMap');
  const ca = await makeCa();
  assert.equal(certificateUser((await makeLeaf(ca, 'remote-mesh01')).certPem), 'remote-mesh01');
  assert.equal(certificateUser('not a certificate'), undefined);
});
