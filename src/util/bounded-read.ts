/**
 * The one way meshform reads a file it is given (spec, values, facts, CA files, `ca import`
 * sources, files of its own output folder): a regular file of bounded size, read with a bounded
 * read. A FIFO, a socket, `/dev/zero` or `/dev/urandom` would otherwise block `open` or never end.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/** Why a file was not read. */
export type ReadFailure =
  | { kind: 'missing' }
  | { kind: 'directory' }
  /** A FIFO, socket, character or block device: `type` names it for messages. */
  | { kind: 'special'; type: string }
  /** `size` is at least this many bytes: more than the limit, never the whole file. */
  | { kind: 'too-large'; size: number }
  | { kind: 'unreadable'; code: string };

export type ReadResult = { ok: true; bytes: Buffer } | { ok: false; failure: ReadFailure };

// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever. It does not
// change reads of a regular file, the only kind read past fstat.
const FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | (constants.O_NOCTTY ?? 0);

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/**
 * Reads at most `max` bytes of the regular file at `path` (symlinks followed). The file type is
 * checked on the opened descriptor, so it cannot be swapped between check and read, and at most
 * `max + 1` bytes are read whatever the size fstat reports (a file may grow, /proc lies).
 */
export function readBoundedSync(path: string, max: number): ReadResult {
  let fd: number;
  try {
    fd = openSync(path, FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, failure: { kind: 'missing' } };
    // open(2) of a Unix socket fails with ENXIO; of a device without a driver, ENXIO or ENODEV.
    if (code === 'ENXIO' || code === 'ENODEV') return { ok: false, failure: { kind: 'special', type: 'a socket or device' } };
    if (code === 'EISDIR') return { ok: false, failure: { kind: 'directory' } };
    return { ok: false, failure: { kind: 'unreadable', code } };
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) return { ok: false, failure: { kind: 'directory' } };
    if (!st.isFile()) return { ok: false, failure: { kind: 'special', type: kindOf(st) } };
    if (st.size > max) return { ok: false, failure: { kind: 'too-large', size: st.size } };
    let buf = Buffer.allocUnsafe(Math.min(st.size, max) + 1);
    let off = 0;
    for (;;) {
      if (off === buf.length) {
        if (off > max) return { ok: false, failure: { kind: 'too-large', size: off } };
        // The file grew after fstat: read on, still never past max + 1 bytes.
        const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, max + 1));
        buf.copy(bigger);
        buf = bigger;
      }
      const n = readSync(fd, buf, off, buf.length - off, null);
      if (n === 0) break;
      off += n;
    }
    return { ok: true, bytes: buf.subarray(0, off) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    return { ok: false, failure: code === 'EISDIR' ? { kind: 'directory' } : { kind: 'unreadable', code } };
  } finally {
    closeSync(fd);
  }
}

/** Human words for a failure: "does not exist", "is a FIFO (named pipe), not a regular file". */
export function describeFailure(f: ReadFailure, max: number): string {
  switch (f.kind) {
    case 'missing':
      return 'does not exist';
    case 'directory':
      return 'is a directory, not a regular file';
    case 'special':
      return `is ${f.type}, not a regular file`;
    case 'too-large':
      return `is larger than ${max} bytes`;
    case 'unreadable':
      return f.code === 'EACCES' || f.code === 'EPERM' ? 'cannot be read (permission denied)' : `cannot be read (${f.code})`;
  }
}
