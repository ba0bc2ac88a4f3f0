import { hasErrors } from '../errors.js';
import { exitCodeFor } from '../exit.js';
import { prepare } from '../prepare.js';
import { formatFindingsTable, findingsReport } from '../validate/report.js';
import type { Io, OutputFormat } from './io.js';

export async function validateCommand(io: Io, specPath: string, opts: { facts?: string; output: OutputFormat; allowOutsidePaths?: boolean }): Promise<number> {
  const { spec, findings } = await prepare(specPath, { factsPath: opts.facts, now: io.now(), allowOutsidePaths: opts.allowOutsidePaths === true });
  const failed = hasErrors(findings);
  if (opts.output === 'json') {
    io.out(JSON.stringify(findingsReport(findings), null, 2));
  } else if (findings.length === 0) {
    io.out(`${specPath}: mesh "${spec.name}" with ${spec.clusters.length} clusters is valid`);
  } else {
    io.out(formatFindingsTable(findings, Math.max(120, process.stdout.columns ?? 0)));
  }
  return exitCodeFor(failed ? 'findings' : 'ok');
}
