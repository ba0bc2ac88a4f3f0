/**
 * Findings as text (a table that reads in 100 columns) and as JSON data, for the CLI to print.
 */
import type { Finding } from '../errors.js';

/** The JSON form of a validation result (`validate -o json`). */
export interface FindingsReport {
  /** True when there is no error (warnings allowed). */
  ok: boolean;
  errors: number;
  warnings: number;
  findings: Finding[];
}

export function findingsReport(findings: readonly Finding[]): FindingsReport {
  const errors = findings.filter((f) => f.severity === 'error').length;
  return { ok: errors === 0, errors, warnings: findings.length - errors, findings: [...findings] };
}

/** Word-wraps `text` to `width`, breaking over-long words (paths, PEM-free values) hard. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (let word of para.split(/\s+/).filter(Boolean)) {
      while (word.length > width) {
        if (line) {
          lines.push(line);
          line = '';
        }
        lines.push(word.slice(0, width));
        word = word.slice(width);
      }
      if (!line) line = word;
      else if (line.length + 1 + word.length <= width) line += ` ${word}`;
      else {
        lines.push(line);
        line = word;
      }
    }
    lines.push(line);
  }
  return lines;
}

/**
 * A table with columns SEVERITY, CODE, PATH and MESSAGE; each finding's fix follows on its own
 * line(s) under MESSAGE as `fix: ...`. Fits `width` columns (default 100); ends with a summary.
 */
export function formatFindingsTable(findings: readonly Finding[], width = 100): string {
  if (findings.length === 0) return 'no problems found\n';
  const sevW = 9; // "warning" + gap
  const codeW = Math.min(Math.max(4, ...findings.map((f) => f.code.length)), 30);
  const pathW = Math.min(Math.max(4, ...findings.map((f) => f.path.length || 1)), 36);
  const msgW = Math.max(30, width - sevW - codeW - pathW - 4);
  const pad = (s: string, w: number) => s + ' '.repeat(Math.max(0, w - s.length));
  const rows: string[] = [];
  rows.push(`${pad('SEVERITY', sevW)}${pad('CODE', codeW)}  ${pad('PATH', pathW)}  MESSAGE`.trimEnd());
  for (const f of findings) {
    const code = wrap(f.code, codeW);
    const path = wrap(f.path || '-', pathW);
    // The value is shown only when the message does not already quote it.
    const msg = wrap(f.value !== undefined && !f.message.includes(f.value) ? `${f.message} (value: ${f.value})` : f.message, msgW);
    const fix = wrap(`fix: ${f.fix}`, msgW);
    const right = [...msg, ...fix];
    const n = Math.max(code.length, path.length, right.length);
    for (let k = 0; k < n; k++) {
      const sev = k === 0 ? f.severity : '';
      rows.push(`${pad(sev, sevW)}${pad(code[k] ?? '', codeW)}  ${pad(path[k] ?? '', pathW)}  ${right[k] ?? ''}`.trimEnd());
    }
  }
  const r = findingsReport(findings);
  rows.push('');
  rows.push(`${r.errors} error${r.errors === 1 ? '' : 's'}, ${r.warnings} warning${r.warnings === 1 ? '' : 's'}`);
  return `${rows.join('\n')}\n`;
}
