/**
 * From a checked spec, the live check and the previous render's record to the rollout `apply`
 * runs: who joins, stays and leaves (membership.ts), the waves, the findings that tell the user
 * about leaving clusters, and — the I/O edge — the targets that clear leaving clusters and the gate
 * that waits between waves (a status read restricted to the links both ends configure).
 */
import { MeshformError, type Finding } from '../errors.js';
import { DEFAULT_RELEASE, RKE2_CHART_NAMESPACE, type ReleaseRef } from '../defaults.js';
import type { ClusterClient } from '../kube/client.js';
import { clusterError } from '../kube/errors.js';
import type { LiveCheck } from '../live/check.js';
import type { MeshSpec } from '../spec/types.js';
import { collectStatus, waitForMesh } from '../status/status.js';
import { gateLinks, membershipOf, planWaves, wavesProblems, type Membership, type MembershipInput, type Wave } from './membership.js';
import type { ApplyTarget } from './types.js';
import { clearedHelmChartConfig, gateVerdict, type WaveGate } from './waves.js';

/** A cluster of the previous render, as plan.json recorded it. */
export interface RecordedCluster {
  name: string;
  connection?: { context?: string; kubeconfig?: string };
}

/** The clusters plan.json (text) lists; `[]` for text that is not a plan of meshform's. */
export function recordedClusters(planJsonText: string | undefined): RecordedCluster[] {
  if (!planJsonText) return [];
  try {
    const p = JSON.parse(planJsonText) as { clusters?: unknown };
    if (!Array.isArray(p.clusters)) return [];
    return p.clusters.flatMap((c: unknown): RecordedCluster[] => {
      const o = c as { name?: unknown; connection?: { context?: unknown; kubeconfig?: unknown } };
      if (typeof o?.name !== 'string') return [];
      const conn = o.connection;
      const context = typeof conn?.context === 'string' ? conn.context : undefined;
      const kubeconfig = typeof conn?.kubeconfig === 'string' ? conn.kubeconfig : undefined;
      return [{ name: o.name, ...(context !== undefined || kubeconfig !== undefined ? { connection: { ...(context !== undefined ? { context } : {}), ...(kubeconfig !== undefined ? { kubeconfig } : {}) } } : {}) }];
    });
  } catch {
    return [];
  }
}

/** `--waves a,b;c` → groups. */
export function parseWaves(text: string): string[][] {
  return text.split(';').map((g) => g.split(',').map((s) => s.trim()).filter(Boolean));
}

export interface RolloutRequest {
  /** `--waves` as given. */
  waves?: string;
  waveSize?: number;
  /** `--prune`: clear the leaving clusters the record can reach. */
  prune: boolean;
  /** `--only`: a subset of spec clusters; then no membership ordering and no pruning. */
  only?: readonly string[];
}

export interface Rollout {
  input: MembershipInput;
  membership: Membership;
  waves: Wave[];
  /** Leaving clusters to clear, with how to reach them. */
  prune: RecordedCluster[];
  findings: Finding[];
}

/** What the rollout needs from the live check, as membership's input. Pure. */
export function membershipInput(spec: MeshSpec, live: Pick<LiveCheck, 'facts' | 'failed'>, recorded: readonly RecordedCluster[]): MembershipInput {
  const livePeers = new Map<string, readonly string[] | undefined>();
  for (const c of spec.clusters) if (!live.failed.has(c.name)) livePeers.set(c.name, live.facts.clusters[c.name]?.peers);
  return { clusters: spec.clusters.map((c) => ({ name: c.name, peers: c.peers })), livePeers, recorded: recorded.map((r) => r.name) };
}

/** Plans the rollout. Pure; refuses unusable `--waves`/`--wave-size` (exit 2). */
export function planRollout(spec: MeshSpec, live: Pick<LiveCheck, 'facts' | 'failed'>, recorded: readonly RecordedCluster[], req: RolloutRequest, specPath = 'mesh.yaml'): Rollout {
  const names = spec.clusters.map((c) => c.name);
  const groups = req.waves !== undefined ? parseWaves(req.waves) : undefined;
  const problems = [
    ...(groups ? wavesProblems(names, groups) : []),
    ...(req.waveSize !== undefined && !(Number.isInteger(req.waveSize) && req.waveSize > 0) ? [`--wave-size ${req.waveSize} is not a positive integer`] : []),
    ...(groups && req.waveSize !== undefined ? ['--waves and --wave-size cannot be used together'] : []),
  ];
  if (problems.length) {
    throw new MeshformError('bad --waves', [
      { code: 'USAGE_WAVES', severity: 'error', path: groups ? '--waves' : '--wave-size', value: req.waves ?? String(req.waveSize), message: problems.join('; '),
        rule: 'groups of spec cluster names: "a,b;c" (clusters comma-separated, groups semicolon-separated), each cluster in at most one group; or --wave-size N',
        fix: `name clusters of the spec (${names.join(', ')}), each once, e.g. --waves ${names.slice(0, 1).join(',')}${names.length > 1 ? `;${names.slice(1).join(',')}` : ''}` },
    ]);
  }
  const input = membershipInput(spec, live, recorded);
  const membership = membershipOf(input);
  const findings: Finding[] = [];
  const byName = new Map(recorded.map((r) => [r.name, r]));
  const prune: RecordedCluster[] = [];
  const only = req.only;
  for (const l of only ? [] : membership.leaving) {
    const rec = byName.get(l.name);
    const by = l.listedBy.length ? `${l.listedBy.join(', ')} still list${l.listedBy.length === 1 ? 's' : ''} it and drop${l.listedBy.length === 1 ? 's' : ''} it now` : 'no cluster of the spec lists it any more';
    if (req.prune && rec?.connection) {
      prune.push(rec);
      continue;
    }
    if (req.prune || !rec?.connection) {
      findings.push({ code: 'MEMBER_LEAVING_UNRECORDED', severity: 'warning', path: 'clusters', value: l.name,
        message: `cluster ${l.name} left the spec (${by}), but the previous render has no context for it, so its own mesh configuration cannot be cleared from here`,
        rule: 'a cluster taken out of the spec is cleared by apply --prune through the context plan.json recorded for it',
        fix: `clear it with: meshform disconnect ${l.name} --context <its context> (add --dry-run first to see the change)` });
      continue;
    }
    findings.push({ code: 'MEMBER_LEAVING', severity: 'warning', path: 'clusters', value: l.name,
      message: `cluster ${l.name} left the spec: ${by}; its own mesh configuration stays until it is cleared`,
      rule: 'a cluster taken out of the spec must neither dial the others nor be admitted by them',
      fix: `clear it too: meshform apply ${specPath} --prune (see it first with --dry-run), or meshform disconnect ${l.name} --context ${rec.connection.context ?? '<its context>'}` });
  }
  const order = only ? names.filter((n) => only.includes(n)) : names;
  const m = only ? { ...membership, joining: [] } : membership;
  const waves = planWaves(order, m, { ...(groups ? { waves: groups } : {}), ...(req.waveSize ? { waveSize: req.waveSize } : {}), prune: prune.map((p) => p.name) });
  return { input, membership, waves, prune, findings };
}

