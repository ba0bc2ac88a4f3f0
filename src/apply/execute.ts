/**
 * Runs an apply plan (plan.ts): per cluster, its steps in order, each by the runner of its kind.
 * A dry run runs only the server-side dry runs. A failing step fails its cluster only; the steps
 * after it are not run. Clusters run in parallel (bounded).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { MeshformError } from '../errors.js';
import { DEFAULT_CLUSTER_CONCURRENCY, DEFAULT_ROLLOUT_TIMEOUT_MS, PRECREATED_CERT_SECRET } from '../defaults.js';
import { isKind, type KubeObject } from '../kube/client.js';
import { asClusterError, clusterError } from '../kube/errors.js';
import { readReleaseState } from '../kube/helm-release.js';
import { mapBounded, realSleep } from '../kube/pool.js';
import { waitForHelmRevision, waitForRollout } from '../kube/rollout.js';
import { createFile, removeTreeQuietly } from '../write/fs.js';
import { helmUpgradeArgs, spawnHelm } from './helm.js';
import { refKey, refOf, refText, renderedObjects, type ApplyPlan, type ClusterPlan, type PlanStep, type PlanStepKind } from './plan.js';
import type { ApplyOptions, ApplyPhase, ApplyResult, ApplyStep, ApplyTarget, ClusterApplyResult, HelmValues, StepResult } from './types.js';

/** What a step runner works with. */
interface StepContext {
  target: ApplyTarget;
  plan: ClusterPlan;
  result: ClusterApplyResult;
  opts: ApplyOptions;
  /** The rendered objects by refKey. */
  objects: Map<string, KubeObject>;
  emit: (phase: ApplyPhase, message: string, step: ApplyStep, object?: string) => void;
  /** Time left of the wait budget (`--timeout`), which starts with the first wait. */
  waitLeft: () => number;
}

type Runner<K extends PlanStepKind> = (s: Extract<PlanStep, { step: K }>, x: StepContext) => Promise<void>;

const objectOf = (x: StepContext, s: { kind: string; name: string; namespace?: string }): KubeObject => {
  const o = x.objects.get(refKey(s));
  if (!o) throw new Error(`the plan names ${refText(s)}, which was not rendered for ${x.target.name}`);
  return o;
};

const waitOptions = (x: StepContext) => ({
  timeoutMs: x.waitLeft(),
  sleep: x.opts.sleep ?? realSleep,
  now: x.opts.now ?? Date.now,
  ...(x.opts.pollMs !== undefined ? { pollMs: x.opts.pollMs } : {}),
});

/**
 * Server-side apply with force for `--force`, and for the certificate Secrets meshform pre-creates:
 * their names are the chart's, whose own certificate methods make them (see PRECREATED_CERT_SECRET).
 */
const forceFor = (x: StepContext, o: KubeObject): boolean => x.opts.force === true || (o.kind === 'Secret' && PRECREATED_CERT_SECRET.test(o.metadata.name));

