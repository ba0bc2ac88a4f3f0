// The certificates in use on a live cluster (issue 12 item 1): read from the chart's Secrets,
// judged against the shared CA and the renewal window, and doctor's findings about them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { issueLeaves } from '../../src/pki/leaf.js';
import { clusterCertificates, formatCertificates, judgeCertificates, judgeOptionsOf } from '../../src/pki/live.js';
import { certificateFindings } from '../../src/doctor/certs.js';
import { isHealthy } from '../../src/doctor/doctor.js';
import type { KubeObject } from '../../src/kube/client.js';
import { FakeClusterClient } from '../kube/fake-client.js';
import { DAY, T0, leafRequestsFor, makeCa } from './helpers.js';

const reqs = (cluster: string) =>
  leafRequestsFor({ cluster, domain: 'mesh.cilium.io', namespace: 'kube-system', authMode: 'cluster', localCert: true, extraDnsNames: [], extraIpAddresses: [] });
const at = (days: number) => new Date(T0.getTime() + days * DAY);
const secret = (name: string, data: Record<string, string>): KubeObject => ({
  apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'kube-system' },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
});

async function clusterWith(caPem: string, leaves: { request: { kind: string }; certPem: string }[]) {
  const objs = [secret('cilium-ca', { 'ca.crt': caPem }), ...leaves.map((l) => secret(`clustermesh-apiserver-${l.request.kind}-cert`, { 'tls.crt': l.certPem, 'ca.crt': caPem }))];
  return new FakeClusterClient('a', objs);
}

test('ok, due, expired and foreign, from the live Secrets; status table and doctor findings', async () => {
  const ca = await makeCa();
  const leaves = await issueLeaves(reqs('a'), ca, { validityDays: 365, renewBeforeDays: 30, keyAlgorithm: 'ecdsa-p256', now: T0 });
  const client = await clusterWith(ca.certPem, leaves);
  const judge = (days: number, shared = ca) => clusterCertificates([{ name: 'a', client }], 'kube-system', judgeOptionsOf(shared, 30, at(days)));

  const fresh = await judge(10);
  assert.deepEqual(fresh[0]!.certs.map((c) => [c.role, c.state, c.daysLeft]), [['ca', 'ok', 3640], ['server', 'ok', 355], ['admin', 'ok', 355], ['remote', 'ok', 355], ['local', 'ok', 355]]);
  assert.equal(fresh[0]!.certs[1]!.fingerprint256, new X509Certificate(leaves[0]!.certPem).fingerprint256);
  assert.equal(fresh[0]!.certs[1]!.issuer, 'CN=Cilium CA');
  assert.deepEqual(certificateFindings(fresh), []);

  const due = await judge(350);
  assert.deepEqual(due[0]!.certs.map((c) => c.state), ['ok', 'due', 'due', 'due', 'due']);
  const dueFindings = certificateFindings(due, 'mesh.yaml');
  assert.deepEqual(dueFindings.map((f) => f.code), ['CERT_DUE', 'CERT_DUE', 'CERT_DUE', 'CERT_DUE']);
  assert.match(dueFindings[0]!.seen, /server certificate \(Secret clustermesh-apiserver-server-cert\): expires in 15 day\(s\), inside the renewal window of 30 days/);
  assert.equal(isHealthy(dueFindings, undefined), true, 'a certificate due for renewal is a warning');

  const expired = await judge(400);
  assert.deepEqual(expired[0]!.certs.map((c) => c.state), ['ok', 'expired', 'expired', 'expired', 'expired']);
  const ex = certificateFindings(expired);
  assert.equal(ex[0]!.code, 'CERT_EXPIRED');
  assert.match(ex[0]!.fix, /meshform apply mesh\.yaml --out <out>/);
  assert.equal(isHealthy(ex, undefined), false);

  // Judged against another shared CA: the cluster's CA and every leaf are foreign.
  const other = await makeCa({ cn: 'Other CA' });
  const foreign = await judge(10, other);
  assert.deepEqual(foreign[0]!.certs.map((c) => c.state), ['foreign', 'foreign', 'foreign', 'foreign', 'foreign']);
  assert.match(certificateFindings(foreign)[0]!.cause, /not the mesh's shared CA/);
  // ... unless that CA is trusted beside it (a rotation in progress).
  const trusted = await clusterCertificates([{ name: 'a', client }], 'kube-system', judgeOptionsOf({ certPem: other.certPem, trust: [{ certPem: ca.certPem }] }, 30, at(10)));
  assert.deepEqual(trusted[0]!.certs.map((c) => c.state), ['ok', 'ok', 'ok', 'ok', 'ok']);

  const table = formatCertificates(due);
  assert.match(table, /^CLUSTER +CERTIFICATE +NOT AFTER +DAYS +STATE/);
  assert.match(table, /\na +server +\d{4}-\d\d-\d\d +15 +due /);
});

test('a cluster whose Secrets cannot be read says why; a Secret without a certificate is left out; garbage is unreadable', async () => {
  const ca = await makeCa();
  const client = new FakeClusterClient('b', [secret('cilium-ca', { 'ca.crt': ca.certPem }), secret('clustermesh-apiserver-server-cert', { 'tls.key': 'x' })]);
  const r = await clusterCertificates([{ name: 'b', client }], 'kube-system', judgeOptionsOf(ca, 30, T0));
  assert.deepEqual(r[0]!.certs.map((c) => c.role), ['ca']);
  client.fail = () => Object.assign(new Error('secrets is forbidden: User "viewer" cannot get resource "secrets"'), { statusCode: 403 });
  const denied = await clusterCertificates([{ name: 'b', client }], 'kube-system', judgeOptionsOf(ca, 30, T0));
  assert.match(denied[0]!.error!, /forbidden/);
  assert.match(formatCertificates(denied), /b +- +- +- +unreadable/);
  const bad = judgeCertificates([{ role: 'server', secret: 's', pem: '-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n' }], judgeOptionsOf(ca, 30, T0));
  assert.equal(bad[0]!.state, 'unreadable');
});
