import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, stat, writeFile, mkdir, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { caExtensions, createCa, describeCa, importCa, inspectCa, loadCa, writeCaFiles } from '../../src/pki/ca.js';
import { pemBlocks } from '../../src/pki/der.js';
import { issueLeaves } from '../../src/pki/leaf.js';
import { MeshformError } from '../../src/errors.js';
import { SecretPem } from '../../src/pki/secret.js';
import { DAY, T0, assertNoKey, hasOpenssl, makeCa, leafRequestsFor } from './helpers.js';

const paths = { cert: '/x/ca.crt', key: '/x/ca.key' };
const codes = (r: { findings: { code: string }[] }): string[] => r.findings.map((f) => f.code).sort();

test('createCa makes a CA whose key matches, with the chart-like subject and CA extensions', async () => {
  const c = await createCa({ algorithm: 'ecdsa-p256', validityDays: 3650, now: T0 });
  const x = new X509Certificate(c.certPem);
  assert.equal(x.ca, true);
  assert.equal(x.subject, 'CN=Cilium CA');
  assert.equal(x.issuer, 'CN=Cilium CA');
  assert.ok(x.checkPrivateKey(createPrivateKey(c.key.reveal())));
  assert.ok(x.verify(x.publicKey), 'self-signed');
  assert.equal(x.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const ext = caExtensions(pemBlocks(c.certPem)[0]!.der);
  assert.equal(ext.keyUsage, 0x20 | 0x40 | 0x01, 'keyCertSign + cRLSign + digitalSignature');
  assert.equal(ext.ski?.length, 20);
  assert.equal(Date.parse(x.validTo) - Date.parse(x.validFrom), 3650 * DAY + 5 * 60_000);
  assert.deepEqual(inspectCa(c.certPem, c.key.reveal(), T0, paths).findings, []);
  if (hasOpenssl) {
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: c.certPem }).toString();
    assert.match(text, /CA:TRUE/);
    assert.match(text, /Certificate Sign, CRL Sign/);
  }
});

