/**
 * `validate`: every rule of DESIGN.md §5 that the spec, its values files and (optionally) facts
 * can decide. Pure: no I/O, no clock but the injected one.
 */
import type { Finding } from '../errors.js';
import type { MeshSpec } from '../spec/types.js';
import { checkPeers } from './auth.js';
import { Sink, type Rule, type ValidateContext } from './context.js';
import { checkDatapath } from './datapath.js';
import { checkEndpoints } from './endpoints.js';
import { checkCertificates } from './certificates.js';
import { checkIds, checkMaxConnected, checkNames } from './identity.js';
import { checkNetwork } from './network.js';
import { checkTls } from './tls.js';
import { checkVersions } from './versions.js';

export { RULES, type RuleCode, type RuleInfo } from './catalogue.js';
export type { ValidateContext } from './context.js';

const ALL_RULES: Rule[] = [
  checkNames,
  checkIds,
  checkMaxConnected,
  checkCertificates,
  checkNetwork,
  checkEndpoints,
  checkTls,
  checkVersions,
  checkDatapath,
  checkPeers,
];

/**
 * Checks a loaded spec. Returns all findings (errors and warnings), sorted by path (numeric
 * indexes in numeric order), then code, then message; `[]` when the spec is clean.
 */
export function validateSpec(spec: MeshSpec, ctx: ValidateContext): Finding[] {
  const out = new Sink();
  for (const rule of ALL_RULES) rule(spec, ctx, out);
  return sortFindings(out.findings);
}

/** Deterministic order: path (natural: clusters[2] before clusters[10]), code, message. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => naturalCompare(a.path, b.path) || cmp(a.code, b.code) || cmp(a.message, b.message) || cmp(a.value ?? '', b.value ?? ''));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function naturalCompare(a: string, b: string): number {
  const ta = a.split(/(\d+)/);
  const tb = b.split(/(\d+)/);
  for (let k = 0; k < Math.min(ta.length, tb.length); k++) {
    const x = ta[k]!;
    const y = tb[k]!;
    if (x === y) continue;
    if (k % 2 === 1) return Number(x) - Number(y) || cmp(x, y);
    return cmp(x, y);
  }
  return ta.length - tb.length;
}
