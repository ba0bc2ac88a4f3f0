/**
 * `apply` and `diff` over live clusters: `applyMesh` plans every cluster (plan.ts: the preflight,
 * the diff and the ordered steps, as data) and runs the plan (execute.ts); `diffMesh` only compares.
 */
import { MeshformError } from '../errors.js';
import { DEFAULT_CLUSTER_CONCURRENCY } from '../defaults.js';
import { isKind } from '../kube/client.js';
import { asClusterError } from '../kube/errors.js';
import { mapBounded } from '../kube/pool.js';
import { diffObject, normaliseObject, type ObjectDiff } from './diff.js';
import { changeList, executeCluster, failedResult, summarizeApply } from './execute.js';
import { describeStep, planOne } from './plan.js';
import type { ApplyOptions, ApplyResult, ApplyTarget } from './types.js';

export * from './types.js';
export { planApply, planOne, planCluster, observeCluster, describeStep, type ApplyPlan, type ClusterPlan, type PlanStep, type PlanAction, type ObjectRef } from './plan.js';
export { executePlan, executeCluster } from './execute.js';

/**
 * Applies to every cluster in parallel (bounded): each cluster is planned (reads, no write) and its
 * plan run as soon as it is made, so a slow cluster does not hold the others back; with `dryRun`,
 * only the server-side dry runs. A failing cluster leaves the others alone. Each result carries its
 * plan's steps. (`planApply` then `executePlan` is the same with every plan made first.)
 */
export async function applyMesh(targets: readonly ApplyTarget[], opts: ApplyOptions = {}): Promise<ApplyResult> {
  const res = await mapBounded(targets, opts.concurrency ?? DEFAULT_CLUSTER_CONCURRENCY, async (t) => executeCluster(await planOne(t, opts), t, opts));
  return summarizeApply(res.map((r, i) => (r.ok ? r.value : failedResult(targets[i]?.name ?? '', r.error))));
}

/** Per cluster: the objects that differ between live and rendered. Drift ⇒ the CLI exits 1. */
export interface DriftResult {
  clusters: { cluster: string; differences: ObjectDiff[]; error?: MeshformError }[];
  drift: boolean;
}

/** `diff`: live vs rendered for every cluster (bounded concurrency); unreachable clusters are reported. */
export async function diffMesh(targets: readonly ApplyTarget[], opts: { concurrency?: number } = {}): Promise<DriftResult> {
  const res = await mapBounded(targets, opts.concurrency ?? DEFAULT_CLUSTER_CONCURRENCY, async (t) => {
    const out: ObjectDiff[] = [];
    for (const o of t.objects.map(normaliseObject)) {
      if (!isKind(o.kind)) throw new Error(`unknown kind ${o.kind}`);
      out.push(diffObject(o, await t.client.get(o.kind, o.metadata.name, o.metadata.namespace)));
    }
    return out.filter((d) => d.state !== 'same');
  });
  const clusters = res.map((r, i) => {
    const name = targets[i]?.name ?? '';
    return r.ok ? { cluster: name, differences: r.value } : { cluster: name, differences: [], error: asClusterError(name, r.error) };
  });
  return { clusters, drift: clusters.some((c) => c.differences.length > 0) };
}

/**
 * One line per cluster (what changed where); with `steps`, the cluster's plan under it, each step
 * with what became of it; with `diffs`, then each diff. For the CLI's stdout.
 */
export function formatApplySummary(r: ApplyResult, opts: { diffs?: boolean; steps?: boolean } = {}): string {
  const out: string[] = [];
  for (const c of r.clusters) {
    const rev = c.revision?.after !== undefined ? ` (revision ${c.revision.before ?? '-'} → ${c.revision.after})` : '';
    if (c.outcome === 'failed') out.push(`${c.cluster}: FAILED: ${c.error?.message.replace(`cluster ${c.cluster}: `, '') ?? 'unknown error'}`);
    else if (c.outcome === 'unchanged') out.push(`${c.cluster}: unchanged`);
    else out.push(`${c.cluster}: ${c.outcome === 'would-change' ? 'would change' : 'changed'} ${changeList(c)}${rev}`);
    for (const w of c.warnings) out.push(`  warning: ${w}`);
    if (opts.steps) c.steps.forEach((s, i) => out.push(`  ${i + 1}. ${describeStep(s)}${s.state === 'done' ? '' : `  [${s.state}]`}`));
  }
  if (opts.diffs) for (const c of r.clusters) if (c.diffText) out.push('', `# ${c.cluster}`, c.diffText.trimEnd());
  return out.join('\n') + '\n';
}