test('createCa with RSA and a custom common name', async () => {
  const c = await createCa({ algorithm: 'rsa-2048', validityDays: 400, now: T0, commonName: 'Mesh Root' });
  const x = new X509Certificate(c.certPem);
  assert.equal(x.subject, 'CN=Mesh Root');
  assert.equal(x.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  assert.match(c.key.reveal(), /BEGIN RSA PRIVATE KEY/);
  const r = inspectCa(c.certPem, c.key.reveal(), T0, paths);
  assert.deepEqual(r.findings, []);
  assert.equal(describeCa(r.ca!, T0).keyAlgorithm, 'rsa-2048');
});

test('inspectCa: each problem gets its code, on the right path, with a value and a fix', async () => {
  const good = await createCa({ algorithm: 'ecdsa-p256', validityDays: 365, now: T0 });
  const other = await createCa({ algorithm: 'ecdsa-p256', validityDays: 365, now: T0 });

  assert.deepEqual(codes(inspectCa(good.certPem, other.key.reveal(), T0, paths)), ['CA_KEY_MISMATCH']);
  assert.deepEqual(codes(inspectCa('garbage', good.key.reveal(), T0, paths)), ['CA_NOT_PEM']);
  assert.deepEqual(codes(inspectCa('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', good.key.reveal(), T0, paths)), ['CA_NOT_PEM']);
  assert.deepEqual(codes(inspectCa(good.certPem, 'not a key', T0, paths)), ['CA_KEY_NOT_PEM']);

  // Expired, expiring in 10 days, not yet valid.
  assert.deepEqual(codes(inspectCa(good.certPem, good.key.reveal(), new Date(T0.getTime() + 366 * DAY), paths)), ['CA_EXPIRED']);
  const soon = inspectCa(good.certPem, good.key.reveal(), new Date(T0.getTime() + 355 * DAY), paths);
  assert.deepEqual(codes(soon), ['CA_EXPIRES_SOON']);
  assert.equal(soon.findings[0]!.severity, 'error');
  assert.equal(soon.ca, undefined);
  assert.match(soon.findings[0]!.value!, /10 days left/);
  assert.deepEqual(codes(inspectCa(good.certPem, good.key.reveal(), new Date(T0.getTime() - DAY), paths)), ['CA_NOT_YET_VALID']);
  // 31 days left is fine.
  assert.deepEqual(codes(inspectCa(good.certPem, good.key.reveal(), new Date(T0.getTime() + 334 * DAY), paths)), []);

  // A leaf is not a CA.
  const ca = await makeCa();
  const [leaf] = await issueLeaves(
    leafRequestsFor({ cluster: 'a', domain: 'mesh.cilium.io', namespace: 'kube-system', authMode: 'cluster', localCert: false, extraDnsNames: [], extraIpAddresses: [] }).slice(1, 2),
    ca,
    { now: T0, validityDays: 365, renewBeforeDays: 30, keyAlgorithm: 'ecdsa-p256' },
  );
  const notCa = inspectCa(leaf!.certPem, leaf!.key.reveal(), T0, paths);
  assert.ok(codes(notCa).includes('CA_NOT_CA'));
  assert.ok(!codes(notCa).includes('CA_KEY_MISMATCH'));

  // Passphrase-protected key.
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const enc = privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string;
  assert.deepEqual(codes(inspectCa(good.certPem, enc, T0, paths)), ['CA_KEY_ENCRYPTED']);

  for (const r of [inspectCa(good.certPem, other.key.reveal(), T0, paths), soon, notCa]) {
    for (const f of r.findings) {
      assert.ok(f.path === 'ca.cert' || f.path === 'ca.key', f.path);
      assert.ok(f.value && f.rule && f.fix && f.message, JSON.stringify(f));
    }
    assertNoKey([good.key.reveal(), other.key.reveal(), leaf!.key.reveal()], r.findings);
  }
});

test('loadCa reads files and turns missing files and bad CAs into exit-2 errors without key material', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'meshform-ca-'));
  const a = await createCa({ algorithm: 'ecdsa-p256', validityDays: 365, now: T0 });
  const b = await createCa({ algorithm: 'ecdsa-p256', validityDays: 365, now: T0 });
  await writeFile(join(dir, 'ca.crt'), a.certPem);
  // Key files 0600, as meshform writes them (looser ones add a CA_KEY_PERMISSIONS warning).
  await writeFile(join(dir, 'ca.key'), a.key.reveal(), { mode: 0o600 });
  await writeFile(join(dir, 'other.key'), b.key.reveal(), { mode: 0o600 });

  const ca = await loadCa({ cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') }, T0);
  assert.equal(ca.subject, 'CN=Cilium CA');
  assert.equal(ca.fingerprint256, new X509Certificate(a.certPem).fingerprint256);
  assertNoKey([a.key.reveal()], ca, describeCa(ca, T0));
  assert.equal(JSON.stringify(ca.key), '"[redacted]"');
  assert.equal(inspect(ca.key), 'SecretPem [redacted]');
  assert.equal(`${ca.key}`, '[redacted]');

  const err1 = await loadCa({ cert: join(dir, 'nope.crt'), key: join(dir, 'ca.key') }, T0).catch((e: unknown) => e);
  assert.ok(err1 instanceof MeshformError);
  assert.equal(err1.exitCode, 2);
  assert.equal(err1.findings[0]!.code, 'CA_FILE_MISSING');
  assert.equal(err1.findings[0]!.path, 'ca.cert');
  assert.equal(err1.findings[0]!.value, join(dir, 'nope.crt'));

  const err2 = await loadCa({ cert: join(dir, 'ca.crt'), key: join(dir, 'other.key') }, T0).catch((e: unknown) => e);
  assert.ok(err2 instanceof MeshformError);
  assert.equal(err2.exitCode, 2);
  assert.deepEqual(err2.findings.map((f) => f.code), ['CA_KEY_MISMATCH']);
  assertNoKey([a.key.reveal(), b.key.reveal()], err2.message, err2.findings, String(err2.stack));

  const err3 = await loadCa({ cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') }, new Date(T0.getTime() + 400 * DAY)).catch((e: unknown) => e);
  assert.ok(err3 instanceof MeshformError);
  assert.deepEqual(err3.findings.map((f) => f.code), ['CA_EXPIRED']);
});

test('writeCaFiles: 0600 key, 0644 cert, 0700 new folder, no overwrite without force, atomic', async () => {
  const base = await mkdtemp(join(tmpdir(), 'meshform-caw-'));
  const dir = join(base, 'ca');
  const a = await createCa({ algorithm: 'ecdsa-p256', validityDays: 365, now: T0 });
  const { certPath, keyPath } = await writeCaFiles(dir, a, { force: false });
  assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
  assert.equal((await stat(certPath)).mode & 0o777, 0o644);
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  assert.equal(await readFile(keyPath, 'utf8'), a.key.reveal());
  assert.equal(await readFile(certPath, 'utf8'), a.certPem);
  // The folder meshform created keeps the key out of Git from the start.
  const { spawnSync } = await import('node:child_process');
  spawnSync('git', ['init', '-q'], { cwd: base });
  const ignored = spawnSync('git', ['check-ignore', '-q', 'ca/ca.key'], { cwd: base });
  assert.equal(ignored.status, 0, 'git ignores ca/ca.key');
  assert.equal(spawnSync('git', ['check-ignore', '-q', 'ca/ca.crt'], { cwd: base }).status, 1, 'the certificate may be committed');

  const b = await createCa({ algorithm: 'ecdsa-p256', validityDays: 365, now: T0 });
  const err = await writeCaFiles(dir, b, { force: false }).catch((e: unknown) => e);
  assert.ok(err instanceof MeshformError);
  assert.equal(err.findings[0]!.code, 'CA_FILE_EXISTS');
  assert.match(err.findings[0]!.fix, /--force/);
  assert.match(err.findings[0]!.message, /ca\.crt/);
  assert.equal(await readFile(keyPath, 'utf8'), a.key.reveal(), 'untouched');
  assertNoKey([a.key.reveal(), b.key.reveal()], err.message, err.findings);

  await chmod(keyPath, 0o644);
  await writeCaFiles(dir, b, { force: true });
  assert.equal(await readFile(keyPath, 'utf8'), b.key.reveal());
  assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
  const { readdir } = await import('node:fs/promises');
  assert.deepEqual((await readdir(dir)).sort(), ['.gitignore', 'ca.crt', 'ca.key'], 'no temp files left');
});

test('importCa: folder, combined PEM, cert with sibling key, Secret YAML and JSON, values file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'meshform-cai-'));
  const a = await createCa({ algorithm: 'ecdsa-p256', validityDays: 365, now: T0 });
  const crt64 = Buffer.from(a.certPem).toString('base64');
  const key64 = Buffer.from(a.key.reveal()).toString('base64');
  const expectSame = (r: { certPem: string; key: SecretPem }): void => {
    assert.equal(r.certPem, a.certPem);
    assert.equal(r.key.reveal(), a.key.reveal());
  };

  await mkdir(join(dir, 'folder'));
  await writeFile(join(dir, 'folder', 'ca.crt'), a.certPem);
  await writeFile(join(dir, 'folder', 'ca.key'), a.key.reveal());
  expectSame(await importCa(join(dir, 'folder')));

  await mkdir(join(dir, 'tls'));
  await writeFile(join(dir, 'tls', 'tls.crt'), a.certPem);
  await writeFile(join(dir, 'tls', 'tls.key'), a.key.reveal());
  expectSame(await importCa(join(dir, 'tls')));

  await writeFile(join(dir, 'both.pem'), `${a.key.reveal()}${a.certPem}`);
  expectSame(await importCa(join(dir, 'both.pem')));

  await writeFile(join(dir, 'root.crt'), a.certPem);
  await writeFile(join(dir, 'root.key'), a.key.reveal());
  expectSame(await importCa(join(dir, 'root.crt')));

  const yaml = `apiVersion: v1\ndata:\n  ca.crt: ${crt64}\n  ca.key: ${key64}\nkind: Secret\nmetadata:\n  name: cilium-ca\n  namespace: kube-system\ntype: Opaque\n`;
  await writeFile(join(dir, 'secret.yaml'), yaml);
  expectSame(await importCa(join(dir, 'secret.yaml')));

  const json = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' }, data: { 'tls.crt': crt64, 'tls.key': key64 } }] });
  await writeFile(join(dir, 'secret.json'), json);
  expectSame(await importCa(join(dir, 'secret.json')));

  await writeFile(join(dir, 'values.yaml'), `cluster:\n  name: mesh01\ntls:\n  ca:\n    cert: ${crt64}\n    key: ${key64}\n`);
  expectSame(await importCa(join(dir, 'values.yaml')));

  // The Secret without its key: the error names the missing key and leaks nothing.
  await writeFile(join(dir, 'nokey.yaml'), `apiVersion: v1\nkind: Secret\nmetadata: {name: cilium-ca}\ndata:\n  ca.crt: ${crt64}\n`);
  const e1 = await importCa(join(dir, 'nokey.yaml')).catch((e: unknown) => e);
  assert.ok(e1 instanceof MeshformError);
  assert.equal(e1.findings[0]!.code, 'CA_IMPORT_KEY_MISSING');
  assert.match(e1.message, /data\["ca\.key"\]/);

  const b = await createCa({ algorithm: 'ecdsa-p256', validityDays: 365, now: T0 });
  await writeFile(join(dir, 'mismatch.yaml'), yaml.replace(key64, Buffer.from(b.key.reveal()).toString('base64')));
  const e2 = await importCa(join(dir, 'mismatch.yaml')).catch((e: unknown) => e);
  assert.ok(e2 instanceof MeshformError);
  assert.deepEqual(e2.findings.map((f) => f.code), ['CA_KEY_MISMATCH']);
  assertNoKey([a.key.reveal(), b.key.reveal()], e1.message, e1.findings, e2.message, e2.findings);

  const e3 = await importCa(join(dir, 'missing-dir')).catch((e: unknown) => e);
  assert.ok(e3 instanceof MeshformError && e3.findings[0]!.code === 'CA_IMPORT_MISSING');
  await writeFile(join(dir, 'junk.txt'), 'hello: [world');
  const e4 = await importCa(join(dir, 'junk.txt')).catch((e: unknown) => e);
  assert.ok(e4 instanceof MeshformError && e4.findings[0]!.code === 'CA_IMPORT_FORMAT');
  await mkdir(join(dir, 'half'));
  await writeFile(join(dir, 'half', 'ca.crt'), a.certPem);
  const e5 = await importCa(join(dir, 'half')).catch((e: unknown) => e);
  assert.ok(e5 instanceof MeshformError);
  assert.match(e5.message, /ca\.key/);
});

test('describeCa shows identity and expiry only', async () => {
  const ca = await makeCa({ days: 100 });
  const d = describeCa(ca, new Date(T0.getTime() + 10 * DAY));
  assert.equal(d.subject, 'CN=Cilium CA');
  assert.equal(d.keyAlgorithm, 'ecdsa-p256');
  assert.equal(d.daysLeft, 90);
  assert.match(d.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assertNoKey([ca.key.reveal()], d);
});

test('the leak detector used above does catch a key in any of the forms it can leak in', async () => {
  const a = await createCa({ algorithm: 'ecdsa-p256', validityDays: 365, now: T0 });
  const pem = a.key.reveal();
  const der = createPrivateKey(pem).export({ type: 'sec1', format: 'der' });
  const body = pem.split('\n').filter((l) => !l.startsWith('-----')).join('\n');
  for (const leak of [pem, { k: pem }, body, der.toString('base64'), der.toString('hex'), `x${der.toString('base64')}`]) {
    assert.throws(() => assertNoKey([pem], leak), /leaked/);
  }
  assertNoKey([pem], a.certPem, { cert: a.certPem });
});
