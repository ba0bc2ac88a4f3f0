// The output folder as a user meets it, through the built CLI: kill -9 at random moments inside a
// Git repository, two renders at once, a full disk, a machine without the atomic exchange, and
// `git add -A` never taking a key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, NOW, meshform } from '../cli/helpers.js';
import { writeMeshFiles, meshYaml } from '../../bench/mesh-files.js';
import { listFiles } from './helpers.js';

const KEYISH = /\.key$|\/certs\/|\.values\.yaml$|meshform-tmp|\.meshform\/|secrets\/(?!\.gitignore$)/;


/**
 * The folder is one complete set: every file the records list is there with the recorded content,
 * and nothing else is. A mix of two runs fails: the records are part of the set they describe.
 */
function completeSet(out: string): { ok: true; replicas: number } | { ok: false; why: string } {
  const rec = JSON.parse(readFileSync(join(out, '.meshform-record.json'), 'utf8')) as { files: Record<string, string> };
  const srec = JSON.parse(readFileSync(join(out, 'secrets/.meshform-record.json'), 'utf8')) as { files: Record<string, string> };
  const want = { ...rec.files, ...srec.files };
  const have = listFiles(out).filter((p) => p !== '.meshform-record.json' && p !== 'secrets/.meshform-record.json');
  if (have.join('\n') !== Object.keys(want).sort().join('\n')) return { ok: false, why: `files differ from the record: ${have.length} vs ${Object.keys(want).length}` };
  for (const p of have) {
    const h = createHash('sha256').update(readFileSync(join(out, p))).digest('hex');
    if (h !== want[p]) return { ok: false, why: `${p} does not match the record` };
  }
  const values = readFileSync(join(out, 'values/c000.yaml'), 'utf8');
  const replicas = Number(/replicas: (\d+)/.exec(values.slice(values.indexOf('clustermesh:')))?.[1] ?? 0);
  return { ok: true, replicas };
}

