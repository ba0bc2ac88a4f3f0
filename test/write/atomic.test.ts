// The output folder writer: ownership record, no links followed, whole-set swap, the lock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync, mkdirSync, symlinkSync, existsSync, readdirSync, lstatSync, chmodSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { writeOutput, OutputFolder, RECORD, SECRET_RECORD } from '../../src/write/atomic.js';
import { MeshformError } from '../../src/errors.js';
import type { RenderedFile } from '../../src/render/types.js';
import { listFiles } from './helpers.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'meshform-write-'));
}
const f = (path: string, content: string, secret = path.startsWith('secrets/')): RenderedFile => ({ path, content, secret });
const MESH = { mesh: 'm1' };
const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    if (e instanceof MeshformError) return e.findings[0]?.code ?? `exit ${e.exitCode}`;
    throw e;
  }
  return undefined;
};

test('writes files with modes, secrets 0600 in 0700 folders, .gitignore and records', () => {
  const out = join(tmp(), 'out');
  const r = writeOutput(out, [f('values/a.yaml', 'a: 1\n'), f('secrets/a/certs/server.key', 'KEY\n')], MESH);
  assert.deepEqual(r.written, ['secrets/.gitignore', 'secrets/a/certs/server.key', 'values/a.yaml']);
  assert.equal(statSync(join(out, 'secrets/a/certs/server.key')).mode & 0o777, 0o600);
  assert.equal(statSync(join(out, 'secrets/a/certs')).mode & 0o777, 0o700);
  assert.equal(statSync(join(out, 'secrets')).mode & 0o777, 0o700);
  assert.equal(statSync(join(out, 'values/a.yaml')).mode & 0o777, 0o644);
  assert.match(readFileSync(join(out, 'secrets/.gitignore'), 'utf8'), /^\*$/m);
  const rec = JSON.parse(readFileSync(join(out, RECORD), 'utf8')) as { mesh: string; files: Record<string, string> };
  assert.equal(rec.mesh, 'm1');
  assert.deepEqual(Object.keys(rec.files), ['values/a.yaml']);
  assert.equal(rec.files['values/a.yaml'], createHash('sha256').update('a: 1\n').digest('hex'));
  const srec = JSON.parse(readFileSync(join(out, SECRET_RECORD), 'utf8')) as { files: Record<string, string> };
  assert.deepEqual(Object.keys(srec.files), ['secrets/.gitignore', 'secrets/a/certs/server.key']);
  assert.equal(statSync(join(out, SECRET_RECORD)).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(join(out, '..')), ['out'], 'the work folder is gone after the run');
});

test('an unchanged re-render touches nothing on disk', () => {
  const out = join(tmp(), 'out');
  const files = [f('values/a.yaml', 'a: 1\n'), f('secrets/k', 'K\n')];
  writeOutput(out, files, MESH);
  const before = listFiles(out).map((p) => [p, statSync(join(out, p)).ino, statSync(join(out, p)).mtimeMs]);
  const dirIno = statSync(out).ino;
  const r = writeOutput(out, files, MESH);
  assert.deepEqual(r.written, []);
  assert.deepEqual(r.unchanged, ['secrets/.gitignore', 'secrets/k', 'values/a.yaml']);
  assert.deepEqual(listFiles(out).map((p) => [p, statSync(join(out, p)).ino, statSync(join(out, p)).mtimeMs]), before);
  assert.equal(statSync(out).ino, dirIno, 'the folder was not swapped');
});

test('a change swaps in a whole new set; unchanged files are carried over as the same inode', () => {
  const out = join(tmp(), 'out');
  writeOutput(out, [f('values/a.yaml', 'a\n'), f('values/b.yaml', 'b\n')], MESH);
  const inoA = statSync(join(out, 'values/a.yaml')).ino;
  const r = writeOutput(out, [f('values/a.yaml', 'a\n'), f('values/b.yaml', 'B\n')], MESH);
  assert.deepEqual(r.written, ['values/b.yaml']);
  assert.equal(statSync(join(out, 'values/a.yaml')).ino, inoA);
  assert.equal(readFileSync(join(out, 'values/b.yaml'), 'utf8'), 'B\n');
});

