/**
 * Which clusters the live checks' findings stop, from the scope each finding carries (errors.ts
 * FindingScope), and what that means for an apply: refused as a whole, or some clusters held back
 * while the others go on. Pure.
 */
import type { Finding } from '../errors.js';
import type { MeshSpec } from '../spec/types.js';

/**
 * The clusters `f` stops: every cluster for a mesh-wide finding (or one without a scope), its own
 * for `cluster`, and for `dialled` its own and every cluster that lists it as a peer.
 */
export function clustersStoppedBy(f: Finding, spec: Pick<MeshSpec, 'clusters'>): string[] {
  const s = f.scope;
  if (!s || s.kind === 'mesh') return spec.clusters.map((c) => c.name);
  if (s.kind === 'cluster') return [s.cluster];
  return [s.cluster, ...spec.clusters.filter((c) => c.name !== s.cluster && c.peers.includes(s.cluster)).map((c) => c.name)];
}

/** A finding about the mesh as a whole (no one cluster to hold back). */
export function isMeshWide(f: Finding): boolean {
  return !f.scope || f.scope.kind === 'mesh';
}

/** The findings (errors and warnings) that concern `cluster`: what its preflight reports. */
export function findingsFor(cluster: string, findings: readonly Finding[], spec: Pick<MeshSpec, 'clusters'>): Finding[] {
  return findings.filter((f) => clustersStoppedBy(f, spec).includes(cluster));
}

/** What the live checks allow an apply of the `chosen` clusters to do. */
export type Admission =
  /** Nothing is applied: `findings` are the errors; `clusters` the ones they stop ([] for mesh-wide). */
  | { refused: true; findings: Finding[]; clusters: string[]; meshWide: boolean }
  /** The apply goes on; `held` are the chosen clusters its errors stop (each fails alone, exit 1). */
  | { refused: false; held: string[]; warnings: Finding[] };

/**
 * An apply is refused as a whole when an error is about the mesh as a whole, or when every chosen
 * cluster is stopped; otherwise the stopped ones are held back and the others applied.
 */
export function admitApply(spec: Pick<MeshSpec, 'clusters'>, findings: readonly Finding[], chosen: readonly string[]): Admission {
  const errors = findings.filter((f) => f.severity === 'error');
  const meshWide = errors.filter(isMeshWide);
  if (meshWide.length) return { refused: true, findings: meshWide, clusters: [], meshWide: true };
  const blocking = errors.filter((f) => clustersStoppedBy(f, spec).some((c) => chosen.includes(c)));
  const held = chosen.filter((c) => blocking.some((f) => clustersStoppedBy(f, spec).includes(c)));
  if (blocking.length && held.length === chosen.length) return { refused: true, findings: blocking, clusters: held, meshWide: false };
  return { refused: false, held, warnings: findings.filter((f) => f.severity === 'warning') };
}
