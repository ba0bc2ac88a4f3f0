/**
 * Facts about live clusters: what `discover` reads (DESIGN.md §8.1), or what a facts file given to
 * `validate --facts` states. Keyed by cluster name. Every field is optional: a rule that needs a
 * missing fact does not run.
 */
import type { z } from 'zod';
import type { factsSchema } from '../spec/schema.js';

// The types are the facts file schema's (src/spec/schema.ts, `factsSchema`), not written twice:
// what discover returns is exactly what `validate --facts` accepts back.

/** Every cluster's facts, keyed by cluster name. */
export type Facts = z.output<typeof factsSchema>;

/**
 * One cluster: nodes, versions and cilium-config settings, the HelmChart, HelmChartConfig and Helm
 * release, the clustermesh-apiserver Service, and `warnings` about what could not be read.
 */
export type ClusterFacts = Facts['clusters'][string];

/** A node: roles from labels node-role.kubernetes.io/* (none of control-plane/master/etcd: a worker), IPs, pod CIDRs. */
export type NodeFact = NonNullable<ClusterFacts['nodes']>[number];

export type NodeRole = NodeFact['roles'][number];

export function isWorker(n: NodeFact): boolean {
  return !n.roles.some((r) => r === 'control-plane' || r === 'master' || r === 'etcd');
}

/**
 * Whether kube-proxy replacement handles NodePorts: `true`/`strict` → on, `false`/`disabled` → off;
 * `partial`/`probe` (before 1.14) depend on further settings, so `undefined` (unknown).
 */
export function kubeProxyReplacementOn(value: unknown): boolean | undefined {
  if (value === true || value === false) return value;
  if (typeof value !== 'string') return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === 'strict') return true;
  if (v === 'false' || v === 'disabled') return false;
  return undefined;
}