/**
 * The target that clears a leaving cluster (I/O: reads its HelmChartConfig). Throws a cluster
 * error when it cannot be read; `undefined` when there is nothing to clear.
 */
export async function leavingTarget(name: string, client: ClusterClient, ref: ReleaseRef = DEFAULT_RELEASE): Promise<ApplyTarget | undefined> {
  const live = await client.get('HelmChartConfig', ref.release, RKE2_CHART_NAMESPACE);
  const cleared = clearedHelmChartConfig(live);
  return cleared ? { name, client, objects: [cleared] } : undefined;
}

/** A finding for a leaving cluster that lists no peer (nothing to clear). */
export function nothingToClear(name: string): Finding {
  return { code: 'MEMBER_NOTHING_TO_CLEAR', severity: 'warning', path: 'clusters', value: name,
    message: `cluster ${name}: its HelmChartConfig lists no peer: nothing to clear`,
    rule: 'a leaving cluster whose live values list no peer has nothing to clear', fix: 'nothing to do' };
}

/** The error for a leaving cluster that could not be cleared, naming what to run later. */
export function clearFailed(name: string, err: unknown, context?: string): MeshformError {
  const why = err instanceof Error ? err.message : String(err);
  return clusterError({ cluster: name, code: 'MEMBER_CLEAR_FAILED', value: name, path: 'clusters',
    message: `cannot clear the mesh configuration of ${name}: ${why}; the other clusters drop it all the same`,
    rule: 'a cluster taken out of the spec has its own mesh configuration cleared',
    fix: `once ${name} is reachable: meshform disconnect ${name}${context ? ` --context ${context}` : ' --context <its context>'}` });
}

/**
 * The gate between waves: polls the status of the spec's clusters, restricted to the links both
 * ends configure once `settled` carry their new configuration, until all are ready or `timeoutMs`.
 */
export function statusGate(input: MembershipInput, clients: ReadonlyMap<string, ClusterClient>, opts: { namespace: string; timeoutMs: number; execTimeoutMs?: number; onPoll?: (ready: number, total: number, ms: number) => void }): WaveGate {
  return async (settled) => {
    const links = gateLinks(input, settled);
    const targets = [...links].flatMap(([name, peers]) => {
      const client = clients.get(name);
      return client && (peers.length > 0 || settled.has(name)) ? [{ name, client, peers }] : [];
    });
    if (targets.length === 0) return gateVerdict({ clusters: [], matrix: [], ready: true }, 0);
    const r = await waitForMesh(() => collectStatus(targets, { namespace: opts.namespace, ...(opts.execTimeoutMs !== undefined ? { execTimeoutMs: opts.execTimeoutMs } : {}) }), {
      timeoutMs: opts.timeoutMs,
      maxIntervalMs: 2000,
      readyReads: 2,
      onPoll: (s, ms) => opts.onPoll?.(s.matrix.filter((m) => m.ready === m.total && m.total > 0).length, s.matrix.length, ms),
    });
    return gateVerdict(r.status, r.elapsedMs);
  };
}

/** What clearing the leaving clusters found: targets to apply, clusters with nothing to clear, clusters that could not be read. */
export interface LeavingTargets {
  targets: ApplyTarget[];
  nothing: Finding[];
  failed: MeshformError[];
}

/**
 * The targets that clear `leaving` (the clusters `apply --prune` takes out), each reached through
 * the connection plan.json recorded for it (`connect` makes the client). I/O: reads each one's
 * HelmChartConfig; one that cannot be reached is a MEMBER_CLEAR_FAILED error, not a throw.
 */
export async function leavingTargets(leaving: readonly RecordedCluster[], connect: (r: RecordedCluster) => ClusterClient, ref: ReleaseRef = DEFAULT_RELEASE): Promise<LeavingTargets> {
  const out: LeavingTargets = { targets: [], nothing: [], failed: [] };
  for (const r of leaving) {
    try {
      const t = await leavingTarget(r.name, connect(r), ref);
      if (t) out.targets.push(t);
      else out.nothing.push(nothingToClear(r.name));
    } catch (err) {
      out.failed.push(clearFailed(r.name, err, r.connection?.context));
    }
  }
  return out;
}
