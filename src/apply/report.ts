/**
 * apply's and diff's results as the data and text the CLI prints (`-o json` and tables), and the
 * outcome each one means for the exit-code policy (exit.ts).
 */
import { exitCodeFor, worstExitCode, type ExitCode } from '../exit.js';
import type { DriftResult } from './apply.js';
import type { ApplyResult } from './types.js';

/** `apply -o json`: per cluster its outcome, what changed, the plan's steps with their state, and errors. */
export function applyReport(r: ApplyResult): unknown {
  return {
    clusters: r.clusters.map((c) => ({
      cluster: c.cluster,
      outcome: c.outcome,
      changed: c.objects.filter((d) => d.state !== 'same').map((d) => `${d.kind}/${d.name}`),
      revision: c.revision,
      steps: c.steps,
      warnings: c.warnings,
      error: c.error ? { message: c.error.message, findings: c.error.findings } : undefined,
      findings: c.findings,
    })),
    changed: r.changed,
    unchanged: r.unchanged,
    failed: r.failed,
  };
}

/**
 * The exit code of an apply: a cluster held back by its findings is 1, one that failed to apply
 * 3; the worst decides.
 */
export function applyExitCode(r: ApplyResult): ExitCode {
  return worstExitCode(r.clusters.map((c) => (c.outcome !== 'failed' ? exitCodeFor('ok') : c.error ? c.error.exitCode : exitCodeFor('cluster'))));
}

/** `diff -o json`. */
export function diffReport(r: DriftResult): unknown {
  return {
    drift: r.drift,
    clusters: r.clusters.map((c) => ({
      cluster: c.cluster,
      differences: c.differences.map((d) => ({ kind: d.kind, name: d.name, state: d.state, diff: d.text })),
      error: c.error?.message,
    })),
  };
}

/** `diff` as text: per cluster in sync, unreadable, or what differs with each diff. */
export function formatDiff(r: DriftResult): string {
  const out: string[] = [];
  for (const c of r.clusters) {
    if (c.error) out.push(`${c.cluster}: cannot be read: ${c.error.message}`);
    else if (c.differences.length === 0) out.push(`${c.cluster}: in sync`);
    else {
      out.push(`${c.cluster}: ${c.differences.map((d) => `${d.kind} ${d.name} ${d.state}`).join(', ')}`);
      for (const d of c.differences) if (d.text) out.push(d.text.trimEnd());
    }
  }
  return out.join('\n');
}

/** A cluster that cannot be read is a cluster failure (3); else drift is 1. */
export function diffExitCode(r: DriftResult): ExitCode {
  if (r.clusters.some((c) => c.error)) return exitCodeFor('cluster');
  return exitCodeFor(r.drift ? 'drift' : 'ok');
}