test('a non-empty folder meshform did not write is refused, and taken over only on request', () => {
  const out = tmp();
  writeFileSync(join(out, 'values.yaml'), 'mine\n');
  mkdirSync(join(out, 'values'));
  writeFileSync(join(out, 'values/a.yaml'), 'my own a\n');
  assert.equal(codeOf(() => writeOutput(out, [f('values/a.yaml', 'a\n')], MESH)), 'OUT_NOT_MESHFORM');
  assert.equal(readFileSync(join(out, 'values/a.yaml'), 'utf8'), 'my own a\n');
  const r = writeOutput(out, [f('values/a.yaml', 'a\n')], { mesh: 'm1', takeOver: true });
  assert.deepEqual(r.written, ['values/a.yaml']);
  assert.deepEqual(r.kept, ['values.yaml']);
  assert.equal(readFileSync(join(out, 'values.yaml'), 'utf8'), 'mine\n', 'other files are kept');
});

test("another mesh's folder is refused: nothing of it is replaced or deleted", () => {
  const out = join(tmp(), 'out');
  writeOutput(out, [f('values/a.yaml', 'a\n'), f('secrets/a/certs/server.key', 'KEY A\n')], { mesh: 'A' });
  const before = listFiles(out);
  const e = (() => {
    try {
      writeOutput(out, [f('values/b.yaml', 'b\n')], { mesh: 'B' });
    } catch (err) {
      return err as MeshformError;
    }
    return undefined;
  })();
  assert.ok(e instanceof MeshformError);
  assert.equal(e.findings[0]?.code, 'OUT_OTHER_MESH');
  assert.match(e.findings[0]!.message, /mesh "A"/);
  assert.match(e.findings[0]!.fix, /--take-over/);
  assert.deepEqual(listFiles(out), before);
});

test('a file meshform wrote but that was edited since is neither replaced nor pruned without --take-over', () => {
  const out = join(tmp(), 'out');
  writeOutput(out, [f('values/a.yaml', 'a\n'), f('values/b.yaml', 'b\n')], MESH);
  writeFileSync(join(out, 'values/a.yaml'), 'hand edit\n');
  assert.equal(codeOf(() => writeOutput(out, [f('values/a.yaml', 'a2\n'), f('values/b.yaml', 'b\n')], MESH)), 'OUT_FILE_CHANGED');
  assert.equal(readFileSync(join(out, 'values/a.yaml'), 'utf8'), 'hand edit\n');
  // No longer rendered: an edited file stays, an unchanged one goes.
  const r = writeOutput(out, [f('values/c.yaml', 'c\n')], MESH);
  assert.deepEqual(r.removed, ['values/b.yaml']);
  assert.deepEqual(r.kept, ['values/a.yaml']);
  assert.equal(readFileSync(join(out, 'values/a.yaml'), 'utf8'), 'hand edit\n');
  const r2 = writeOutput(out, [f('values/a.yaml', 'a3\n')], { mesh: 'm1', takeOver: true });
  assert.deepEqual(r2.written, ['values/a.yaml']);
});

test('a foreign file added to the folder is kept, and never replaced without --take-over', () => {
  const out = join(tmp(), 'out');
  writeOutput(out, [f('values/a.yaml', 'a\n')], MESH);
  writeFileSync(join(out, 'README.md'), 'notes\n');
  writeFileSync(join(out, 'values/b.yaml'), 'mine\n');
  const r = writeOutput(out, [f('values/a.yaml', 'A\n')], MESH);
  assert.deepEqual(r.kept, ['README.md', 'values/b.yaml']);
  assert.equal(readFileSync(join(out, 'README.md'), 'utf8'), 'notes\n');
  assert.equal(codeOf(() => writeOutput(out, [f('values/b.yaml', 'b\n')], MESH)), 'OUT_FILE_FOREIGN');
  assert.equal(readFileSync(join(out, 'values/b.yaml'), 'utf8'), 'mine\n');
});

