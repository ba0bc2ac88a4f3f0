// Hostile or broken input through the built binary: exit 2 with a finding, no stack trace, no
// hang, nothing written (earlier output intact).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { exampleCopy, meshform, type Run } from './helpers.js';

/** A seed copy with a CA and one good render in out/. */
export async function renderedSeed(): Promise<{ dir: string; before: string }> {
  const dir = await exampleCopy('seed');
  assert.equal(meshform(['ca', 'init', '--spec', 'mesh.yaml'], { cwd: dir }).code, 0);
  assert.equal(meshform(['render', 'mesh.yaml', '--out', 'out'], { cwd: dir }).code, 0);
  return { dir, before: await readFile(join(dir, 'out/values/mesh02.yaml'), 'utf8') };
}

export async function assertRefused(dir: string, before: string, r: Run, code: RegExp, exit = 2): Promise<void> {
  assert.equal(r.code, exit, r.stderr);
  assert.match(r.stderr, code);
  assert.match(r.stderr, /fix: /);
  assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
  assert.equal(await readFile(join(dir, 'out/values/mesh02.yaml'), 'utf8'), before, 'earlier output intact');
}

test('values: a FIFO, /dev/zero; --facts /dev/urandom: exit 2 at once instead of hanging', async () => {
  const { dir, before } = await renderedSeed();
  const spec = await readFile(join(dir, 'mesh.yaml'), 'utf8');
  execFileSync('mkfifo', [join(dir, 'pipe.yaml')]);
  await writeFile(join(dir, 'mesh.yaml'), spec.replace('values: values_mesh02.yaml', 'values: pipe.yaml'));
  // A hang shows as a killed child (code -1), never as exit 2.
  await assertRefused(dir, before, meshform(['render', 'mesh.yaml', '--out', 'out'], { cwd: dir, timeoutMs: 20_000 }), /FILE_UNREADABLE at clusters\[1\]\.values: .*FIFO/);
  await writeFile(join(dir, 'mesh.yaml'), spec.replace('values: values_mesh02.yaml', 'values: /dev/zero'));
  // /dev/zero lies outside the spec's folder: with the opt-in, the reader itself refuses it.
  await assertRefused(dir, before, meshform(['render', 'mesh.yaml', '--allow-outside-paths', '--out', 'out'], { cwd: dir, timeoutMs: 20_000 }), /FILE_UNREADABLE at clusters\[1\]\.values: .*character device/);
  await writeFile(join(dir, 'mesh.yaml'), spec);
  await assertRefused(dir, before, meshform(['render', 'mesh.yaml', '--facts', '/dev/urandom', '--out', 'out'], { cwd: dir, timeoutMs: 20_000 }), /FILE_UNREADABLE/);
});

test('an alias bomb in a values file (15 MB anchor x 900 aliases) exits 2 with a finding, in a 512 MB heap', async () => {
  const { dir, before } = await renderedSeed();
  // Before: 80 s, 4.3 GB and a V8 crash while copying the anchor into every alias.
  const bomb = `hubble: {enabled: true}\nbig: &big ${'x'.repeat(15 * 1000 * 1000)}\nmany:\n${'  - *big\n'.repeat(900)}`;
  await writeFile(join(dir, 'values_mesh02.yaml'), bomb);
  const r = meshform(['render', 'mesh.yaml', '--out', 'out'], { cwd: dir, env: { NODE_OPTIONS: '--max-old-space-size=512' } });
  await assertRefused(dir, before, r, /YAML_EXPANSION_TOO_LARGE at clusters\[1\]\.values: .*more than 64 MiB/);
  assert.ok(!r.stderr.includes('xxxxxxxx'), 'the content is not echoed');
});

test('values outside the spec folder (/etc/passwd, ../x) are refused without echoing them; --allow-outside-paths opts in', async () => {
  const { dir, before } = await renderedSeed();
  const spec = await readFile(join(dir, 'mesh.yaml'), 'utf8');
  await writeFile(join(dir, 'mesh.yaml'), spec.replace('values: values_mesh02.yaml', 'values: /etc/passwd'));
  const r = meshform(['render', 'mesh.yaml', '--out', 'out'], { cwd: dir });
  await assertRefused(dir, before, r, /VALUES_OUTSIDE_SPEC_FOLDER at clusters\[1\]\.values/);
  assert.ok(!r.stderr.includes('root:'), 'no content of the file on stderr');
  await writeFile(join(dir, '..', `${basename(dir)}-values.yaml`), await readFile(join(dir, 'values_mesh02.yaml')));
  await writeFile(join(dir, 'mesh.yaml'), spec.replace('values: values_mesh02.yaml', `values: ../${basename(dir)}-values.yaml`));
  await assertRefused(dir, before, meshform(['validate', 'mesh.yaml'], { cwd: dir }), /VALUES_OUTSIDE_SPEC_FOLDER/);
  const ok = meshform(['render', 'mesh.yaml', '--allow-outside-paths', '--out', 'out'], { cwd: dir });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(meshform(['--help']).stdout, /--allow-outside-paths/);
});

test('a values file holding the CA key (tls.ca.key) is refused with a pointer to ca import; nothing written', async () => {
  const { dir, before } = await renderedSeed();
  const key = await readFile(join(dir, 'ca/ca.key'), 'utf8');
  const values = await readFile(join(dir, 'values_mesh02.yaml'), 'utf8');
  await writeFile(join(dir, 'values_mesh02.yaml'), `${values}tls:\n  ca:\n    key: ${Buffer.from(key).toString('base64')}\n`);
  const r = meshform(['render', 'mesh.yaml', '--out', 'out'], { cwd: dir });
  await assertRefused(dir, before, r, /VALUES_PRIVATE_KEY at clusters\[1\]\.values: .* at tls\.ca\.key \(line \d+, column \d+\)/);
  assert.match(r.stderr, /meshform ca import/);
  assert.ok(!r.stderr.includes(Buffer.from(key).toString('base64').slice(0, 40)), 'the key is not echoed');
});

