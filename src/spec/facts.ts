/**
 * Loading a facts file (`validate --facts`): the {@link Facts} shape as YAML or JSON, checked as
 * strictly as a spec.
 */
import { resolve } from 'node:path';
import type { Finding } from '../errors.js';
import type { Facts } from '../kube/facts.js';
import { formatIp, parseIp } from '../util/cidr.js';
import { issuesToFindings } from './issues.js';
import { parseYamlText, readInputFile, type FileRole } from './input.js';
import { failure, withLine } from './load.js';
import { factsSchema } from './schema.js';

const FACTS_ROLE: FileRole = { what: 'facts file', findingPath: '' };

/**
 * Reads and checks a facts file.
 * @throws MeshformError (exit 2) carrying every finding.
 */
export async function loadFacts(path: string): Promise<Facts> {
  const abs = resolve(path);
  const text = await readInputFile(abs, FACTS_ROLE);
  if (typeof text !== 'string') throw failure(abs, [text]);
  return parseFacts(text, abs);
}

/** Parses the text of a facts file. @throws MeshformError (exit 2) carrying every finding. */
export function parseFacts(text: string, path: string): Facts {
  const abs = resolve(path);
  const parsed = parseYamlText(text, abs, FACTS_ROLE, 'FACTS');
  if (Array.isArray(parsed)) throw failure(abs, parsed);
  const r = factsSchema.safeParse(parsed.data ?? {});
  if (!r.success) {
    const findings: Finding[] = issuesToFindings(r.error.issues, parsed.data, factsSchema).map((f) => ({
      ...withLine(f, parsed),
      // The same codes as a spec, but a reader must know which file they are about.
      message: `facts file: ${withLine(f, parsed).message}`,
    }));
    throw failure(abs, findings);
  }
  const canon = (ips: string[]) => ips.map((t) => {
    const ip = parseIp(t);
    return ip ? formatIp(ip.family, ip.value) : t;
  });
  const facts: Facts = { clusters: {} };
  for (const [name, c] of Object.entries(r.data.clusters)) {
    const { nodes, ...rest } = c;
    const out: Facts['clusters'][string] = { ...rest };
    if (nodes) {
      out.nodes = nodes.map((n) => ({ ...n, internalIPs: canon(n.internalIPs), externalIPs: canon(n.externalIPs) }));
    }
    facts.clusters[name] = out;
  }
  return facts;
}