/** The runner of each step kind: the executor is this table and the loop in executeCluster. */
const RUNNERS: { [K in PlanStepKind]: Runner<K> } = {
  // Observed while planning.
  preflight: async () => {},
  diff: async () => {},
  'dry-run': async (s, x) => {
    x.emit('apply', 'server-side dry run', 'dry-run');
    for (const r of s.objects) {
      const o = objectOf(x, r);
      await x.target.client.apply(o, { dryRun: true, force: forceFor(x, o) });
    }
  },
  write: async (s, x) => {
    const o = objectOf(x, s.object);
    x.emit('apply', `server-side apply ${o.kind} ${o.metadata.name}`, o.kind === 'Secret' ? 'write-secret' : 'apply-object', `${o.kind} ${o.metadata.name}`);
    await x.target.client.apply(o, { force: forceFor(x, o) });
  },
  'helm-upgrade': async (s, x) => {
    const helm = x.target.helm;
    if (!helm) throw new Error('method helm needs values files, chart and version');
    x.emit('apply', `helm upgrade ${s.release}`, 'helm-upgrade', `release ${s.release}`);
    const timeoutMs = x.opts.timeoutMs ?? DEFAULT_ROLLOUT_TIMEOUT_MS;
    const run = await withValuesFiles(helm.values, (valuesFiles) =>
      (x.opts.helmRunner ?? spawnHelm(x.opts.helmBinary))(
        helmUpgradeArgs({ release: s.release, chart: s.chart, version: s.version, namespace: s.namespace, valuesFiles, connection: helm.connection, timeoutMs }),
        { timeoutMs: timeoutMs + 30_000 },
      ),
    );
    if (run.code !== 0) {
      throw clusterError({ cluster: x.target.name, code: 'KUBE_API', message: `helm upgrade ${s.release} failed: ${run.stderr.trim().split('\n').slice(-2).join(' ')}`,
        rule: 'helm upgrade must succeed', fix: `read helm's message; check the chart reference ${s.chart} and version ${s.version}` });
    }
    const after = await readReleaseState(x.target.client, s.release, s.namespace).catch(() => undefined);
    if (after) x.result.revision = { ...x.result.revision, after: after.revision };
  },
  'wait-helm-revision': async (s, x) => {
    const object = `release ${s.release}`;
    x.emit('wait', "waiting for RKE2's helm-controller to upgrade the release", 'helm-controller', object);
    const after = await waitForHelmRevision(x.target.client, { release: s.release, namespace: s.namespace }, { ...waitOptions(x), ...(s.after !== undefined ? { after: s.after } : {}) });
    x.result.revision = { ...x.result.revision, after };
  },
  rollout: async (s, x) => {
    const object = `${s.kind} ${s.name}`;
    x.emit('wait', object, 'rollout', object);
    await waitForRollout(x.target.client, s.kind, s.namespace, s.name, { ...waitOptions(x), optional: s.optional, onProgress: (m) => x.emit('wait', m, 'rollout', object) });
  },
};

/** Runs `use` with the layers as files in a private temporary folder (0700, files 0600), removed afterwards. */
async function withValuesFiles<T>(values: readonly HelmValues[], use: (files: string[]) => Promise<T>): Promise<T> {
  // Outside any work tree (the system's temporary folder), so even a killed run leaves no key where Git looks.
  const dir = mkdtempSync(join(tmpdir(), 'meshform-helm-'));
  try {
    const files: string[] = [];
    for (const [i, v] of values.entries()) {
      const file = join(dir, `${i}-${basename(v.name)}`);
      createFile(file, v.content, 0o600);
      files.push(file);
    }
    return await use(files);
  } finally {
    removeTreeQuietly(dir);
  }
}

/** The steps a dry run runs: only those that change nothing. */
const DRY_RUN_STEPS: ReadonlySet<PlanStepKind> = new Set(['preflight', 'diff', 'dry-run']);

/** What changes, for the summary line and the `done` event. */
export function changeList(r: { objects: { kind: string; name: string; state: string }[]; valuesDiff?: string }): string {
  return [...r.objects.filter((d) => d.state !== 'same').map((d) => `${d.kind} ${d.name}`), ...(r.valuesDiff ? ['helm values'] : [])].join(', ');
}

