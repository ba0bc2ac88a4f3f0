import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeOutput, MANIFEST } from '../../src/write/atomic.js';
import { MeshformError } from '../../src/errors.js';

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'meshform-write-'));
}

test('writes files with modes, secrets 0600 in 0700 folders', async () => {
  const out = await tmp();
  const r = await writeOutput(out, [
    { path: 'values/a.yaml', content: 'a: 1\n', secret: false },
    { path: 'secrets/a/certs/server.key', content: 'KEY\n', secret: true },
  ]);
  assert.deepEqual(r.written, ['secrets/a/certs/server.key', 'values/a.yaml']);
  assert.equal((await stat(join(out, 'secrets/a/certs/server.key'))).mode & 0o777, 0o600);
  assert.equal((await stat(join(out, 'secrets/a/certs'))).mode & 0o777, 0o700);
  assert.equal((await stat(join(out, 'values/a.yaml'))).mode & 0o777, 0o644);
  assert.equal(await readFile(join(out, MANIFEST), 'utf8'), 'secrets/a/certs/server.key\nvalues/a.yaml\n');
});

test('an unchanged re-render touches nothing on disk', async () => {
  const out = await tmp();
  const files = [{ path: 'values/a.yaml', content: 'a: 1\n', secret: false }];
  await writeOutput(out, files);
  const before = await stat(join(out, 'values/a.yaml'));
  const mBefore = await stat(join(out, MANIFEST));
  await new Promise((r) => setTimeout(r, 20));
  const r = await writeOutput(out, files);
  assert.deepEqual(r.written, []);
  assert.deepEqual(r.unchanged, ['values/a.yaml']);
  assert.equal((await stat(join(out, 'values/a.yaml'))).mtimeMs, before.mtimeMs);
  assert.equal((await stat(join(out, MANIFEST))).mtimeMs, mBefore.mtimeMs);
});

test('a failure while writing leaves the previous output intact', async () => {
  const out = await tmp();
  await writeOutput(out, [
    { path: 'values/a.yaml', content: 'old\n', secret: false },
    { path: 'values/b.yaml', content: 'old\n', secret: false },
  ]);
  // A regular file where a folder must go makes the third write fail after the first two were staged.
  await writeFile(join(out, 'blocker'), 'x');
  await assert.rejects(
    writeOutput(out, [
      { path: 'values/a.yaml', content: 'new\n', secret: false },
      { path: 'values/b.yaml', content: 'new\n', secret: false },
      { path: 'blocker/c.yaml', content: 'new\n', secret: false },
    ]),
    (e: unknown) => e instanceof MeshformError && /nothing was changed/.test(e.message),
  );
  assert.equal(await readFile(join(out, 'values/a.yaml'), 'utf8'), 'old\n');
  assert.equal(await readFile(join(out, 'values/b.yaml'), 'utf8'), 'old\n');
  const { readdir } = await import('node:fs/promises');
  assert.deepEqual((await readdir(join(out, 'values'))).sort(), ['a.yaml', 'b.yaml'], 'no temporary files left');
});

test('files from an earlier run that are no longer rendered are removed; foreign files stay', async () => {
  const out = await tmp();
  await writeOutput(out, [
    { path: 'values/a.yaml', content: 'a\n', secret: false },
    { path: 'values/gone.yaml', content: 'g\n', secret: false },
  ]);
  await mkdir(join(out, 'mine'), { recursive: true });
  await writeFile(join(out, 'mine/notes.txt'), 'keep');
  const r = await writeOutput(out, [{ path: 'values/a.yaml', content: 'a\n', secret: false }]);
  assert.deepEqual(r.removed, ['values/gone.yaml']);
  await assert.rejects(stat(join(out, 'values/gone.yaml')));
  assert.equal(await readFile(join(out, 'mine/notes.txt'), 'utf8'), 'keep');
});

test('refuses paths that leave the output folder', async () => {
  const out = await tmp();
  await assert.rejects(writeOutput(out, [{ path: '../evil', content: '', secret: false }]), MeshformError);
  await assert.rejects(writeOutput(out, [{ path: '/etc/evil', content: '', secret: false }]), MeshformError);
});

test('with manifest: false nothing is listed and nothing of an earlier run is removed', async () => {
  const out = await tmp();
  await writeOutput(out, [{ path: 'values/a.yaml', content: 'a\n', secret: false }]);
  await writeOutput(out, [{ path: 'mesh.yaml', content: 'm\n', secret: false }], { manifest: false });
  assert.equal(await readFile(join(out, 'values/a.yaml'), 'utf8'), 'a\n');
  assert.equal(await readFile(join(out, MANIFEST), 'utf8'), 'values/a.yaml\n');
  await writeOutput(out, [{ path: 'values/a.yaml', content: 'a\n', secret: false }]);
  assert.equal(await readFile(join(out, 'mesh.yaml'), 'utf8'), 'm\n', 'a file written without the manifest is never pruned');
});
