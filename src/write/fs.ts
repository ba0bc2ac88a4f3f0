/**
 * The file-system primitives every file meshform writes goes through (the output folder, the CA
 * files, `init`'s spec, `discover --save`). Nothing else in meshform creates, renames or deletes a
 * file.
 *
 * Two guarantees hold for every write here:
 * - A file is never written in place: it is created new (`O_EXCL`, never following a link) and
 *   renamed over its target, so a reader sees the old or the new content, never a mix, and a
 *   hard or symbolic link planted at the target can never redirect the write.
 * - A temporary file never sits where Git would take it: it lives in a private folder whose own
 *   `.gitignore` (written before anything else) ignores everything in it, and the next run of
 *   meshform removes such folders left by a process that was killed.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  constants,
  fchmodSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmdirSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';

/** Content of the `.gitignore` that makes Git ignore a whole folder, itself included. */
export const IGNORE_ALL = '# written by meshform: nothing in this folder belongs in Git\n*\n';

const umask = (): number => {
  // process.umask() without an argument is deprecated in workers; the value only decides whether a
  // chmod is needed after open(), so reading it once is enough.
  const m = process.umask(0o022);
  process.umask(m);
  return m;
};
let cachedUmask: number | undefined;

/** Creates `path` (which must not exist) with exactly `mode` and `content`; never follows a link. */
export function createFile(path: string, content: string | Buffer, mode: number, opts: { sync?: boolean } = {}): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    const buf = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    cachedUmask ??= umask();
    if ((mode & ~cachedUmask) !== mode) fchmodSync(fd, mode);
    if (opts.sync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Creates a folder with exactly `mode` (the umask would narrow it); an existing folder is an error. */
export function createDir(path: string, mode: number): void {
  mkdirSync(path, { mode });
  cachedUmask ??= umask();
  if ((mode & ~cachedUmask) !== mode) {
    const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    try {
      fchmodSync(fd, mode);
    } finally {
      closeSync(fd);
    }
  }
}

/** fsync of a folder, so a rename inside it survives a crash. Best effort where folders cannot be synced. */
export function syncDir(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a folder; the data itself was synced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Flushes everything written below `dir` to disk: one `syncfs(2)` through coreutils `sync -f`
 * (one call for thousands of files instead of one fsync each); where that is not available, an
 * fsync of each of `files`.
 */
export function syncTree(dir: string, files: readonly string[]): void {
  try {
    execFileSync('sync', ['-f', dir], { stdio: 'ignore', timeout: 120_000 });
    return;
  } catch {
    // Not GNU coreutils (or no sync binary): fall back to one fsync per file.
  }
  for (const f of files) {
    const fd = openSync(f, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/** `renameat2(2)` system call numbers by architecture (the generic table serves arm64 and riscv64). */
const RENAMEAT2: Partial<Record<string, number>> = { x64: 316, arm64: 276, riscv64: 276, ia32: 353, arm: 382, ppc64: 357, s390x: 347 };
const RENAME_EXCHANGE = 2;

/**
 * Swaps two folders in one atomic step: `renameat2(RENAME_EXCHANGE)` on Linux. Node has no binding
 * for it, so the call goes through perl's `syscall` (perl-base is part of every Debian-family
 * system). Returns false where the exchange is not available (another OS, no perl, a file system
 * without support); the caller then falls back to two renames with recovery.
 */
export function exchangeDirs(a: string, b: string): boolean {
  const nr = process.platform === 'linux' ? RENAMEAT2[process.arch] : undefined;
  if (nr === undefined) return false;
  try {
    const out = execFileSync(
      'perl',
      ['-e', 'my ($n,$f,$a,$b)=@ARGV; my $r=syscall($n+0,-100,$a,-100,$b,$f+0); print $r==0 ? "ok" : "err ".($!+0)', String(nr), String(RENAME_EXCHANGE), a, b],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000 },
    );
    return out === 'ok';
  } catch {
    return false;
  }
}

/**
 * Removes a folder tree that meshform owns, without following any link (a link is removed, never
 * its target).
 */
export function removeTree(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isDirectory()) {
    unlinkSync(path);
    return;
  }
  // Depth-first with plain unlink/rmdir: faster than fs.rmSync's generic walk on thousands of files.
  const stack: Array<{ dir: string; done: boolean }> = [{ dir: path, done: false }];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    if (top.done) {
      rmdirSync(top.dir);
      stack.pop();
      continue;
    }
    top.done = true;
    for (const e of readdirSync(top.dir, { withFileTypes: true })) {
      const p = join(top.dir, e.name);
      if (e.isDirectory()) stack.push({ dir: p, done: false });
      else unlinkSync(p);
    }
  }
}

/** Removes a tree, ignoring every error (clean-up after a failure must not hide the failure). */
export function removeTreeQuietly(path: string): void {
  try {
    removeTree(path);
  } catch {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch {
      // Nothing more to do; the next run cleans up.
    }
  }
}

/** Whether the process that wrote `{pid, host}` may still run (a process on another host counts as running). */
export function ownerMayRun(owner: { pid?: unknown; host?: unknown }): boolean {
  if (typeof owner.pid !== 'number' || !Number.isInteger(owner.pid) || owner.pid <= 0) return false;
  if (owner.host !== hostname()) return true;
  if (owner.pid === process.pid) return true;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What a failed write's errno means, in words (for every writer's error message). */
export function writeErrorReason(err: unknown): { code: string; reason: string } {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? 'error';
  const reason =
    code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOSPC' ? 'no space left on device' : code === 'EROFS' ? 'read-only file system' : code;
  return { code, reason };
}

const TMP_PREFIX = '.meshform-tmp-';

/**
 * Writes one file in a folder that is not meshform's (a CA folder, the folder of `mesh.yaml`): the
 * content goes into a private temporary folder beside the target (git-ignored by its own
 * `.gitignore`), is synced, and is renamed over the target. Refuses to replace an existing target
 * unless `replace`; never follows a link at the target (a link there is replaced, not followed).
 * Temporary folders left by killed processes in the same folder are removed first.
 * @returns false when the target exists and `replace` is not set (nothing written).
 */
export function writeFileAtomic(path: string, content: string, opts: { mode: number; replace: boolean }): boolean {
  const dir = dirname(path);
  cleanStaleTemps(dir);
  if (!opts.replace && existsNoFollow(path)) return false;
  const tmpDir = join(dir, `${TMP_PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  createDir(tmpDir, 0o700);
  try {
    createFile(join(tmpDir, '.gitignore'), IGNORE_ALL, 0o644, { sync: true });
    createFile(join(tmpDir, `owner-${hostname()}-${process.pid}`), '', 0o600);
    const tmp = join(tmpDir, 'content');
    createFile(tmp, content, opts.mode, { sync: true });
    if (!opts.replace && existsNoFollow(path)) return false;
    renameSync(tmp, path);
    syncDir(dir);
    return true;
  } finally {
    removeTreeQuietly(tmpDir);
  }
}

/** Whether anything (a link included, never followed) is at `path`. */
export function existsNoFollow(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Removes `.meshform-tmp-*` folders in `dir` whose writing process is gone. */
export function cleanStaleTemps(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.startsWith(TMP_PREFIX));
  } catch {
    return;
  }
  for (const n of names) {
    const p = join(dir, n);
    let owner: { pid?: number; host?: string } = {};
    try {
      const m = readdirSync(p)
        .map((x) => /^owner-(.+)-(\d+)$/.exec(x))
        .find((x) => x !== null);
      if (m) owner = { host: m[1]!, pid: Number(m[2]) };
    } catch {
      continue;
    }
    if (owner.pid === undefined) {
      // The owner marker is written right after the folder's .gitignore; a folder without one was
      // killed within microseconds of its creation and holds no content yet.
      owner = { pid: Number(/^\.meshform-tmp-(\d+)-/.exec(n)?.[1] ?? 0), host: hostname() };
    }
    if (!ownerMayRun(owner)) removeTreeQuietly(p);
  }
}
