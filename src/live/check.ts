/**
 * The live checks every live command starts with: discover every cluster (the spec's own release
 * and namespace), then run the validation rules again with the live facts, the identity check
 * (a context that points at the wrong cluster, a running cluster's name or ID changed) and the
 * duplicate check (two spec clusters reaching one real cluster).
 */
import type { Finding, MeshformError } from '../errors.js';
import { releaseRefOf } from '../defaults.js';
import { discoverAll, duplicateClusterFindings, identityFindings } from '../discover/discover.js';
import type { ConnectedCluster } from '../kube/connect.js';
import type { Facts } from '../kube/facts.js';
import type { Prepared } from '../prepare.js';
import { validateSpec } from '../validate/rules.js';

export interface LiveCheck {
  connected: ConnectedCluster[];
  facts: Facts;
  /** Clusters that could not be read, with why. */
  failed: Map<string, MeshformError>;
  /** Findings of the live checks, each with the scope of clusters it stops; none the offline checks already gave. */
  findings: Finding[];
}

export interface LiveCheckOptions {
  now: Date;
  /** `--allow-identity-change`: a cluster not yet meshed may change its name or ID (a warning then). */
  allowIdentityChange?: boolean;
  concurrency?: number;
}

/** Discovers the connected clusters and checks the spec against what they are. */
export async function checkLive(prepared: Prepared, connected: ConnectedCluster[], opts: LiveCheckOptions): Promise<LiveCheck> {
  const { spec } = prepared;
  const { facts, failures } = await discoverAll(
    connected.map((c) => ({ name: c.name, client: c.client, index: c.index })),
    { ref: releaseRefOf(spec), ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}) },
  );
  const failed = new Map(failures.map((f) => [f.cluster, f.error]));
  const findings = validateSpec(spec, { facts, ca: prepared.ca, caFindings: [], now: opts.now }).filter(
    (f) => !prepared.findings.some((p) => p.code === f.code && p.path === f.path),
  );
  for (const c of spec.clusters) {
    const f = facts.clusters[c.name];
    if (f) findings.push(...identityFindings({ name: c.name, id: c.id, index: c.index }, f, { allowIdentityChange: opts.allowIdentityChange === true }));
  }
  findings.push(...duplicateClusterFindings(facts, spec.clusters.map((c) => c.name)));
  return { connected, facts, failed, findings };
}
