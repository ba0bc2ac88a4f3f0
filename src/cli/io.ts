/**
 * The CLI's only link to the terminal: stdout carries data (tables, JSON), stderr carries progress,
 * warnings and errors, so `-o json` output can be piped.
 */
import type { Finding } from '../errors.js';

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

export function processIo(): Io {
  return {
    out: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
    now: () => {
      const pinned = process.env.MESHFORM_NOW;
      if (pinned) {
        const d = new Date(pinned);
        if (!Number.isNaN(d.getTime())) return d;
      }
      return new Date();
    },
    cwd: process.cwd(),
    env: process.env,
    ...(process.stderr.isTTY === true ? { errTerminal: process.stderr } : {}),
  };
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