/** Runs one cluster's plan; never throws (a failure is the result's `error`). */
export async function executeCluster(plan: ClusterPlan, t: ApplyTarget, opts: ApplyOptions = {}): Promise<ClusterApplyResult> {
  const emit = (phase: ApplyPhase, message: string, step: ApplyStep, object?: string) =>
    opts.onEvent?.({ cluster: t.name, phase, message, step, ...(object ? { object } : {}) });
  const result: ClusterApplyResult = {
    cluster: t.name, outcome: 'unchanged', objects: plan.objects, diffText: plan.diffText, warnings: [...plan.warnings], findings: plan.findings,
    ...(plan.valuesDiff !== undefined ? { valuesDiff: plan.valuesDiff } : {}),
    ...(plan.revision ? { revision: { ...plan.revision } } : {}),
    steps: plan.steps.map((s) => ({ ...s, state: DRY_RUN_STEPS.has(s.step) || !opts.dryRun ? 'not-run' : 'planned' })),
  };
  const fail = (err: unknown): ClusterApplyResult => {
    const error = err instanceof MeshformError ? err : asClusterError(t.name, err);
    result.error = error;
    result.outcome = 'failed';
    emit('failed', error.message, 'failed');
    return result;
  };
  if (plan.action === 'stopped') {
    for (const s of result.steps) if (s.step === 'preflight' || s.step === 'diff') s.state = s.step === 'preflight' && plan.error?.exitCode === 1 ? 'failed' : 'done';
    return fail(plan.error ?? new Error('stopped'));
  }
  for (const s of result.steps) if (s.step === 'preflight' || s.step === 'diff') s.state = 'done';
  if (plan.action === 'none') {
    emit('done', 'no change', 'unchanged');
    return result;
  }
  const now = opts.now ?? Date.now;
  let waitStart: number | undefined;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_ROLLOUT_TIMEOUT_MS;
  const x: StepContext = {
    target: t, plan, result, opts, emit,
    objects: new Map(renderedObjects(t).map((o) => [refKey(refOf(o)), o])),
    waitLeft: () => {
      waitStart ??= now();
      return Math.max(0, timeoutMs - (now() - waitStart));
    },
  };
  for (const [i, s] of plan.steps.entries()) {
    const r = result.steps[i] as StepResult;
    if (r.state !== 'not-run') continue;
    try {
      await (RUNNERS[s.step] as Runner<typeof s.step>)(s as never, x);
      r.state = 'done';
    } catch (err) {
      r.state = 'failed';
      return fail(err);
    }
  }
  const what = changeList(result);
  if (opts.dryRun) {
    result.outcome = 'would-change';
    emit('done', `would change ${what}`, 'would-change');
  } else {
    result.outcome = 'changed';
    emit('done', `changed ${what}`, 'changed');
  }
  return result;
}

/** Runs every cluster's plan in parallel (bounded). A failing cluster leaves the others alone. */
export async function executePlan(plan: ApplyPlan, targets: readonly ApplyTarget[], opts: ApplyOptions = {}): Promise<ApplyResult> {
  const byName = new Map(targets.map((t) => [t.name, t]));
  const res = await mapBounded(plan.clusters, opts.concurrency ?? DEFAULT_CLUSTER_CONCURRENCY, async (p) => {
    const t = byName.get(p.cluster);
    if (!t) throw new Error(`the plan names cluster ${p.cluster}, which has no target`);
    return executeCluster(p, t, { ...opts, dryRun: plan.dryRun });
  });
  return summarizeApply(res.map((r, i) => (r.ok ? r.value : failedResult(plan.clusters[i]?.cluster ?? '', r.error))));
}

/** The result of a cluster whose run threw (a bug: executeCluster reports failures itself). */
export function failedResult(cluster: string, err: unknown): ClusterApplyResult {
  return { cluster, outcome: 'failed', objects: [], diffText: '', warnings: [], findings: [], steps: [], error: asClusterError(cluster, err) };
}

/** The per-cluster results, with the lists of changed, unchanged and failed clusters. */
export function summarizeApply(clusters: ClusterApplyResult[]): ApplyResult {
  return {
    clusters,
    changed: clusters.filter((c) => c.outcome === 'changed' || c.outcome === 'would-change').map((c) => c.cluster),
    unchanged: clusters.filter((c) => c.outcome === 'unchanged').map((c) => c.cluster),
    failed: clusters.filter((c) => c.outcome === 'failed').map((c) => c.cluster),
  };
}
