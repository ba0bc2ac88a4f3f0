import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueLeaves, storeKey } from '../../src/pki/leaf.js';
import { serverCertNames } from '../../src/pki/names.js';
import { certStoreFiles, readCertStore } from '../../src/pki/store.js';
import type { IssuedCert, LeafRequest } from '../../src/pki/types.js';
import type { AuthMode } from '../../src/spec/types.js';
import { MeshformError } from '../../src/errors.js';
import { DAY, T0, assertNoKey, hasOpenssl, makeCa, leafRequestsFor } from './helpers.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const opts = { now: T0, validityDays: 365, renewBeforeDays: 30, keyAlgorithm: 'ecdsa-p256' as const };

function requests(names: string[], over: Partial<Parameters<typeof leafRequestsFor>[0]> = {}): LeafRequest[] {
  return names.flatMap((cluster) =>
    leafRequestsFor({
      cluster,
      domain: 'mesh.cilium.io',
      namespace: 'kube-system',
      authMode: 'cluster' as AuthMode,
      localCert: true,
      extraDnsNames: [],
      extraIpAddresses: [],
      ...over,
    }),
  );
}

const existingOf = (issued: IssuedCert[]): Map<string, { certPem: string; keyPem: string }> =>
  new Map(issued.map((c) => [storeKey(c.request), { certPem: c.certPem, keyPem: c.key.reveal() }]));

test('leafRequestsFor: chart names, sorted de-duplicated SANs, custom domain, authMode', () => {
  const [server, admin, remote, local] = leafRequestsFor({
    cluster: 'mesh01',
    domain: 'Example.NET.',
    namespace: 'kube-system',
    authMode: 'cluster',
    localCert: true,
    extraDnsNames: ['b.example.org', 'mesh01.example.net', '198.51.100.7'],
    extraIpAddresses: ['2001:DB8:0::1', '127.0.0.1', '192.0.2.10'],
  });
  assert.deepEqual(server, {
    cluster: 'mesh01',
    kind: 'server',
    commonName: 'clustermesh-apiserver.cilium.io',
    dnsNames: ['*.example.net', '*.mesh.cilium.io', 'b.example.org', 'clustermesh-apiserver.cilium.io', 'clustermesh-apiserver.kube-system.svc', 'mesh01.example.net'],
    ipAddresses: ['127.0.0.1', '192.0.2.10', '198.51.100.7', '::1', '2001:db8::1'],
    usage: 'server',
  });
  assert.equal(admin!.commonName, 'admin-mesh01');
  assert.equal(remote!.commonName, 'remote-mesh01');
  assert.equal(local!.commonName, 'local-mesh01');
  for (const c of [admin, remote, local]) assert.deepEqual([c!.usage, c!.dnsNames, c!.ipAddresses], ['client', [], []]);

  const def = requests(['m'], { authMode: 'migration', localCert: false, namespace: 'cilium' });
  assert.deepEqual(def.map((r) => r.kind), ['server', 'admin', 'remote']);
  assert.equal(def[2]!.commonName, 'remote');
  assert.deepEqual(def[0]!.dnsNames, ['*.mesh.cilium.io', 'clustermesh-apiserver.cilium.io', 'clustermesh-apiserver.cilium.svc', 'm.mesh.cilium.io']);
  assert.equal(requests(['m'], { authMode: 'legacy' })[2]!.commonName, 'remote');

  assert.throws(() => requests(['m'], { extraIpAddresses: ['nope'] }), (e: unknown) => e instanceof MeshformError && e.findings[0]!.code === 'SAN_INVALID');
  assert.throws(() => requests(['m'], { extraDnsNames: ['bad name'] }), (e: unknown) => e instanceof MeshformError && e.findings[0]!.path === 'tls.extraDnsNames[0]');
});