test('a tampered record cannot make meshform delete anything outside the folder, or a file it did not write', () => {
  const root = tmp();
  const out = join(root, 'out');
  writeFileSync(join(root, 'precious'), 'outside\n');
  writeOutput(out, [f('values/a.yaml', 'a\n')], MESH);
  writeFileSync(join(out, 'user.txt'), 'user\n');
  const rec = JSON.parse(readFileSync(join(out, RECORD), 'utf8')) as { files: Record<string, string> };
  rec.files['../precious'] = createHash('sha256').update('outside\n').digest('hex');
  rec.files['/etc/hostname'] = createHash('sha256').update('x').digest('hex');
  rec.files['user.txt'] = '0'.repeat(64); // listed, but not with its content: not ours to delete
  writeFileSync(join(out, RECORD), JSON.stringify(rec));
  // The record itself now differs from what meshform wrote: replacing it is meshform's business.
  const r = writeOutput(out, [f('values/b.yaml', 'b\n')], MESH);
  assert.deepEqual(r.removed, ['values/a.yaml']);
  assert.deepEqual(r.kept, ['user.txt']);
  assert.equal(readFileSync(join(root, 'precious'), 'utf8'), 'outside\n');
  assert.equal(readFileSync(join(out, 'user.txt'), 'utf8'), 'user\n');
});

for (const planted of ['secrets', 'secrets/a/certs', 'values']) {
  test(`a symlink planted at ${planted}/ is refused: nothing lands outside, the target is not chmod-ed`, () => {
    const root = tmp();
    const out = join(root, 'out');
    writeOutput(out, [f('values/a.yaml', 'a\n'), f('secrets/a/certs/server.key', 'K\n')], MESH);
    const elsewhere = join(root, 'elsewhere');
    mkdirSync(elsewhere, { mode: 0o755 });
    chmodSync(elsewhere, 0o755);
    const at = join(out, ...planted.split('/'));
    rmSync(at, { recursive: true, force: true });
    symlinkSync(elsewhere, at);
    assert.equal(codeOf(() => writeOutput(out, [f('values/a.yaml', 'A\n'), f('secrets/a/certs/server.key', 'K2\n')], MESH)), 'OUT_SYMLINK');
    assert.deepEqual(readdirSync(elsewhere), []);
    assert.equal(statSync(elsewhere).mode & 0o777, 0o755);
    assert.ok(lstatSync(at).isSymbolicLink(), 'the link itself is left for the user to remove');
  });
}

test('--out itself being a link, or a file, is refused', () => {
  const root = tmp();
  mkdirSync(join(root, 'real'));
  symlinkSync(join(root, 'real'), join(root, 'link'));
  assert.equal(codeOf(() => writeOutput(join(root, 'link'), [f('plan.json', '{}\n')], MESH)), 'OUT_SYMLINK');
  writeFileSync(join(root, 'file'), 'x');
  assert.equal(codeOf(() => writeOutput(join(root, 'file'), [f('plan.json', '{}\n')], MESH)), 'OUT_NOT_A_FOLDER');
});

test('special files in the output folder are refused', () => {
  const out = join(tmp(), 'out');
  writeOutput(out, [f('plan.json', '{}\n')], MESH);
  execFileSync('mkfifo', [join(out, 'fifo')]);
  assert.equal(codeOf(() => writeOutput(out, [f('plan.json', '{"a":1}\n')], MESH)), 'OUT_SPECIAL_FILE');
});

test('paths that leave the output folder, or secrets outside secrets/, are internal errors (bugs: exit 4)', () => {
  const out = join(tmp(), 'out');
  for (const p of ['../evil', '/etc/evil', 'a/../../b', RECORD]) {
    assert.throws(() => writeOutput(out, [f(p, '', false)], MESH), (e: unknown) => e instanceof Error && !(e instanceof MeshformError) && /^internal: /.test(e.message), p);
  }
  assert.throws(() => writeOutput(out, [f('values/k.key', 'K', true)], MESH), /secret files live under secrets/);
  assert.equal(existsSync(out), false, 'nothing was created');
});

