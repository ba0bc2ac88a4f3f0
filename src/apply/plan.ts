/**
 * The apply plan: per cluster, the ordered steps that bring it to the rendered state, as data.
 *
 * Two halves. `observeCluster` is the only I/O: it runs the preflight (the live checks' findings
 * for this cluster), reads every rendered object's live version, the RKE2 HelmChart the
 * HelmChartConfig configures and the release's state. `planCluster` is pure: from what was rendered
 * and what was observed it decides whether the cluster changes, is stopped (and why), or stays as
 * it is, and lists the steps. `apply --dry-run` prints the plan, tests assert it, and the executor
 * (execute.ts) runs it.
 *
 * Step order, and why:
 * 1. preflight and 2. diff: observed before anything is planned;
 * 3. a server-side dry run of every object that changes: a conflict, a missing permission or a
 *    rejected object stops the cluster before its first write, not halfway through;
 * 4. the writes, Secrets first (a HelmChartConfig may reference them through valuesSecrets);
 * 5. method helm: `helm upgrade` (after the extra Secrets it needs);
 * 6. method helmchartconfig: wait for RKE2's helm-controller to install a newer release revision;
 * 7. the rollouts of DaemonSet cilium and Deployment clustermesh-apiserver (absent before the mesh).
 */
import { parse as parseYaml } from 'yaml';
import { hasErrors, MeshformError, type Finding, type FindingCode } from '../errors.js';
import { AGENT_DAEMONSET, CLUSTERMESH_APISERVER, DEFAULT_CLUSTER_CONCURRENCY, DEFAULT_RELEASE, RKE2_CHART_NAMESPACE, type ReleaseRef } from '../defaults.js';
import { isKind, type KubeObject } from '../kube/client.js';
import { asClusterError, clusterError } from '../kube/errors.js';
import { readReleaseState, type ReleaseState } from '../kube/helm-release.js';
import { mapBounded } from '../kube/pool.js';
import { diffObject, diffValues, normaliseObject, type ObjectDiff } from './diff.js';
import { leafPaths, mergeValues } from './helm.js';
import { HELM_CONTROLLER_WARNING, type ApplyMethod, type ApplyOptions, type ApplyTarget, type HelmValues } from './types.js';

/** An object a step works on. */
export interface ObjectRef {
  kind: string;
  name: string;
  namespace?: string;
}

/** One step of a cluster's plan. */
export type PlanStep =
  /** The live checks for this cluster: the codes of the findings that stop it or warn about it. */
  | { step: 'preflight'; errors: FindingCode[]; warnings: FindingCode[] }
  /** Every rendered object read and compared; method helm also compares the release's values. */
  | { step: 'diff'; changed: ObjectRef[]; unchanged: ObjectRef[]; values?: 'differs' | 'same' }
  /** Server-side dry run (`dryRun=All`) of every object that changes. */
  | { step: 'dry-run'; objects: ObjectRef[] }
  /** Server-side apply of one object (field manager meshform). */
  | { step: 'write'; object: ObjectRef }
  /** Method helm: `helm upgrade` with the rendered values. */
  | { step: 'helm-upgrade'; release: string; namespace: string; chart: string; version: string }
  /** Method helmchartconfig: RKE2's helm-controller installs a revision newer than `after`. */
  | { step: 'wait-helm-revision'; release: string; namespace: string; after?: number }
  /** A workload of the chart finishes rolling out (`optional`: one that may not exist counts as done). */
  | { step: 'rollout'; kind: 'DaemonSet' | 'Deployment'; name: string; namespace: string; optional: boolean };

export type PlanStepKind = PlanStep['step'];

/**
 * What becomes of the cluster: `change` runs the steps; `none` has nothing to change; `stopped`
 * is held back before any write, by its findings (exit 1) or because it cannot be read or has no
 * release to configure (exit 3): `error` says which.
 */
export type PlanAction = 'change' | 'none' | 'stopped';

export interface ClusterPlan {
  cluster: string;
  action: PlanAction;
  steps: PlanStep[];
  /** The preflight findings (errors stop the cluster; warnings are shown). */
  findings: Finding[];
  error?: MeshformError;
  /** Each rendered object against its live version. */
  objects: ObjectDiff[];
  /** Method helm: the release's values against the rendered ones ('' when equal). */
  valuesDiff?: string;
  /** Readable diff of everything that changes (secret values redacted). */
  diffText: string;
  warnings: string[];
  /** The release's revision before the apply, when known. */
  revision?: { before?: number };
}