test('issued leaves verify against the CA (Node and openssl), with the right names and usages', async (t) => {
  const ca = await makeCa();
  const reqs = requests(['mesh01', 'mesh02'], { domain: 'example.net', extraIpAddresses: ['192.0.2.10'] });
  const issued = await issueLeaves(reqs, ca, opts);
  assert.deepEqual(issued.map((c) => c.request), reqs, 'request order');
  const caX = new X509Certificate(ca.certPem);
  const dir = await mkdtemp(join(tmpdir(), 'meshform-leaf-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'ca.crt'), ca.certPem);
  for (const c of issued) {
    const x = new X509Certificate(c.certPem);
    assert.ok(x.verify(caX.publicKey), `${c.request.kind} verifies`);
    assert.ok(x.checkIssued(caX));
    assert.ok(x.checkPrivateKey(createPrivateKey(c.key.reveal())));
    assert.equal(x.ca, false);
    assert.equal(x.subject, `CN=${c.request.commonName}`);
    assert.equal(x.fingerprint256, c.fingerprint256);
    assert.equal(x.serialNumber.toUpperCase(), c.serialNumber);
    assert.equal(Date.parse(x.validFrom), T0.getTime() - 5 * 60_000);
    assert.equal(Date.parse(x.validTo), T0.getTime() + 365 * DAY);
    assert.deepEqual([...(x.keyUsage ?? [])].sort(), c.request.usage === 'server' ? [SERVER_AUTH, CLIENT_AUTH] : [CLIENT_AUTH]);
    assert.equal(c.reused, false);
    if (c.request.kind === 'server') {
      // checkHost returns the SAN that matched (here the first in order, `*.example.net`).
      assert.ok(x.checkHost(`${c.request.cluster}.example.net`), `${c.request.cluster}.example.net is covered`);
      assert.ok(c.request.dnsNames.includes(`${c.request.cluster}.example.net`));
      assert.equal(x.checkHost('elsewhere.example.org'), undefined);
      assert.ok(x.checkHost('mesh01.mesh.cilium.io'), 'the chart default wildcard');
      assert.ok(x.checkHost('clustermesh-apiserver.kube-system.svc'));
      assert.equal(x.checkHost('a.b.example.net'), undefined, 'wildcards cover one label only');
      assert.ok(x.checkIP('127.0.0.1') && x.checkIP('::1') && x.checkIP('192.0.2.10'));
    } else {
      assert.equal(x.subjectAltName, undefined);
    }
    if (hasOpenssl) {
      const f = join(dir, `${c.request.cluster}-${c.request.kind}.crt`);
      await writeFile(f, c.certPem);
      const purpose = c.request.usage === 'server' ? 'sslserver' : 'sslclient';
      const out = execFileSync('openssl', ['verify', '-attime', String(T0.getTime() / 1000 + 60), '-purpose', purpose, '-CAfile', join(dir, 'ca.crt'), f]).toString();
      assert.match(out, /: OK/);
    }
  }
  assert.equal(issued.find((c) => c.request.cluster === 'mesh02' && c.request.kind === 'remote')!.request.commonName, 'remote-mesh02');
  assertNoKey([ca.key.reveal(), ...issued.map((c) => c.key.reveal())], issued);
});

test('RSA leaves', async () => {
  const ca = await makeCa({ algorithm: 'rsa-2048' });
  const issued = await issueLeaves(requests(['r']).slice(0, 1), ca, { ...opts, keyAlgorithm: 'rsa-2048' });
  for (const c of issued) {
    const x = new X509Certificate(c.certPem);
    assert.ok(x.verify(new X509Certificate(ca.certPem).publicKey));
    assert.equal(x.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  }
  const again = await issueLeaves(requests(['r']).slice(0, 1), ca, { ...opts, keyAlgorithm: 'rsa-2048', existing: existingOf(issued) });
  assert.ok(again.every((c) => c.reused));
  const toEc = await issueLeaves(requests(['r']).slice(0, 1), ca, { ...opts, existing: existingOf(issued) });
  assert.equal(toEc[0]!.reused, false, 'a changed key algorithm re-issues');
});

test('reuse: same inputs give byte-identical PEMs; changed SAN, other CA, renewal window, not-yet-valid, garbage re-issue', async () => {
  const ca = await makeCa();
  const reqs = requests(['a', 'b']);
  const first = await issueLeaves(reqs, ca, opts);
  const existing = existingOf(first);

  const later = new Date(T0.getTime() + 100 * DAY);
  const second = await issueLeaves(reqs, ca, { ...opts, now: later, existing });
  assert.ok(second.every((c) => c.reused));
  for (let i = 0; i < first.length; i++) {
    assert.equal(second[i]!.certPem, first[i]!.certPem);
    assert.equal(second[i]!.key.reveal(), first[i]!.key.reveal());
    assert.equal(second[i]!.fingerprint256, first[i]!.fingerprint256);
    assert.equal(second[i]!.serialNumber, first[i]!.serialNumber);
    assert.equal(second[i]!.notAfter.getTime(), first[i]!.notAfter.getTime());
  }

  // A new SAN on cluster a's server: only that certificate changes.
  const changed = requests(['a'], { extraDnsNames: ['a.example.org'] }).concat(requests(['b']));
  const third = await issueLeaves(changed, ca, { ...opts, existing });
  assert.deepEqual(third.map((c) => c.reused), [false, true, true, true, true, true, true, true]);
  assert.ok(new X509Certificate(third[0]!.certPem).checkHost('a.example.org'));

  // A changed CN (authMode) re-issues the remote certificates only.
  const legacy = await issueLeaves(requests(['a', 'b'], { authMode: 'legacy' }), ca, { ...opts, existing });
  assert.deepEqual(legacy.map((c) => c.reused), [true, true, false, true, true, true, false, true]);

  // Another CA (same subject): nothing is reused.
  const other = await makeCa();
  const fourth = await issueLeaves(reqs, other, { ...opts, existing });
  assert.ok(fourth.every((c) => !c.reused));
  assert.ok(fourth.every((c) => new X509Certificate(c.certPem).verify(new X509Certificate(other.certPem).publicKey)));

  // Inside the renewal window (30 days): 336 days on, 29 days are left.
  const due = await issueLeaves(reqs, ca, { ...opts, now: new Date(T0.getTime() + 336 * DAY), existing });
  assert.ok(due.every((c) => !c.reused));
  const justBefore = await issueLeaves(reqs, ca, { ...opts, now: new Date(T0.getTime() + 334 * DAY), existing });
  assert.ok(justBefore.every((c) => c.reused));

  // Before notBefore (a clock that went back).
  const early = await issueLeaves(reqs, ca, { ...opts, now: new Date(T0.getTime() - DAY), existing });
  assert.ok(early.every((c) => !c.reused));

  // Garbled certificate, swapped key, truncated key: re-issued, never an error.
  const bad = new Map(existing);
  bad.set('a/server', { certPem: 'garbage', keyPem: existing.get('a/server')!.keyPem });
  bad.set('a/admin', { certPem: existing.get('a/admin')!.certPem, keyPem: existing.get('a/remote')!.keyPem });
  bad.set('b/admin', { certPem: existing.get('b/admin')!.certPem, keyPem: existing.get('b/admin')!.keyPem.slice(0, 80) });
  const fifth = await issueLeaves(reqs, ca, { ...opts, existing: bad });
  assert.deepEqual(fifth.map((c) => c.reused), [false, false, true, true, true, false, true, true]);
});

test('the worker pool gives the same results as the main thread, in request order', async () => {
  const ca = await makeCa();
  const names = Array.from({ length: 16 }, (_, i) => `c${i}`);
  const reqs = requests(names);
  const pooled = await issueLeaves(reqs, ca, { ...opts, concurrency: 2 });
  assert.equal(pooled.length, 64);
  const caPub = new X509Certificate(ca.certPem).publicKey;
  pooled.forEach((c, i) => {
    assert.deepEqual(c.request, reqs[i]);
    const x = new X509Certificate(c.certPem);
    assert.equal(x.subject, `CN=${reqs[i]!.commonName}`);
    assert.ok(x.verify(caPub));
  });
  const warm = await issueLeaves(reqs, ca, { ...opts, concurrency: 2, existing: existingOf(pooled) });
  assert.ok(warm.every((c, i) => c.reused && c.certPem === pooled[i]!.certPem));
  const inline = await issueLeaves(reqs, ca, { ...opts, concurrency: 1, existing: existingOf(pooled) });
  assert.ok(inline.every((c, i) => c.reused && c.certPem === pooled[i]!.certPem));
});

test('cert store: files under secrets/, read back for reuse, missing files ignored', async (t) => {
  const ca = await makeCa();
  const issued = await issueLeaves(requests(['a', 'b'], { localCert: false }), ca, opts);
  const files = certStoreFiles(issued);
  assert.deepEqual(files.map((f) => f.path).slice(0, 2), ['secrets/a/certs/server.crt', 'secrets/a/certs/server.key']);
  assert.ok(files.every((f) => f.secret));
  assert.equal(files.length, 14, 'two clusters × three pairs, and an index per cluster');
  assert.deepEqual(files.filter((f) => f.path.endsWith('index.json')).map((f) => f.path), ['secrets/a/certs/index.json', 'secrets/b/certs/index.json']);

  const dir = await mkdtemp(join(tmpdir(), 'meshform-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { mkdir } = await import('node:fs/promises');
  for (const f of files) {
    await mkdir(join(dir, f.path, '..'), { recursive: true });
    await writeFile(join(dir, f.path), f.content, { mode: 0o600 });
  }
  await rm(join(dir, 'secrets/b/certs/admin.key'));
  const store = await readCertStore(dir, ['a', 'b', 'gone']);
  assert.deepEqual([...store.keys()].sort(), ['a/admin', 'a/remote', 'a/server', 'b/remote', 'b/server']);
  const again = await issueLeaves(requests(['a', 'b'], { localCert: false }), ca, { ...opts, existing: store });
  assert.deepEqual(again.map((c) => c.reused), [true, true, true, true, false, true]);
  assert.equal((await stat(join(dir, 'secrets/a/certs/server.key'))).mode & 0o777, 0o600);
  assert.equal((await readCertStore(join(dir, 'nothing-here'), ['a'])).size, 0);
});

test('server certificate names follow the chart of the cluster\'s version: 1.20 CN clustermesh-apiserver.<ns>.svc', () => {
  const c = (ciliumVersion?: string) => ({
    name: 'east',
    ...(ciliumVersion ? { ciliumVersion } : {}),
    endpoint: { type: 'NodePort' as const, nodePort: 30000, ips: [] },
    tls: { extraDnsNames: ['x.example.net'], extraIpAddresses: [] },
  });
  const mesh = { domain: 'mesh.cilium.io', cilium: { namespace: 'cilium' } };
  const n20 = serverCertNames(c('1.20.2'), mesh);
  assert.equal(n20.commonName, 'clustermesh-apiserver.cilium.svc');
  assert.deepEqual(n20.dnsNames, ['*.mesh.cilium.io', 'clustermesh-apiserver.cilium.svc', 'east.mesh.cilium.io', 'x.example.net']);
  assert.deepEqual(n20.ipAddresses, ['127.0.0.1', '::1']);
  assert.deepEqual(serverCertNames(c('1.21.0'), mesh).commonName, 'clustermesh-apiserver.cilium.svc');
  for (const v of ['1.19.6', '1.15.5', undefined, 'garbage']) {
    const n = serverCertNames(c(v), mesh);
    assert.equal(n.commonName, 'clustermesh-apiserver.cilium.io', String(v));
    assert.deepEqual(n.dnsNames, ['*.mesh.cilium.io', 'clustermesh-apiserver.cilium.io', 'clustermesh-apiserver.cilium.svc', 'east.mesh.cilium.io', 'x.example.net']);
  }
  assert.deepEqual(n20.extra, serverCertNames(c('1.19.6'), mesh).extra);
});