test('a malformed MESHFORM_NOW is refused (exit 2) instead of silently using the real clock', async () => {
  const { dir, before } = await renderedSeed();
  for (const bad of ['yesterday', '2026-02-30T00:00:00Z', '2026-11-27 12:00', '2026-11-27T12:00:00']) {
    const r = meshform(['render', 'mesh.yaml', '--out', 'out'], { cwd: dir, env: { MESHFORM_NOW: bad } });
    await assertRefused(dir, before, r, /MESHFORM_NOW_INVALID at MESHFORM_NOW: .*ISO 8601/);
    assert.match(r.stderr, /MESHFORM_NOW=2026-11-27T12:00:00Z/);
  }
  assert.equal(meshform(['validate', 'mesh.yaml'], { cwd: dir, env: { MESHFORM_NOW: '2026-11-27T13:00:00+01:00' } }).code, 0);
});

test('Cilium 1.14 and an unparseable rke2Version are refused, naming the supported range / form', async () => {
  const { dir, before } = await renderedSeed();
  const spec = await readFile(join(dir, 'mesh.yaml'), 'utf8');
  assert.match(spec, /version: 1\.15\.5/);
  await writeFile(join(dir, 'mesh.yaml'), spec.replace(/version: 1\.15\.5/, 'version: 1.14.12'));
  const old = meshform(['render', 'mesh.yaml', '--out', 'out'], { cwd: dir });
  // A rule the spec breaks: exit 1 (findings), as from validate (src/exit.ts).
  await assertRefused(dir, before, old, /VERSION_TOO_OLD/, 1);
  assert.match(old.stderr, /1\.15–1\.20/);
  await writeFile(join(dir, 'mesh.yaml'), spec.replace(/rke2Version: \S+/, 'rke2Version: latest'));
  await assertRefused(dir, before, meshform(["render", "mesh.yaml", "--out", "out"], { cwd: dir }), /RKE2_VERSION_INVALID at clusters\[0\]\.rke2Version/, 1);
});

test('ca init refuses an empty or multi-line --cn; nothing is written', async () => {
  const dir = await exampleCopy('seed');
  for (const cn of ['', '   ', 'Cilium\nCA', 'a\u0007b', 'x'.repeat(65)]) {
    const r = meshform(['ca', 'init', 'newca', '--cn', cn], { cwd: dir });
    assert.equal(r.code, 2, JSON.stringify(cn));
    assert.match(r.stderr, /USAGE_CN at --cn/);
    await assert.rejects(stat(join(dir, 'newca')), 'nothing written');
  }
  assert.equal(meshform(['ca', 'init', 'newca', '--cn', 'Mesh CA 2026'], { cwd: dir }).code, 0);
});

test('ca import checks everything before writing: an expired CA leaves no files, so the retry works', async () => {
  const dir = await exampleCopy('seed');
  assert.equal(meshform(['ca', 'init', 'old', '--days', '30'], { cwd: dir, env: { MESHFORM_NOW: '2020-01-01T00:00:00Z' } }).code, 0);
  const r = meshform(['ca', 'import', 'old', '--spec', 'mesh.yaml'], { cwd: dir });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /CA_EXPIRED/);
  // Before, ca.crt and ca.key were written first, and the retry failed with CA_FILE_EXISTS.
  await assert.rejects(stat(join(dir, 'ca/ca.crt')));
  await assert.rejects(stat(join(dir, 'ca/ca.key')));
  assert.equal(meshform(['ca', 'init', 'fresh'], { cwd: dir }).code, 0);
  const again = meshform(['ca', 'import', 'fresh', '--spec', 'mesh.yaml'], { cwd: dir });
  assert.equal(again.code, 0, again.stderr);
});

test('a CA key readable by others and a group-writable CA folder are warned about with the exact chmod', async () => {
  const dir = await exampleCopy('seed');
  assert.equal(meshform(['ca', 'init', '--spec', 'mesh.yaml'], { cwd: dir }).code, 0);
  await chmod(join(dir, 'ca/ca.key'), 0o644);
  await chmod(join(dir, 'ca'), 0o770);
  const show = meshform(['ca', 'show', '--spec', 'mesh.yaml'], { cwd: dir });
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stderr, /warning CA_KEY_PERMISSIONS at ca\.key: .*others \(mode 0644\)/);
  assert.ok(show.stderr.includes(`fix:   chmod 600 ${join(dir, 'ca/ca.key')}`), show.stderr);
  assert.ok(show.stderr.includes(`fix:   chmod go-w ${join(dir, 'ca')}`), show.stderr);
  const v = meshform(['validate', 'mesh.yaml', '-o', 'json'], { cwd: dir });
  assert.equal(v.code, 0, 'warnings only');
  const codes = (JSON.parse(v.stdout) as { findings: { code: string }[] }).findings.map((f) => f.code);
  assert.deepEqual(codes.sort(), ['CA_DIR_PERMISSIONS', 'CA_KEY_PERMISSIONS']);
  const r = meshform(['render', 'mesh.yaml', '--out', 'out'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /CA_KEY_PERMISSIONS/);
});
