// The published package works as a library: `npm pack`, install the tarball into a scratch
// project, and use the documented API through `import('meshform')`: load the seed example from the
// installed package, validate it, render it into a temp folder. Also: the CLI runs from the install,
// and the tarball holds no private key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../cli/helpers.js';

function run(cmd: string, args: string[], cwd: string, timeoutMs = 180_000): { code: number; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, npm_config_update_notifier: 'false' } });
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** Installs the tarball: from npm's cache, else the registry, else by linking the declared dependencies from this repository. */
async function install(project: string, tarball: string): Promise<string> {
  const npmArgs = ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', tarball];
  if (run('npm', ['--offline', ...npmArgs], project).code === 0) return 'npm install --offline';
  if (run('npm', ['--prefer-offline', ...npmArgs], project).code === 0) return 'npm install --prefer-offline';
  // No registry and no cache: unpack the tarball and link only the dependencies it declares.
  const dest = join(project, 'node_modules', 'meshform');
  await rm(join(project, 'node_modules'), { recursive: true, force: true });
  await mkdir(dest, { recursive: true });
  assert.equal(run('tar', ['-xzf', tarball, '-C', dest, '--strip-components=1'], project).code, 0);
  const pkg = JSON.parse(await readFile(join(dest, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const dep of Object.keys(pkg.dependencies)) {
    const target = join(project, 'node_modules', dep);
    await mkdir(join(target, '..'), { recursive: true });
    await symlink(join(ROOT, 'node_modules', dep), target);
  }
  return 'unpacked, declared dependencies linked';
}

const SCRIPT = `
import { cp, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
const m = await import('meshform');
const now = new Date('2026-12-01T00:00:00Z');
const examples = fileURLToPath(new URL('./node_modules/meshform/examples/seed/', import.meta.url));
const dir = await mkdtemp(join(tmpdir(), 'meshform-lib-'));
await cp(examples, dir, { recursive: true });
const spec0 = await m.loadSpec(join(dir, 'mesh.yaml'));
await m.writeCaFiles(join(dir, 'ca'), await m.createCa({ algorithm: 'ecdsa-p256', validityDays: 3650, now }), { force: false, certPath: spec0.ca.cert, keyPath: spec0.ca.key });
const { spec, ca, facts, findings } = await m.prepare(join(dir, 'mesh.yaml'), { now });
const errors = findings.filter((f) => f.severity === 'error').map((f) => f.code);
const out = join(dir, 'out');
const existing = await m.readCertStore(out, spec.clusters.map((c) => c.name));
const { plan, files } = await m.renderFromSpec(spec, { ca, facts, existing, now, targets: m.ALL_TARGETS });
const written = m.writeOutput(out, files, { mesh: spec.name });
const values = await readFile(join(out, 'values', 'mesh01.yaml'), 'utf8');
console.log(JSON.stringify({
  exports: Object.keys(m).length,
  errors,
  hasErrors: m.hasErrors(findings),
  clusters: plan.clusters.map((c) => c.name),
  written: written.written.length,
  peerOfMesh01: values.includes('name: mesh02'),
  exitFindings: m.exitCodeFor('findings'),
}));
`;

test('npm pack → install into a scratch project → import("meshform"): load, validate and render the seed example', { timeout: 600_000 }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'meshform-pkg-'));
  const packed = run('npm', ['pack', '--silent', '--pack-destination', work], ROOT);
  assert.equal(packed.code, 0, packed.out);
  const tarball = join(work, (await readdir(work)).find((f) => f.endsWith('.tgz'))!);

  const listing = run('tar', ['-tzf', tarball], work).out.split('\n');
  assert.ok(listing.includes('package/dist/src/index.js'), 'the tarball holds the library entry');
  assert.ok(listing.includes('package/dist/src/index.d.ts'), 'and its types');
  assert.ok(listing.includes('package/examples/seed/mesh.yaml'));
  assert.deepEqual(listing.filter((f) => /\.key$|\/ca\/|\/test\//.test(f)), [], 'no keys, CA folders or tests in the package');

  const project = join(work, 'project');
  await mkdir(project);
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, type: 'module' }));
  t.diagnostic(`installed by: ${await install(project, tarball)}`);
  await writeFile(join(project, 'use.mjs'), SCRIPT);

  const used = run(process.execPath, ['use.mjs'], project);
  assert.equal(used.code, 0, used.out);
  const r = JSON.parse(used.out.trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.ok((r.exports as number) > 30, `the library exports ${String(r.exports)} names`);
  assert.deepEqual(r.errors, []);
  assert.equal(r.hasErrors, false);
  assert.deepEqual(r.clusters, ['mesh01', 'mesh02']);
  assert.ok((r.written as number) > 10);
  assert.equal(r.peerOfMesh01, true);
  assert.equal(r.exitFindings, 1);

  // The CLI of the installed package runs too.
  const bin = join(project, 'node_modules', 'meshform', 'bin', 'meshform.js');
  assert.ok(existsSync(bin));
  const help = run(process.execPath, [bin, '--help'], project);
  assert.equal(help.code, 0, help.out);
  assert.match(help.out, /Exit codes/);
  await rm(work, { recursive: true, force: true });
});
