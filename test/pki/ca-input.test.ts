// The CA files and `ca import` sources are input like any other: special files are refused
// without blocking, through the same bounded reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, importCa, inspectCaFiles } from '../../src/pki/ca.js';
import { MeshformError } from '../../src/errors.js';
import { T0 } from './helpers.js';

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
