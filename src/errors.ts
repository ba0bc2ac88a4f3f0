/**
 * Findings and errors. Every problem meshform reports carries a stable code, a path into the spec
 * (`clusters[1].podCIDR`), the offending value, the rule that was broken and the fix.
 */

import type { FindingCode } from './validate/catalogue.js';

export type Severity = 'error' | 'warning';
export type { FindingCode };

/** One problem found in a spec, a values file, a facts file or the CA. */
export interface Finding {
  /** Stable machine-readable code from the catalogue (src/validate/catalogue.ts), e.g. `ID_DUPLICATE`. */
  code: FindingCode;
  severity: Severity;
  /** Path into the spec, e.g. `clusters[1].endpoint.nodePort`; `` for the whole file. */
  path: string;
  /** The offending value, already rendered for humans (never secret material). */
  value?: string;
  /** What is wrong, naming both sides where there are two. */
  message: string;
  /** The rule that was broken, stated generally. */
  rule: string;
  /** What to do about it. */
  fix: string;
  /**
   * Which clusters the finding stops (apply holds them back, the others go on). Absent: the finding
   * names no cluster and stops every cluster.
   */
  scope?: FindingScope;
}

/**
 * The clusters a finding stops, said by the rule that makes it (never worked out again from its
 * path): the policy in src/live/scope.ts turns it into cluster names.
 */
export type FindingScope =
  /** The mesh as a whole (maxConnectedClusters, the CA, a shared version): every cluster. */
  | { kind: 'mesh' }
  /** This cluster only (its CIDRs, its values, its context). */
  | { kind: 'cluster'; cluster: string }
  /**
   * This cluster and every cluster that dials it: the dialling clusters' values carry its name, ID,
   * endpoint and certificate names too, so they would ship the same mistake.
   */
  | { kind: 'dialled'; cluster: string };

/** Exit codes; which outcome gets which is decided in exit.ts (the policy, documented in --help and the README). */
export const ExitCode = {
  ok: 0,
  findings: 1,
  input: 2,
  cluster: 3,
  internal: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * An error meant for the user: findings (exit 1), unusable input (exit 2) or an I/O / cluster failure (exit 3).
 * The CLI prints `findings` (or the message) and exits with `exitCode`; never a stack trace.
 */
export class MeshformError extends Error {
  readonly findings: Finding[];
  readonly exitCode: ExitCode;
  constructor(message: string, findings: Finding[] = [], exitCode: ExitCode = ExitCode.input) {
    super(message);
    this.name = 'MeshformError';
    this.findings = findings;
    this.exitCode = exitCode;
  }
}

/** Builds a single-finding input error. */
export function inputError(f: Omit<Finding, 'severity'>): MeshformError {
  return new MeshformError(f.message, [{ ...f, severity: 'error' }], ExitCode.input);
}

export function hasErrors(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === 'error');
}
