// One exit-code policy (src/exit.ts): the same condition gives the same code from every command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT_CODES_HELP, EXIT_CODES_SHORT } from '../../src/exit.js';
import { handleError } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/io.js';
import { exampleCopy, meshform, ROOT } from './helpers.js';

const SPEC_COMMANDS: string[][] = [
  ['validate'],
  ['render', '--out', 'out'],
  ['apply', '--out', 'out', '--no-progress'],
  ['apply', '--out', 'out', '--dry-run', '--no-progress'],
  ['diff', '--out', 'out'],
  ['status'],
  ['doctor', '--no-probe'],
  ['discover'],
];

async function seedWithCa(): Promise<string> {
  const dir = await exampleCopy('seed');
  assert.equal(meshform(['ca', 'init', '--spec', 'mesh.yaml'], { cwd: dir }).code, 0);
  return dir;
}

function codes(dir: string, extra: string[] = []): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [cmd, ...flags] of SPEC_COMMANDS) {
    const r = meshform([cmd!, 'mesh.yaml', ...flags, ...extra], { cwd: dir });
    out[[cmd, ...flags].join(' ')] = r.code;
  }
  return out;
}

const all = (code: number): Record<string, number> => Object.fromEntries(SPEC_COMMANDS.map((c) => [c.join(' '), code]));

test('a spec that breaks a rule exits 1 from every command, and no cluster is touched', async () => {
  const dir = await seedWithCa();
  await writeFile(join(dir, 'mesh.yaml'), (await readFile(join(dir, 'mesh.yaml'), 'utf8')).replace('id: 2', 'id: 1'));
  assert.deepEqual(codes(dir), all(1));
  const r = meshform(['status', 'mesh.yaml'], { cwd: dir });
  assert.match(r.stderr, /ID_DUPLICATE/);
  assert.match(r.stderr, /no cluster was touched/);
});

test('a spec that does not load exits 2 from every command', async () => {
  const dir = await seedWithCa();
  await writeFile(join(dir, 'mesh.yaml'), (await readFile(join(dir, 'mesh.yaml'), 'utf8')).replace('id: 2', 'id: two'));
  assert.deepEqual(codes(dir), all(2));
});

test('an unreachable cluster exits 3 from status, doctor and discover', async () => {
  const dir = await seedWithCa();
  await mkdir(join(dir, 'kubeconfigs'), { recursive: true });
  for (const name of ['mesh01', 'mesh02']) {
    // Port 1 on loopback: connection refused at once, no waiting on a timeout.
    await writeFile(
      join(dir, 'kubeconfigs', `${name}.yaml`),
      `apiVersion: v1\nkind: Config\nclusters: [{name: ${name}, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\n` +
        `users: [{name: u, user: {token: t}}]\ncontexts: [{name: ${name}, context: {cluster: ${name}, user: u}}]\ncurrent-context: ${name}\n`,
    );
  }
  const got: Record<string, number> = {};
  for (const args of [['status'], ['doctor', '--no-probe'], ['doctor'], ['discover']]) {
    const r = meshform([args[0]!, 'mesh.yaml', ...args.slice(1), '--request-timeout', '5s'], { cwd: dir });
    got[args.join(' ')] = r.code;
    assert.doesNotMatch(r.stderr, /internal error/, `${args.join(' ')}: ${r.stderr}`);
  }
  assert.deepEqual(got, { status: 3, 'doctor --no-probe': 3, doctor: 3, discover: 3 });
});

test('usage errors exit 2 from every command', () => {
  for (const cmd of ['validate', 'render', 'apply', 'diff', 'status', 'doctor', 'discover']) {
    assert.equal(meshform([cmd, 'mesh.yaml', '--no-such-flag']).code, 2, cmd);
  }
  assert.equal(meshform(['render', 'x.yaml', '--out', 'o', '--targets', 'nope']).code, 2);
});

function captureIo(env: NodeJS.ProcessEnv = {}): Io & { errText: () => string } {
  const err: string[] = [];
  return { out: () => undefined, err: (t) => void err.push(t), now: () => new Date(0), cwd: ROOT, env, errText: () => err.join('\n') };
}

test('an internal error exits 4 with "internal error, please report" and no stack unless MESHFORM_DEBUG', () => {
  const io = captureIo();
  assert.equal(handleError(io, new TypeError('x is undefined')), 4);
  assert.match(io.errText(), /internal error, please report: x is undefined/);
  assert.doesNotMatch(io.errText(), /\n\s+at /);
  const debug = captureIo({ MESHFORM_DEBUG: '1' });
  assert.equal(handleError(debug, new TypeError('x is undefined')), 4);
  assert.match(debug.errText(), /\n\s+at /);
});

test('--help and the README state the exit-code policy of exit.ts', async () => {
  const help = meshform(['--help']);
  assert.equal(help.code, 0);
  assert.ok(help.stdout.includes(EXIT_CODES_HELP), help.stdout);
  for (const cmd of [['validate'], ['render'], ['ca', 'init'], ['apply'], ['doctor']]) {
    const h = meshform([...cmd, '--help']);
    assert.equal(h.code, 0);
    assert.ok(h.stdout.includes(EXIT_CODES_SHORT), `${cmd.join(' ')} --help names the exit codes`);
  }
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  assert.ok(readme.includes(EXIT_CODES_HELP), 'README.md carries the exit-code text of src/exit.ts');
});

test('a reader that closes early (meshform … | head) ends the output quietly: no stack trace, the exit code is kept', async () => {
  const { spawn } = await import('node:child_process');
  const dir = await exampleCopy('seed');
  for (const [args, want] of [
    [['render', '--help'], 0],
    [['validate', 'mesh.yaml', '-o', 'json'], 1], // no CA yet (a finding): the spec's exit code, not a crash's
  ] as const) {
    const child = spawn(process.execPath, [join(ROOT, 'bin/meshform.js'), ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the reader is gone before the first write: every write fails with EPIPE
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((res) => child.on('close', res));
    assert.doesNotMatch(stderr, /EPIPE|Unhandled|node:events|at .*\.js:\d+/, `${args.join(' ')}: ${stderr}`);
    assert.equal(code, want, `${args.join(' ')} exit code (stderr: ${stderr})`);
  }
});
