/**
 * Writing files into a folder that is the user's, not meshform's (`init`'s mesh.yaml and values
 * files, `discover --save`, the CA files): each file whole or not at all (fs.ts
 * {@link writeFileAtomic}), an existing file replaced only on request, and every check done
 * before the first file is written.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ExitCode, MeshformError } from '../errors.js';
import type { RenderedFile } from '../render/types.js';
import { existsNoFollow, writeErrorReason, writeFileAtomic } from './fs.js';

function failed(path: string, err: unknown): MeshformError {
  const { code, reason } = writeErrorReason(err);
  return new MeshformError(
    `cannot write ${path}: ${reason}`,
    [
      {
        code: 'WRITE_FAILED',
        severity: 'error',
        path: '',
        value: path,
        message: `cannot write ${path}: ${reason}`,
        rule: 'the folder must be writable, with room for the file',
        fix: code === 'ENOSPC' ? 'free disk space, then run again' : `fix the permissions of ${dirname(path)}, or write elsewhere`,
      },
    ],
    ExitCode.cluster,
  );
}


/** Writes one file (folders created as needed); replaces an existing one only with `replace`. */
export function writeUserFile(path: string, content: string, opts: { mode: number; replace: boolean; dirMode?: number }): void {
  if (!opts.replace && existsNoFollow(path)) throw existsError(path);
  try {
    mkdirSync(dirname(path), { recursive: true, mode: opts.dirMode ?? 0o755 });
    if (!writeFileAtomic(path, content, { mode: opts.mode, replace: opts.replace })) throw existsError(path);
  } catch (e) {
    if (e instanceof MeshformError) throw e;
    throw failed(path, e);
  }
}

/** Removes one file of meshform's in the user's folder (e.g. a finished rotation's record); a missing one is fine. */
export function removeUserFile(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch (e) {
    throw failed(path, e);
  }
}

/** Writes `files` into `dir`: refuses before writing anything when one exists and `replace` is not set. */
export function writeUserFiles(dir: string, files: readonly RenderedFile[], opts: { replace: boolean }): void {
  const targets = files.map((f) => ({ f, path: join(dir, ...f.path.split('/')) }));
  if (!opts.replace) {
    const there = targets.filter((t) => existsNoFollow(t.path));
    if (there.length) throw existsError(there[0]!.path, there.length);
  }
  for (const t of targets) {
    writeUserFile(t.path, t.f.content, { mode: t.f.secret ? 0o600 : 0o644, replace: opts.replace, dirMode: t.f.secret ? 0o700 : 0o755 });
  }
}

function existsError(path: string, n = 1): MeshformError {
  const more = n > 1 ? ` (and ${n - 1} more file(s))` : '';
  return new MeshformError(`${path} exists`, [
    {
      code: 'FILE_EXISTS',
      severity: 'error',
      path: '',
      value: path,
      message: `${path} already exists${more}; nothing was written`,
      rule: 'meshform never replaces a file of yours without being asked',
      fix: 'choose another folder, or pass --force to replace it',
    },
  ]);
}
