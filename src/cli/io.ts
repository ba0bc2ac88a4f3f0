/**
 * The CLI's only link to the terminal: stdout carries data (tables, JSON), stderr carries progress,
 * warnings and errors, so `-o json` output can be piped.
 */
import { MeshformError, type Finding } from '../errors.js';
import { RULES } from '../validate/catalogue.js';
import { exitCodeFor } from '../exit.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** The clock for certificate validity and expiry checks (`MESHFORM_NOW` pins it for reproducible runs). */
  now(): Date;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The terminal behind `err`, when it is one (the process's stderr on a TTY): live views draw on it. */
  errTerminal?: NodeJS.WriteStream;
}

/** Streams whose reader went away (`meshform … | head`): later writes to them are dropped. */
const closed = new Set<NodeJS.WriteStream>();
const watched = new WeakSet<NodeJS.WriteStream>();

/**
 * Writes to a process stream. A reader that closes early (EPIPE) ends the output quietly, as it does
 * for other command-line tools, instead of an unhandled 'error' event and its stack trace; the
 * command itself runs on and keeps its exit code.
 */
function writer(stream: NodeJS.WriteStream): (text: string) => void {
  if (!watched.has(stream)) {
    watched.add(stream);
    stream.on('error', (e: NodeJS.ErrnoException) => {
      closed.add(stream);
      if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') return;
      // Any other failure of the terminal or file behind it is an I/O failure (exit 3), said once.
      process.exitCode = exitCodeFor('cluster');
      if (stream !== process.stderr && !closed.has(process.stderr)) process.stderr.write(`meshform: cannot write the output: ${e.code ?? e.message}\n`);
    });
  }
  return (t) => {
    if (!closed.has(stream)) stream.write(t.endsWith('\n') ? t : t + '\n');
  };
}

export function processIo(): Io {
  return {
    out: writer(process.stdout),
    err: writer(process.stderr),
    now: () => {
      const pinned = process.env.MESHFORM_NOW;
      return pinned ? parsePinnedNow(pinned) : new Date();
    },
    cwd: process.cwd(),
    env: process.env,
    ...(process.stderr.isTTY === true ? { errTerminal: process.stderr } : {}),
  };
}

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * The clock `MESHFORM_NOW` pins: an ISO 8601 time with a zone, e.g. `2026-11-27T12:00:00Z`.
 * Anything else is refused (exit 2): falling back to the real clock would re-issue certificates
 * the pinned run meant to keep.
 */
export function parsePinnedNow(text: string): Date {
  const m = ISO_TIME.exec(text.trim());
  const d = new Date(text.trim());
  // Date accepts 2026-02-30 (as 2 March) and 24:00; a pinned clock must mean what it says.
  const [y, mo, day, h, mi, sec] = (m ?? []).slice(1).map((x) => Number(x ?? 0));
  const real = m !== null && !Number.isNaN(d.getTime()) && mo! >= 1 && mo! <= 12 && day! >= 1 && day! <= new Date(Date.UTC(y!, mo!, 0)).getUTCDate() && h! <= 23 && mi! <= 59 && sec! <= 59;
  if (real) return d;
  const message = `MESHFORM_NOW=${JSON.stringify(text)} is not an ISO 8601 time with a time zone`;
  throw new MeshformError(message, [
    {
      code: 'MESHFORM_NOW_INVALID',
      severity: 'error',
      path: 'MESHFORM_NOW',
      value: text,
      message,
      rule: RULES.MESHFORM_NOW_INVALID.rule,
      fix: 'set it like MESHFORM_NOW=2026-11-27T12:00:00Z (or with an offset, +01:00), or unset it to use the real clock',
    },
  ]);
}

export type OutputFormat = 'table' | 'json';

/** Plain fixed-width table; the last column is never padded. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** Findings as one block per finding: readable at any terminal width, every field named. */
export function formatFindings(findings: readonly Finding[]): string {
  return findings
    .map((f) => {
      const head = `${f.severity === 'error' ? 'error' : 'warning'} ${f.code}${f.path ? ` at ${f.path}` : ''}: ${f.message}`;
      const lines = [head];
      if (f.value !== undefined) lines.push(`  value: ${f.value}`);
      lines.push(`  rule:  ${f.rule}`);
      lines.push(`  fix:   ${f.fix}`);
      return lines.join('\n');
    })
    .join('\n');
}