function git(dir: string, ...args: string[]): string {
  const r = spawnSync('git', args, { cwd: dir, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: dir } });
  assert.equal(r.status, 0, `git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A Git work tree with a generated mesh of `n` clusters, its CA, and a second spec that changes every cluster. */
function workspace(n: number): { dir: string; a: string; b: string } {
  const dir = mkdtempSync(join(tmpdir(), 'meshform-safety-'));
  git(dir, 'init', '-q');
  const a = writeMeshFiles(dir, n);
  const b = join(dir, 'mesh-b.yaml');
  writeFileSync(b, meshYaml(n, { replicas: 3 }));
  const ca = meshform(['ca', 'init', '--spec', a], { cwd: dir });
  assert.equal(ca.code, 0, ca.stderr);
  return { dir, a, b };
}

function gitWouldAdd(dir: string): string[] {
  return git(dir, 'add', '-A', '--dry-run')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^add '(.*)'$/, '$1'));
}

test('kill -9 at random moments: the folder always holds one complete set, Git never sees a key, the next run leaves nothing behind', async (t) => {
  const { dir, a, b } = workspace(24);
  const out = join(dir, 'out');
  const first = meshform(['render', a, '--out', out], { cwd: dir });
  assert.equal(first.code, 0, first.stderr);
  // How long a changing render takes, so the kills spread over all of it.
  const t0 = performance.now();
  const second = meshform(['render', b, '--out', out], { cwd: dir });
  const span = performance.now() - t0;
  assert.equal(second.code, 0, second.stderr);
  const seen = { old: 0, new: 0 };
  let spec = a;
  let expectNew = 2;
  // 20 kills spread over 0.3–1.25 × one render; on a machine whose load changes under the test the
  // one measured render can mislead, so while one side was never reached the next kills (up to 20
  // more) move towards it: later for the new set, earlier for the old one.
  for (let i = 0; i < 40 && (i < 20 || seen.old === 0 || seen.new === 0); i++) {
    const before = completeSet(out);
    assert.ok(before.ok);
    const child = spawn(process.execPath, [BIN, 'render', spec, '--out', out], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: dir, MESHFORM_NOW: NOW },
      stdio: 'ignore',
    });
    const exited = new Promise((r) => child.on('exit', r));
    const extra = i - 19;
    const delay = i < 20 ? (0.3 + ((i * 7919) % 20) / 20) * span : seen.new === 0 ? (1.25 + 0.25 * extra) * span : (0.3 / (1 + extra)) * span;
    await new Promise((r) => setTimeout(r, delay));
    child.kill('SIGKILL');
    await exited;
    const s = completeSet(out);
    assert.ok(s.ok, `after a kill at ${delay.toFixed(0)} ms: ${s.ok ? '' : s.why}`);
    if (s.replicas === (before.ok ? before.replicas : 0)) seen.old++;
    else seen.new++;
    assert.deepEqual(gitWouldAdd(dir).filter((p) => KEYISH.test(p)), [], 'git add -A would take secret or temporary files');
    if (s.replicas === expectNew) {
      spec = spec === a ? b : a;
      expectNew = expectNew === 2 ? 3 : 2;
    }
  }
  t.diagnostic(`kills that left the old set: ${seen.old}, the new set: ${seen.new}`);
  assert.ok(seen.old > 0 && seen.new > 0, `the kills should land both before and after the swap (old ${seen.old}, new ${seen.new})`);
  const last = meshform(['render', a, '--out', out], { cwd: dir });
  assert.equal(last.code, 0, last.stderr);
  assert.ok(completeSet(out).ok);
  assert.deepEqual(readdirSync(dir).filter((n) => n.includes('meshform')), [], 'no work folder, lock or temporary file is left');
});

test('kill -9 during a first render in a Git repository: no output or a complete one, and never a key Git would take', async (t) => {
  const { dir, a } = workspace(16);
  const t0 = performance.now();
  assert.equal(meshform(['render', a, '--out', 'probe'], { cwd: dir }).code, 0);
  const span = performance.now() - t0;
  const { rmSync } = await import('node:fs');
  rmSync(join(dir, 'probe'), { recursive: true });
  let complete = 0;
  for (let i = 0; i < 12; i++) {
    rmSync(join(dir, 'out'), { recursive: true, force: true });
    const child = spawn(process.execPath, [BIN, 'render', a, '--out', 'out'], { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir, MESHFORM_NOW: NOW }, stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    await new Promise((r) => setTimeout(r, (0.4 + i / 12) * span));
    child.kill('SIGKILL');
    await exited;
    if (existsSync(join(dir, 'out'))) {
      const s = completeSet(join(dir, 'out'));
      assert.ok(s.ok, s.ok ? '' : s.why);
      complete++;
    }
    assert.deepEqual(gitWouldAdd(dir).filter((p) => KEYISH.test(p)), [], 'git add -A would take secret or temporary files');
  }
  t.diagnostic(`kills after which the output folder was complete: ${complete} of 12 (the others: no output folder yet)`);
});

test('render --targets plan after a full render keeps secrets/.gitignore: git add -A takes no key', () => {
  const { dir, a } = workspace(2);
  assert.equal(meshform(['render', a, '--out', 'out'], { cwd: dir }).code, 0);
  assert.deepEqual(gitWouldAdd(dir).filter((p) => KEYISH.test(p)), []);
  const r = meshform(['render', a, '--out', 'out', '--targets', 'plan'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(dir, 'out/secrets/.gitignore')));
  assert.ok(existsSync(join(dir, 'out/secrets/c000/certs/server.key')), 'the certificate store stays for reuse');
  assert.deepEqual(gitWouldAdd(dir).filter((p) => KEYISH.test(p)), []);
  assert.ok(gitWouldAdd(dir).includes('out/plan.json'));
});

test('two renders at once into one folder: one waits its turn or is refused, the result is one complete set', async () => {
  const { dir, a, b } = workspace(16);
  const run = (spec: string) =>
    new Promise<{ code: number; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, [BIN, 'render', spec, '--out', 'out'], { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir, MESHFORM_NOW: NOW } });
      let stderr = '';
      c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      c.on('exit', (code) => resolve({ code: code ?? -1, stderr }));
    });
  for (let i = 0; i < 3; i++) {
    const [x, y] = await Promise.all([run(a), run(b)]);
    for (const r of [x, y]) assert.ok(r.code === 0 || (r.code === 2 && /OUT_LOCKED/.test(r.stderr)), r.stderr);
    assert.ok(x.code === 0 || y.code === 0, 'one of them wrote');
    assert.ok(completeSet(join(dir, 'out')).ok);
  }
});

test('without the atomic exchange (no perl, no coreutils sync on PATH) the fallback still writes one complete set', () => {
  const { dir, a, b } = workspace(4);
  const env = { PATH: join(dir, 'no-such-bin') };
  for (const spec of [a, b, a]) {
    const r = meshform(['render', spec, '--out', 'out'], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(completeSet(join(dir, 'out')).ok);
  }
  assert.deepEqual(readdirSync(dir).filter((n) => n.includes('meshform')), []);
});

test('a full disk leaves the previous set intact and no empty temporary files or folders', () => {
  const { dir, a, b } = workspace(2);
  const fs = join(dir, 'fs');
  const checker = join(dir, 'check.mjs');
  writeFileSync(
    checker,
    `import { readdirSync } from 'node:fs';
const walk = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [d + '/' + e.name + '/', ...walk(d + '/' + e.name)] : [d + '/' + e.name]));
console.log(JSON.stringify(walk(process.argv[2])));`,
  );
  // A small tmpfs of our own, in a private mount namespace (nothing of it is seen outside).
  const script = [
    'set -e',
    `mkdir -p ${fs}`,
    `mount -t tmpfs -o size=4m tmpfs ${fs}`,
    `cp -r ${dir}/values ${dir}/ca ${a} ${b} ${fs}/`,
    `cd ${fs}`,
    `"${process.execPath}" ${BIN} render mesh.yaml --out out >/dev/null`,
    `"${process.execPath}" ${checker} ${fs} > ${fs}/../before.json`,
    // Fill the disk, keeping a few kB: the next render cannot fit its new set.
    `head -c $(( $(stat -f -c '%a*%S' ${fs}) - 8192 )) /dev/zero > ${fs}/filler`,
    `set +e; "${process.execPath}" ${BIN} render mesh-b.yaml --out out 2> ${fs}/../stderr.txt; echo $? > ${fs}/../code.txt; set -e`,
    `rm -f ${fs}/filler`,
    `"${process.execPath}" ${checker} ${fs} > ${fs}/../after.json`,
  ].join('\n');
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: dir, MESHFORM_NOW: NOW },
  });
  assert.equal(r.status, 0, `the full-disk test needs root and unshare (mount namespaces): ${r.stderr}`);
  const code = Number(readFileSync(join(dir, 'code.txt'), 'utf8'));
  const stderr = readFileSync(join(dir, 'stderr.txt'), 'utf8');
  assert.equal(code, 3, stderr);
  assert.match(stderr, /no space left on device/);
  assert.doesNotMatch(stderr, /at .*\.js:\d+/, 'no stack trace');
  const before = JSON.parse(readFileSync(join(dir, 'before.json'), 'utf8')) as string[];
  const after = (JSON.parse(readFileSync(join(dir, 'after.json'), 'utf8')) as string[]).filter((p) => !p.endsWith('/filler'));
  assert.deepEqual(after, before, 'exactly the earlier files and folders, nothing left over');
});
