/** What the rule files share: the finding builder and path helpers. */
import type { Finding, FindingScope, Severity } from '../errors.js';
import type { Facts } from '../kube/facts.js';
import type { CaMaterial } from '../pki/types.js';
import type { ClusterSpec, MeshSpec } from '../spec/types.js';
import { RULES, type RuleCode } from './catalogue.js';

/** Inputs beyond the spec that some rules need; a rule whose input is absent does not run. */
export interface ValidateContext {
  /** Live facts (discover, or `validate --facts`). */
  facts?: Facts;
  /** The loaded shared CA. */
  ca?: CaMaterial;
  /** Findings of the PKI module about the CA (validity, key match...), merged as they are. */
  caFindings?: Finding[];
  /** The injected clock. */
  now: Date;
}

/** Where a finding points (its path) and the clusters it stops (its scope). */
export interface Where {
  path: string;
  scope: FindingScope;
}

export class Sink {
  readonly findings: Finding[] = [];
  /**
   * Adds a finding at `where`: a {@link Where} from `at` for a finding about a cluster, or a plain
   * path for one about the mesh as a whole (scope `mesh`: it stops every cluster).
   */
  add(code: RuleCode, where: Where | string, value: string | undefined, message: string, fix: string, severity?: Severity): void {
    const info = RULES[code];
    const { path, scope } = typeof where === 'string' ? { path: where, scope: { kind: 'mesh' } as const } : where;
    const f: Finding = { code, severity: severity ?? info.severity, path, message, rule: info.rule, fix };
    if (value !== undefined) f.value = value;
    f.scope = scope;
    this.findings.push(f);
  }
}

export const cpath = (c: ClusterSpec | number, ...rest: string[]): string =>
  `clusters[${typeof c === 'number' ? c : c.index}]${rest.map((r) => (r.startsWith('[') ? r : `.${r}`)).join('')}`;

/** Finding locations in a cluster, with the clusters they stop. */
export const at = {
  /** A field that concerns cluster `c` alone (its CIDRs, values, versions, peers list). */
  cluster: (c: ClusterSpec, ...rest: string[]): Where => ({ path: cpath(c, ...rest), scope: { kind: 'cluster', cluster: c.name } }),
  /**
   * A field of cluster `c` that its peers dial or trust (name, ID, endpoint, certificate names):
   * it stops `c` and every cluster that dials `c`.
   */
  dialled: (c: ClusterSpec, ...rest: string[]): Where => ({ path: cpath(c, ...rest), scope: { kind: 'dialled', cluster: c.name } }),
  /** `path` (already built) about cluster `c`, with the scope of `kind`. */
  path: (c: ClusterSpec, path: string, kind: 'cluster' | 'dialled'): Where => ({ path, scope: { kind, cluster: c.name } }),
};

/** Path of the j-th pod/service CIDR: `podCIDR` when it is the only one, else `podCIDR[j]`. */
export function cidrPath(c: ClusterSpec, key: 'podCIDR' | 'serviceCIDR', j: number, count: number): string {
  return count === 1 ? cpath(c, key) : cpath(c, key, `[${j}]`);
}

export type Rule = (spec: MeshSpec, ctx: ValidateContext, out: Sink) => void;

export function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The values of a cluster as meshform knows them: its values file, else the discovered ones. */
export function valuesOf(c: ClusterSpec, ctx: ValidateContext): { data: Record<string, unknown>; where: string } | undefined {
  if (c.values) return { data: c.values.data, where: c.values.path };
  const v = ctx.facts?.clusters[c.name]?.values;
  return v ? { data: v, where: `the discovered values of ${c.name}` } : undefined;
}
