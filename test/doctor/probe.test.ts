import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { probeEndpoint, probeTargets, type ProbeCredentials } from '../../src/doctor/probe.js';
import { SecretPem } from '../../src/pki/secret.js';
import { makeCa, makeLeaf, type TestCa } from './certs.js';
import { startFakeEtcd, type FakeEtcd } from './fake-etcd.js';

let ca: TestCa;
let otherCa: TestCa;
let etcd: FakeEtcd;
let cred: ProbeCredentials;
const SERVER_NAMES = ['clustermesh-apiserver.cilium.io', '*.mesh.cilium.io', 'clustermesh-apiserver.kube-system.svc'];

before(async () => {
  ca = await makeCa();
  otherCa = await makeCa('Other CA');
  const server = await makeLeaf(ca, 'clustermesh-apiserver.cilium.io', { dns: SERVER_NAMES, ips: ['127.0.0.1'], server: true });
  const client = await makeLeaf(ca, 'remote-mesh01');
  cred = { caPem: ca.certPem, certPem: client.certPem, key: new SecretPem(client.keyPem) };
  etcd = await startFakeEtcd({ caPem: ca.certPem, certPem: server.certPem, keyPem: server.keyPem, users: ['remote-mesh01'], data: { 'cilium/cluster-config/mesh02': JSON.stringify({ id: 2, capabilities: { cached: true } }) } });
});
after(async () => {
  await etcd.close();
});

const target = (over: Partial<Parameters<typeof probeEndpoint>[0]> = {}) => ({ cluster: 'mesh01', peer: 'mesh02', host: '127.0.0.1', port: etcd.port, serverName: 'mesh02.mesh.cilium.io', ...over });

test('a good endpoint passes every step and returns the peer cluster config', async () => {
  const r = await probeEndpoint(target({ expectedClusterId: 2 }), cred);
  assert.equal(r.ok, true, JSON.stringify(r.steps));
  assert.deepEqual(r.steps.map((s) => s.step), ['tcp', 'tls', 'login', 'read']);
  assert.equal(r.clusterConfig?.['id'], 2);
});

test('a refused port fails at tcp and is classified as unreachable', async () => {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const r = await probeEndpoint(target({ port }), cred);
  assert.equal(r.failedStep, 'tcp');
  assert.match(r.steps.at(-1)?.detail ?? '', /connection refused/);
  assert.equal(r.diagnosis?.code, 'UNREACHABLE');
});

test('a server certificate from another CA fails at tls as x509 unknown authority', async () => {
  const r = await probeEndpoint(target(), { ...cred, caPem: otherCa.certPem });
  assert.equal(r.failedStep, 'tls');
  assert.match(r.steps.at(-1)?.detail ?? '', /x509: certificate signed by unknown authority/);
  assert.equal(r.diagnosis?.code, 'CA_MISMATCH');
});

test('a name the server certificate does not cover fails at tls as a missing SAN', async () => {
  const r = await probeEndpoint(target({ serverName: 'mesh02.example.net' }), cred);
  assert.equal(r.failedStep, 'tls');
  assert.match(r.steps.at(-1)?.detail ?? '', /certificate is valid for .*, not mesh02\.example\.net/);
  assert.equal(r.diagnosis?.code, 'SAN_MISSING');
  assert.match(r.diagnosis?.fix ?? '', /mesh02\.example\.net/);
});

test('a user the peer does not admit fails at login with etcdserver: permission denied', async () => {
  const stranger = await makeLeaf(ca, 'remote-mesh03');
  const r = await probeEndpoint(target({ cluster: 'mesh03' }), { caPem: ca.certPem, certPem: stranger.certPem, key: new SecretPem(stranger.keyPem) });
  assert.equal(r.failedStep, 'login');
  assert.match(r.steps.at(-1)?.detail ?? '', /etcdserver: permission denied/);
  assert.equal(r.diagnosis?.code, 'PERMISSION_DENIED');
  assert.match(r.diagnosis?.cause ?? '', /remote-mesh03/);
});

test('a peer name with no published config fails at read as a name mismatch', async () => {
  const r = await probeEndpoint(target({ peer: 'mesh2', serverName: 'mesh2.mesh.cilium.io' }), cred);
  assert.equal(r.failedStep, 'read');
  assert.equal(r.diagnosis?.code, 'CONFIG_NOT_FOUND');
});

test('a published cluster ID other than the spec says fails at read', async () => {
  const r = await probeEndpoint(target({ expectedClusterId: 7 }), cred);
  assert.equal(r.failedStep, 'read');
  assert.match(r.steps.at(-1)?.detail ?? '', /publishes cluster ID 2, the spec says 7/);
});

test('a DNS name that does not resolve fails at dns', async () => {
  const r = await probeEndpoint(target({ host: 'mesh02.invalid', serverName: 'mesh02.invalid' }), cred, { lookup: async () => [] });
  assert.equal(r.failedStep, 'dns');
  assert.equal(r.diagnosis?.code, 'DNS');
});

test('a DNS name is resolved and then probed', async () => {
  const r = await probeEndpoint(target({ host: 'clustermesh.mesh02.test' }), cred, { lookup: async () => ['127.0.0.1'] });
  assert.equal(r.ok, true, JSON.stringify(r.steps));
  assert.equal(r.steps[0]?.step, 'dns');
});

test('the key never appears in a probe result', async () => {
  const r = await probeEndpoint(target({ serverName: 'wrong.example' }), cred);
  assert.ok(!JSON.stringify(r).includes('PRIVATE KEY'));
});

test('probeTargets dials every IP as <peer>.<domain>, an address as itself', () => {
  assert.deepEqual(probeTargets('mesh01', { peer: 'mesh02', port: 32380, ips: ['192.0.2.1', '192.0.2.2'] }, 'mesh.cilium.io').map((t) => [t.host, t.serverName]), [
    ['192.0.2.1', 'mesh02.mesh.cilium.io'],
    ['192.0.2.2', 'mesh02.mesh.cilium.io'],
  ]);
  assert.deepEqual(probeTargets('a', { peer: 'b', port: 2379, address: 'cm.example.net' }, 'x').map((t) => [t.host, t.serverName]), [['cm.example.net', 'cm.example.net']]);
});
