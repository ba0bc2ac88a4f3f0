/**
 * Writes a rendered file set into an output folder so that a failed or interrupted run leaves the
 * previous output intact and an unchanged re-render touches nothing on disk.
 *
 * Every changed file is first written in full as a temporary file beside its target; only when all
 * of them exist are they renamed into place, so an error while writing (disk full, permissions)
 * changes no file the user can see. Files that an earlier run wrote and this run no longer renders
 * (a cluster removed from the spec) are deleted, using the list kept in `.meshform-files`; files
 * meshform never wrote are left alone.
 */
import { chmod, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, posix, sep } from 'node:path';
import { ExitCode, MeshformError } from '../errors.js';
import type { RenderedFile } from '../render/types.js';

export const MANIFEST = '.meshform-files';

export interface WriteResult {
  written: string[];
  unchanged: string[];
  removed: string[];
}

const FILE_MODE = 0o644;
const SECRET_FILE_MODE = 0o600;
const SECRET_DIR_MODE = 0o700;

function checkRelative(p: string): void {
  const norm = posix.normalize(p);
  if (norm !== p || p.startsWith('/') || p.startsWith('../') || p === '..' || p.includes('\\')) {
    throw new MeshformError(`internal: refusing to write outside the output folder: ${p}`, [], ExitCode.cluster);
  }
}

async function readIfExists(path: string): Promise<{ text: string; mode: number } | undefined> {
  try {
    const [buf, st] = await Promise.all([readFile(path), stat(path)]);
    return { text: buf.toString('utf8'), mode: st.mode & 0o777 };
  } catch {
    return undefined;
  }
}

function ioError(action: string, path: string, err: unknown): MeshformError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? 'error';
  const reason = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOSPC' ? 'no space left on device' : code;
  return new MeshformError(
    `cannot ${action} ${path}: ${reason}; nothing was changed in the output folder`,
    [],
    ExitCode.cluster,
  );
}

/**
 * Writes `files` into `outDir`; see the module comment for the guarantees. With `manifest: false`
 * (files that share a folder with the user's own, like `init`'s mesh.yaml) no list is kept and
 * nothing is ever removed.
 */
export async function writeOutput(outDir: string, files: readonly RenderedFile[], opts: { manifest?: boolean } = {}): Promise<WriteResult> {
  const keepManifest = opts.manifest ?? true;
  const seen = new Set<string>();
  for (const f of files) {
    checkRelative(f.path);
    if (seen.has(f.path)) throw new MeshformError(`internal: file rendered twice: ${f.path}`, [], ExitCode.cluster);
    seen.add(f.path);
  }

  const previous = keepManifest ? await readManifest(outDir) : [];
  const temps: Array<{ tmp: string; target: string }> = [];
  const result: WriteResult = { written: [], unchanged: [], removed: [] };
  const secretDirs = new Set<string>();
  const manifestText = [...seen].sort().join('\n') + '\n';

  try {
    for (const f of files) {
      const target = join(outDir, ...f.path.split('/'));
      const mode = f.secret ? SECRET_FILE_MODE : FILE_MODE;
      if (f.secret) secretDirs.add(dirname(target));
      const old = await readIfExists(target);
      if (old && old.text === f.content && old.mode === mode) {
        result.unchanged.push(f.path);
        continue;
      }
      await mkdir(dirname(target), { recursive: true, mode: f.secret ? SECRET_DIR_MODE : 0o755 }).catch((e) => {
        throw ioError('create folder', dirname(target), e);
      });
      const tmp = `${dirname(target)}${sep}.${posix.basename(f.path)}.meshform-tmp-${process.pid}`;
      await writeFile(tmp, f.content, { mode }).catch((e) => {
        throw ioError('write', tmp, e);
      });
      // writeFile's mode is masked by the umask and ignored for an existing file.
      await chmod(tmp, mode);
      temps.push({ tmp, target });
      result.written.push(f.path);
    }
    const oldManifest = previous.join('\n') + (previous.length ? '\n' : '');
    if (keepManifest && (oldManifest !== manifestText || temps.length > 0)) {
      const tmp = join(outDir, `${MANIFEST}.meshform-tmp-${process.pid}`);
      await mkdir(outDir, { recursive: true });
      await writeFile(tmp, manifestText, { mode: FILE_MODE }).catch((e) => {
        throw ioError('write', tmp, e);
      });
      temps.push({ tmp, target: join(outDir, MANIFEST) });
    }
  } catch (err) {
    await Promise.all(temps.map((t) => unlink(t.tmp).catch(() => undefined)));
    throw err;
  }

  for (const d of secretDirs) await chmod(d, SECRET_DIR_MODE).catch(() => undefined);
  for (const t of temps) await rename(t.tmp, t.target);

  for (const p of previous) {
    if (seen.has(p)) continue;
    try {
      checkRelative(p);
      await unlink(join(outDir, ...p.split('/')));
      result.removed.push(p);
    } catch {
      // Already gone or not ours to judge: leave it.
    }
  }
  result.written.sort();
  result.unchanged.sort();
  result.removed.sort();
  return result;
}

async function readManifest(outDir: string): Promise<string[]> {
  try {
    const text = await readFile(join(outDir, MANIFEST), 'utf8');
    return text.split('\n').filter((l) => l.length > 0);
  } catch {
    return [];
  }
}
