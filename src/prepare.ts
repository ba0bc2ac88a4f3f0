/**
 * The common front of every command that works from a spec: load it, read the CA and facts, and
 * run every validation rule. Nothing here writes anything.
 */
import type { Finding } from './errors.js';
import { loadFacts, loadSpec } from './spec/load.js';
import { validateSpec } from './validate/rules.js';
import { inspectCaFiles } from './pki/ca.js';
import type { MeshSpec } from './spec/types.js';
import type { Facts } from './kube/facts.js';
import type { CaMaterial } from './pki/types.js';

export interface Prepared {
  spec: MeshSpec;
  ca?: CaMaterial;
  facts?: Facts;
  /** Every finding, errors and warnings, from the CA and all rules. */
  findings: Finding[];
}

/** Loads and validates; throws MeshformError only for unusable input (exit 2). */
export async function prepare(specPath: string, opts: { factsPath?: string; now: Date; allowOutsidePaths?: boolean }): Promise<Prepared> {
  const spec = await loadSpec(specPath, { allowOutsidePaths: opts.allowOutsidePaths === true });
  const facts = opts.factsPath ? await loadFacts(opts.factsPath) : undefined;
  const caResult = spec.ca ? await inspectCaFiles(spec.ca, opts.now) : undefined;
  const findings = validateSpec(spec, { facts, ca: caResult?.ca, caFindings: caResult?.findings ?? [], now: opts.now });
  return { spec, ca: caResult?.ca, facts, findings };
}
