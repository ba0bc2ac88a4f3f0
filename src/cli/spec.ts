/**
 * The spec front every command but `validate` shares: load and validate, and refuse a spec that
 * does not load (exit 2) or breaks a rule (exit 1, the code `validate` gives the same spec).
 */
import { MeshformError, hasErrors } from '../errors.js';
import { exitCodeFor, exitCodeForError } from '../exit.js';
import { prepare, type Prepared } from '../prepare.js';
import { formatFindings, type Io } from './io.js';

/** The prepared spec, or the exit code after printing why it cannot be used; `refusal` says what was spared. */
export async function preparedOrExit(io: Io, specPath: string, opts: { factsPath?: string; refusal: string; allowOutsidePaths?: boolean }): Promise<Prepared | number> {
  let p: Prepared;
  try {
    p = await prepare(specPath, { factsPath: opts.factsPath, now: io.now(), allowOutsidePaths: opts.allowOutsidePaths === true });
  } catch (err) {
    if (err instanceof MeshformError && err.findings.length > 0) {
      io.err(formatFindings(err.findings));
      io.err(`meshform: ${specPath} cannot be used: ${opts.refusal}`);
      return exitCodeForError(err);
    }
    throw err;
  }
  if (hasErrors(p.findings)) {
    io.err(formatFindings(p.findings));
    io.err(`meshform: ${specPath} is not valid: ${opts.refusal}`);
    return exitCodeFor('findings');
  }
  return p;
}
