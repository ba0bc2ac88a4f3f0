// The CA files and `ca import` sources are input like any other: special files are refused
// without blocking, through the same bounded reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, importCa, inspectCa, inspectCaFiles, permissionFindings } from '../../src/pki/ca.js';
import { MeshformError } from '../../src/errors.js';
import { T0, hasOpenssl } from './helpers.js';

test('CA files that are a FIFO or a device are refused without blocking; so is a ca import source', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'meshform-ca-input-'));
  const a = await createCa({ algorithm: 'ecdsa-p256', validityDays: 365, now: T0 });
  await writeFile(join(dir, 'ca.crt'), a.certPem);
  execFileSync('mkfifo', [join(dir, 'ca.key')]);
  const r = await inspectCaFiles({ cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') }, T0);
  assert.deepEqual(r.findings.map((f) => [f.code, f.path]), [['CA_FILE_UNREADABLE', 'ca.key']]);
  assert.match(r.findings[0]!.message, /FIFO/);
  const dev = await inspectCaFiles({ cert: '/dev/urandom', key: join(dir, 'ca.crt') }, T0);
  assert.equal(dev.findings[0]!.code, 'CA_FILE_UNREADABLE');

  execFileSync('mkfifo', [join(dir, 'source.pem')]);
  const err = await importCa(join(dir, 'source.pem')).catch((e: unknown) => e);
  assert.ok(err instanceof MeshformError);
  assert.equal(err.exitCode, 2);
  assert.match(err.findings[0]!.message, /FIFO/);
  // The folder form: ca.key beside ca.crt is the FIFO.
  const err2 = await importCa(dir).catch((e: unknown) => e);
  assert.ok(err2 instanceof MeshformError);
  assert.match(err2.findings[0]!.message, /FIFO/);
});

test('a CA file with two certificates is refused instead of silently keeping the first', async () => {
  const a = await createCa({ algorithm: 'ecdsa-p256', validityDays: 365, now: T0 });
  const b = await createCa({ algorithm: 'ecdsa-p256', validityDays: 365, now: T0 });
  const paths = { cert: '/x/ca.crt', key: '/x/ca.key' };
  assert.deepEqual(inspectCa(a.certPem, a.key.reveal(), T0, paths).findings, []);
  const r = inspectCa(a.certPem + b.certPem, a.key.reveal(), T0, paths);
  assert.equal(r.ca, undefined);
  assert.deepEqual(r.findings.map((f) => [f.code, f.severity, f.path]), [['CA_CERT_BUNDLE', 'error', 'ca.cert']]);
  assert.match(r.findings[0]!.message, /2 certificates/);
  // ca import refuses it as well.
  const dir = await mkdtemp(join(tmpdir(), 'meshform-ca-bundle-'));
  await writeFile(join(dir, 'ca.crt'), a.certPem + b.certPem);
  await writeFile(join(dir, 'ca.key'), a.key.reveal());
  const err = await importCa(dir).catch((e: unknown) => e);
  assert.ok(err instanceof MeshformError);
  assert.deepEqual(err.findings.map((f) => f.code), ['CA_CERT_BUNDLE']);
});

test('an RSA-1024 CA is an error in render/validate (inspectCa) and in ca import alike', { skip: !hasOpenssl }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'meshform-ca-weak-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:1024', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-subj', '/CN=weak', '-days', '3650', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { stdio: 'ignore' });
  const r = await inspectCaFiles({ cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') }, new Date());
  assert.equal(r.ca, undefined, 'before, a warning only: the CA was used');
  const weak = r.findings.find((f) => f.code === 'CA_KEY_WEAK');
  assert.equal(weak?.severity, 'error');
  const err = await importCa(dir).catch((e: unknown) => e);
  assert.ok(err instanceof MeshformError, 'before, ca import accepted it without a word');
  assert.ok(err.findings.some((f) => f.code === 'CA_KEY_WEAK' && f.severity === 'error'));
});

test('a CA key readable by group/others and a CA folder writable by them are warnings with the exact chmod', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'meshform-ca-perm-'));
  const a = await createCa({ algorithm: 'ecdsa-p256', validityDays: 365, now: T0 });
  const paths = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  await writeFile(paths.cert, a.certPem, { mode: 0o644 });
  await writeFile(paths.key, a.key.reveal(), { mode: 0o600 });
  await chmod(dir, 0o700);
  assert.deepEqual((await inspectCaFiles(paths, T0)).findings, []);
  await chmod(paths.key, 0o640);
  await chmod(dir, 0o777);
  const r = await inspectCaFiles(paths, T0);
  assert.ok(r.ca, 'warnings do not stop the CA');
  assert.deepEqual(
    r.findings.map((f) => [f.code, f.severity, f.fix]),
    [
      ['CA_KEY_PERMISSIONS', 'warning', `chmod 600 ${paths.key}`],
      ['CA_DIR_PERMISSIONS', 'warning', `chmod go-w ${dir}`],
    ],
  );
  assert.match(r.findings[0]!.message, /its group \(mode 0640\)/);
  assert.deepEqual(await permissionFindings(paths), r.findings);
  await chmod(dir, 0o700);
});