test('files no longer rendered are removed; secrets/.gitignore stays while any file remains under secrets/', () => {
  const out = join(tmp(), 'out');
  writeOutput(out, [f('values/a.yaml', 'a\n'), f('secrets/a.values.yaml', 'S\n'), f('plan.json', '{}\n')], MESH);
  // The user keeps a key of their own under secrets/: the .gitignore must stay with it.
  writeFileSync(join(out, 'secrets/mine.key'), 'MINE\n');
  const r = writeOutput(out, [f('plan.json', '{}\n')], MESH);
  assert.deepEqual(r.removed, ['secrets/a.values.yaml', 'values/a.yaml']);
  assert.ok(existsSync(join(out, 'secrets/.gitignore')));
  assert.equal(existsSync(join(out, 'values')), false, 'a folder emptied by pruning goes too');
});

test('a held lock refuses a second writer; a lock of a dead process is taken over', () => {
  const root = tmp();
  const out = join(root, 'out');
  writeOutput(out, [f('plan.json', '{}\n')], MESH);
  const work = join(root, '.out.meshform');
  mkdirSync(work);
  // PID 1 is always running.
  writeFileSync(join(work, 'lock'), JSON.stringify({ pid: 1, host: hostname(), token: 'x' }));
  const e = codeOf(() => writeOutput(out, [f('plan.json', '{"n":1}\n')], MESH));
  assert.equal(e, 'OUT_LOCKED');
  assert.equal(readFileSync(join(out, 'plan.json'), 'utf8'), '{}\n');
  // A process that is gone: find a free pid.
  let dead = 4_000_000;
  while (existsSync(`/proc/${dead}`)) dead++;
  writeFileSync(join(work, 'lock'), JSON.stringify({ pid: dead, host: hostname(), token: 'y' }));
  mkdirSync(join(work, 'next'));
  writeFileSync(join(work, 'next', 'half-written.key'), 'K');
  writeOutput(out, [f('plan.json', '{"n":2}\n')], MESH);
  assert.equal(readFileSync(join(out, 'plan.json'), 'utf8'), '{"n":2}\n');
  assert.deepEqual(readdirSync(root), ['out'], 'the stale work folder is gone');
});

test('opening for a dry run takes no lock and changes nothing', () => {
  const root = tmp();
  const out = join(root, 'out');
  writeOutput(out, [f('plan.json', '{}\n')], MESH);
  const folder = OutputFolder.open(out, { ...MESH, readOnly: true });
  assert.equal(folder.read('plan.json')?.toString(), '{}\n');
  assert.throws(() => folder.commit([f('plan.json', '{"x":1}\n')]), /read-only/);
  folder.close();
  assert.deepEqual(readdirSync(root), ['out']);
});

test('an interruption between the fallback\'s two renames is rolled forward by the next run', () => {
  const root = tmp();
  const out = join(root, 'out');
  writeOutput(out, [f('plan.json', '{"gen":1}\n')], MESH);
  // What the two-rename fallback leaves when killed between its renames: the old set moved aside,
  // the complete new set not yet moved in, no output folder.
  writeOutput(join(root, 'staged'), [f('plan.json', '{"gen":2}\n')], MESH);
  mkdirSync(join(root, '.out.meshform'));
  execFileSync('mv', [out, join(root, '.out.meshform/old')]);
  execFileSync('mv', [join(root, 'staged'), join(root, '.out.meshform/next')]);
  const r = writeOutput(out, [f('plan.json', '{"gen":2}\n')], MESH);
  assert.deepEqual(r.written, [], 'the rolled-forward set is already the wanted one');
  assert.equal(readFileSync(join(out, 'plan.json'), 'utf8'), '{"gen":2}\n');
  assert.deepEqual(readdirSync(root), ['out']);
});

test('an output folder whose parent folders do not exist yet is created with them', () => {
  const root = tmp();
  const out = join(root, 'a', 'b', 'out');
  writeOutput(out, [f('plan.json', '{}\n')], MESH);
  assert.equal(readFileSync(join(out, 'plan.json'), 'utf8'), '{}\n');
  assert.deepEqual(readdirSync(join(root, 'a', 'b')), ['out']);
});
