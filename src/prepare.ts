/**
 * The common front of every command that works from a spec: load it, read the CA and facts, and
 * run every validation rule. Nothing here writes anything.
 */
import { readFile } from 'node:fs/promises';
import type { Finding } from './errors.js';
import { loadFacts, loadSpec } from './spec/load.js';
import { validateSpec } from './validate/rules.js';
import { inspectCa } from './pki/ca.js';
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

async function readCaFiles(paths: { cert: string; key: string }, now: Date): Promise<{ ca?: CaMaterial; findings: Finding[] }> {
  const missing: Finding[] = [];
  const read = async (path: string, field: 'ca.cert' | 'ca.key'): Promise<string | undefined> => {
    try {
      return await readFile(path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      missing.push({
        code: 'CA_FILE_UNREADABLE',
        severity: 'error',
        path: field,
        value: path,
        message: code === 'ENOENT' ? `the CA file ${path} does not exist` : `the CA file ${path} cannot be read (${code})`,
        rule: 'the shared CA (certificate and key) must be readable for certificate method provided or helm',
        fix: 'create one with `meshform ca init --spec <mesh.yaml>`, import the existing one with `meshform ca import`, or fix the path',
      });
      return undefined;
    }
  };
  const [cert, key] = await Promise.all([read(paths.cert, 'ca.cert'), read(paths.key, 'ca.key')]);
  if (cert === undefined || key === undefined) return { findings: missing };
  return inspectCa(cert, key, now, paths);
}

/** Loads and validates; throws MeshformError only for unusable input (exit 2). */
export async function prepare(specPath: string, opts: { factsPath?: string; now: Date }): Promise<Prepared> {
  const spec = await loadSpec(specPath);
  const facts = opts.factsPath ? await loadFacts(opts.factsPath) : undefined;
  const caResult = spec.ca ? await readCaFiles(spec.ca, opts.now) : undefined;
  const findings = validateSpec(spec, { facts, ca: caResult?.ca, caFindings: caResult?.findings ?? [], now: opts.now });
  return { spec, ca: caResult?.ca, facts, findings };
}
