/**
 * meshform's one exit-code policy: every command reports an outcome, and this module alone turns
 * outcomes into exit codes. The same condition gives the same code from every command.
 *
 * The rule for a spec: a spec that does not load (YAML, schema, a file it names, an unusable CA
 * file) is an input error, 2, from every command, validate included; a spec that loads but breaks
 * a rule (error findings, also an expired CA) is "findings", 1, from every command: validate
 * reports them, the others print them and refuse, writing nothing and touching no cluster.
 */
import { ExitCode, MeshformError } from './errors.js';

export { ExitCode };

export type Outcome =
  /** Done; warnings allowed. */
  | 'ok'
  /** Error findings about the spec, the CA or the live mesh (also when another command refuses the spec). */
  | 'findings'
  /** `diff`: the clusters differ from the rendered files. */
  | 'drift'
  /** `status`: some peer is not ready on some node. */
  | 'not-ready'
  /** `doctor`: failures found on reachable clusters. */
  | 'unhealthy'
  /** Flags or arguments the command cannot take. */
  | 'usage'
  /** An input that cannot be read or used (spec, values, facts, CA files). */
  | 'input'
  /** A cluster that cannot be reached or refuses (API, RBAC, exec), or a local write that failed. */
  | 'cluster'
  /** A bug in meshform. */
  | 'internal';

const CODES: Record<Outcome, ExitCode> = {
  ok: ExitCode.ok,
  findings: ExitCode.findings,
  drift: ExitCode.findings,
  'not-ready': ExitCode.findings,
  unhealthy: ExitCode.findings,
  usage: ExitCode.input,
  input: ExitCode.input,
  cluster: ExitCode.cluster,
  internal: ExitCode.internal,
};

/** The exit code of an outcome. */
export function exitCodeFor(outcome: Outcome): ExitCode {
  return CODES[outcome];
}

/** When several things went wrong, the most serious decides: internal > cluster > input > findings > ok. */
export function worstExitCode(codes: Iterable<number>): ExitCode {
  const order: ExitCode[] = [ExitCode.ok, ExitCode.findings, ExitCode.input, ExitCode.cluster, ExitCode.internal];
  let worst: ExitCode = ExitCode.ok;
  for (const c of codes) {
    const rank = order.indexOf(c as ExitCode);
    if (rank < 0) return ExitCode.internal;
    if (rank > order.indexOf(worst)) worst = order[rank]!;
  }
  return worst;
}

/** The exit code of an error a command threw: a MeshformError carries its own, anything else is a bug. */
export function exitCodeForError(err: unknown): ExitCode {
  return err instanceof MeshformError ? err.exitCode : ExitCode.internal;
}

/** The policy as `--help` and the README print it. */
export const EXIT_CODES_HELP = `Exit codes (the same condition gives the same code from every command):
  0  ok (warnings allowed)
  1  findings: the spec, the CA or the live mesh breaks a rule (validate reports it; every other
     command prints it and refuses: nothing written, no cluster touched); diff: drift;
     status: not ready; doctor: failures found
  2  usage or input error: bad flags, or an input that does not load (a missing or unreadable
     file, a YAML or schema error); nothing written
  3  cluster or I/O failure: a cluster unreachable or refusing (API, RBAC, exec), a write failed
  4  internal error: a bug in meshform (MESHFORM_DEBUG=1 prints the stack); please report it`;

/** One line for each command's own `--help`. */
export const EXIT_CODES_SHORT = 'Exit codes: 0 ok, 1 findings/drift/not ready, 2 usage or input error, 3 cluster or I/O failure, 4 internal error (meshform --help explains).';