export interface ApplyPlan {
  method: ApplyMethod;
  dryRun: boolean;
  clusters: ClusterPlan[];
}

/** What `observeCluster` read: the inputs of `planCluster` besides what was rendered. */
export interface Observation {
  findings: Finding[];
  /** The live version of each rendered object, in the order of `renderedObjects(target)`. */
  live: (KubeObject | undefined)[];
  /** Whether the HelmChart the HelmChartConfig configures exists (undefined: not looked up). */
  helmChart?: boolean;
  /** The release's state (undefined: no release, or it could not be read). */
  release?: ReleaseState;
}

/** What the plan depends on besides the target and the observation. */
export interface PlanOptions {
  method: ApplyMethod;
  ref: ReleaseRef;
  /** Waits planned at all (`--no-wait`: false). */
  wait: boolean;
  waitForHelmController: boolean;
}

export function planOptionsOf(opts: ApplyOptions): PlanOptions {
  return {
    method: opts.method ?? 'helmchartconfig',
    ref: { release: opts.release ?? DEFAULT_RELEASE.release, namespace: opts.namespace ?? DEFAULT_RELEASE.namespace },
    wait: (opts.timeoutMs ?? 1) > 0,
    waitForHelmController: opts.waitForHelmController ?? true,
  };
}

export const refOf = (o: KubeObject): ObjectRef => ({ kind: o.kind, name: o.metadata.name, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}) });
export const refKey = (r: ObjectRef): string => `${r.kind}/${r.namespace ?? ''}/${r.name}`;
/** `Secret kube-system/x`. */
export const refText = (r: ObjectRef): string => `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;

/** The target's objects as apply sends them: normalised (Secret stringData folded into data), Secrets first. */
export function renderedObjects(t: ApplyTarget): KubeObject[] {
  const objects = t.objects.map(normaliseObject);
  objects.sort((a, b) => Number(b.kind === 'Secret') - Number(a.kind === 'Secret'));
  return objects;
}

function valuesData(v: HelmValues): Record<string, unknown> {
  // The rendered values keep the user's aliases; the loader allowed this many (the yaml default is 100).
  const data = parseYaml(v.content, { maxAliasCount: 1000 }) as unknown;
  return data && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : {};
}

/** The merged values of method helm, and the leaves that must not be shown. */
export function helmDesired(t: ApplyTarget): { desired: Record<string, unknown>; secretPaths: string[][] } | undefined {
  if (!t.helm) return undefined;
  const layers = t.helm.values.map(valuesData);
  return { desired: mergeValues(...layers), secretPaths: layers.flatMap((l, i) => (t.helm!.values[i]!.secret ? leafPaths(l) : [])) };
}

/**
 * Reads what the plan of one cluster needs (I/O). Preflight errors end it early (nothing more is
 * read); a cluster that cannot be read throws. Emits the `preflight` and `diff` progress events.
 */
export async function observeCluster(t: ApplyTarget, opts: ApplyOptions = {}): Promise<Observation> {
  const { method, ref } = planOptionsOf(opts);
  const emit = (phase: 'preflight' | 'diff', message: string) => opts.onEvent?.({ cluster: t.name, phase, message, step: phase });
  emit('preflight', 'checking');
  const findings = opts.preflight ? await opts.preflight(t.name) : [];
  if (hasErrors(findings)) return { findings, live: [] };
  emit('diff', 'reading live objects');
  const objects = renderedObjects(t);
  const live: (KubeObject | undefined)[] = [];
  for (const o of objects) {
    if (!isKind(o.kind)) throw new Error(`cannot apply kind ${o.kind}`);
    live.push(await t.client.get(o.kind, o.metadata.name, o.metadata.namespace));
  }
  const obs: Observation = { findings, live };
  if (method === 'helmchartconfig' && objects.some((o) => o.kind === 'HelmChartConfig')) {
    obs.helmChart = (await t.client.get('HelmChart', ref.release, RKE2_CHART_NAMESPACE)) !== undefined;
  }
  // Method helm needs the release (its values are diffed); the default method only wants its
  // revision, to know when the helm-controller has installed a newer one.
  const release = method === 'helm' ? await readReleaseState(t.client, ref.release, ref.namespace) : await readReleaseState(t.client, ref.release, ref.namespace).catch(() => undefined);
  if (release) obs.release = release;
  return obs;
}

function stopped(base: ClusterPlan, error: MeshformError): ClusterPlan {
  return { ...base, action: 'stopped', error };
}

/** Decides one cluster's plan from what was rendered (`t`) and what was observed. Pure. */
export function planCluster(t: ApplyTarget, obs: Observation, opts: PlanOptions): ClusterPlan {
  const { method, ref } = opts;
  const errors = obs.findings.filter((f) => f.severity === 'error');
  const preflight: PlanStep = { step: 'preflight', errors: errors.map((f) => f.code), warnings: obs.findings.filter((f) => f.severity === 'warning').map((f) => f.code) };
  const base: ClusterPlan = { cluster: t.name, action: 'none', steps: [preflight], findings: obs.findings, objects: [], diffText: '', warnings: [] };
  if (errors.length) {
    return stopped(base, new MeshformError(`cluster ${t.name}: preflight failed: ${errors[0]!.message}`, obs.findings, 1));
  }
  const objects = renderedObjects(t);
  const diffs = objects.map((o, i) => diffObject(o, obs.live[i]));
  const changed = objects.filter((_, i) => diffs[i]!.state !== 'same');
  base.objects = diffs;
  // RKE2's helm-controller ignores a HelmChartConfig without its HelmChart: writing one would change
  // nothing and the wait would only time out, so a wrong release name stops here, before any write.
  if (obs.helmChart === false) {
    return stopped(base, clusterError({ cluster: t.name, code: 'RELEASE_NOT_FOUND', value: ref.release, path: 'cilium.release',
      message: `no HelmChart ${RKE2_CHART_NAMESPACE}/${ref.release}: the HelmChartConfig ${ref.release} would configure nothing`,
      rule: `the HelmChartConfig is named after the HelmChart that installs Cilium (RKE2: ${RKE2_CHART_NAMESPACE}/${DEFAULT_RELEASE.release})`,
      fix: `set cilium.release/cilium.namespace in the spec to the HelmChart that installs Cilium on ${t.name} (kubectl get helmcharts -A), or install Cilium with RKE2 first (cni: cilium)` }));
  }
  const helm = method === 'helm' ? helmDesired(t) : undefined;
  if (method === 'helm') {
    if (!t.helm || !helm) throw new Error('method helm needs values files, chart and version');
    base.warnings.push(HELM_CONTROLLER_WARNING);
    if (!obs.release) {
      return stopped(base, clusterError({ cluster: t.name, code: 'RELEASE_NOT_FOUND', value: ref.release, path: 'cilium.release', message: `helm release ${ref.release} not found in ${ref.namespace}`,
        rule: 'apply --method helm upgrades an existing release', fix: `check cilium.release/namespace in the spec (helm list -n ${ref.namespace})` }));
    }
    base.valuesDiff = diffValues(obs.release.config, helm.desired, helm.secretPaths, `helm release ${ref.namespace}/${ref.release}`);
  }
  base.steps.push({
    step: 'diff',
    changed: changed.map(refOf),
    unchanged: objects.filter((_, i) => diffs[i]!.state === 'same').map(refOf),
    ...(method === 'helm' ? { values: base.valuesDiff ? ('differs' as const) : ('same' as const) } : {}),
  });
  base.diffText = [...diffs.filter((d) => d.state !== 'same').map((d) => d.text), base.valuesDiff ?? ''].filter((s) => s).join('\n');
  if (changed.length === 0 && !base.valuesDiff) return base;

  const plan: ClusterPlan = { ...base, action: 'change', revision: obs.release ? { before: obs.release.revision } : {} };
  if (changed.length) plan.steps.push({ step: 'dry-run', objects: changed.map(refOf) });
  for (const o of changed) plan.steps.push({ step: 'write', object: refOf(o) });
  if (method === 'helm' && base.valuesDiff && t.helm) {
    plan.steps.push({ step: 'helm-upgrade', release: ref.release, namespace: ref.namespace, chart: t.helm.chart, version: t.helm.version });
  }
  if (opts.wait) {
    const listed = valuesSecretNames(objects);
    if (method === 'helmchartconfig' && opts.waitForHelmController && changed.some((o) => o.kind === 'HelmChartConfig' || (o.kind === 'Secret' && listed.has(o.metadata.name)))) {
      plan.steps.push({ step: 'wait-helm-revision', release: ref.release, namespace: ref.namespace, ...(obs.release ? { after: obs.release.revision } : {}) });
    }
    plan.steps.push({ step: 'rollout', kind: 'DaemonSet', name: AGENT_DAEMONSET, namespace: ref.namespace, optional: false });
    plan.steps.push({ step: 'rollout', kind: 'Deployment', name: CLUSTERMESH_APISERVER, namespace: ref.namespace, optional: true });
  }
  return plan;
}

/**
 * The Secrets the HelmChartConfig lists in `spec.valuesSecrets`: helm-controller watches them, so a
 * change of one alone (a renewed certificate) also makes it run helm, and apply waits for that revision.
 */
function valuesSecretNames(objects: readonly { kind: string; metadata: { name: string }; spec?: unknown }[]): Set<string> {
  const names = new Set<string>();
  for (const o of objects) {
    if (o.kind !== 'HelmChartConfig') continue;
    const list = (o.spec as { valuesSecrets?: { name?: unknown }[] } | undefined)?.valuesSecrets ?? [];
    for (const v of list) if (typeof v.name === 'string') names.add(v.name);
  }
  return names;
}

/** Observes every cluster (bounded concurrency) and plans each; a cluster that cannot be read is stopped with why. */
export async function planApply(targets: readonly ApplyTarget[], opts: ApplyOptions = {}): Promise<ApplyPlan> {
  const res = await mapBounded(targets, opts.concurrency ?? DEFAULT_CLUSTER_CONCURRENCY, (t) => planOne(t, opts));
  return { method: planOptionsOf(opts).method, dryRun: opts.dryRun ?? false, clusters: res.map((r, i) => (r.ok ? r.value : unreadable(targets[i]?.name ?? '', r.error))) };
}

/** The plan of a cluster that could not be observed: stopped, with why. */
function unreadable(cluster: string, err: unknown): ClusterPlan {
  return { cluster, action: 'stopped', steps: [], findings: [], objects: [], diffText: '', warnings: [], error: asClusterError(cluster, err) };
}

/** Observes and plans one cluster; never throws (a cluster that cannot be read is stopped with why). */
export async function planOne(t: ApplyTarget, opts: ApplyOptions = {}): Promise<ClusterPlan> {
  try {
    return planCluster(t, await observeCluster(t, opts), planOptionsOf(opts));
  } catch (err) {
    return unreadable(t.name, err);
  }
}

/** One line saying what a step does, for `apply --dry-run` and the docs. */
export function describeStep(s: PlanStep): string {
  switch (s.step) {
    case 'preflight':
      return s.errors.length
        ? `preflight: live checks fail (${[...new Set(s.errors)].join(', ')})`
        : `preflight: live checks pass${s.warnings.length ? ` with warnings (${[...new Set(s.warnings)].join(', ')})` : ''}`;
    case 'diff': {
      const n = s.changed.length;
      const what = n ? `${n} of ${n + s.unchanged.length} object(s) differ: ${s.changed.map(refText).join(', ')}` : `all ${s.unchanged.length} object(s) as rendered`;
      return `diff: ${what}${s.values ? `; helm values ${s.values === 'differs' ? 'differ' : 'as rendered'}` : ''}`;
    }
    case 'dry-run':
      return `server-side dry run of ${s.objects.map(refText).join(', ')}`;
    case 'write':
      return `server-side apply ${refText(s.object)}`;
    case 'helm-upgrade':
      return `helm upgrade ${s.release} ${s.chart} --version ${s.version} -n ${s.namespace}`;
    case 'wait-helm-revision':
      return `wait for RKE2's helm-controller to install ${s.after !== undefined ? `a revision after ${s.after}` : 'a revision'} of ${s.namespace}/${s.release}`;
    case 'rollout':
      return `wait for ${s.kind} ${s.namespace}/${s.name} to roll out${s.optional ? ' (if it exists)' : ''}`;
  }
}
