import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createFile, removeTreeQuietly } from '../write/fs.js';
import { parse as parseYaml } from 'yaml';
import { hasErrors, MeshformError, type Finding } from '../errors.js';
import { isKind, type ClusterClient, type KubeObject } from '../kube/client.js';
import { asClusterError, clusterError } from '../kube/errors.js';
import { currentReleaseSecret, decodeHelmReleaseSecret, releaseRevision } from '../kube/helm-release.js';
import { mapBounded, realSleep, type Sleep } from '../kube/pool.js';
import { waitForRollout } from '../kube/rollout.js';
import { diffObject, diffValues, normaliseObject, type ObjectDiff } from './diff.js';
import { helmUpgradeArgs, leafPaths, mergeValues, spawnHelm, type HelmConnection, type HelmRunner } from './helm.js';

export type ApplyMethod = 'helmchartconfig' | 'helm';

/** What to apply to one cluster. */
export interface ApplyTarget {
  name: string;
  client: ClusterClient;
  /**
   * Method `helmchartconfig`: the rendered objects (HelmChartConfig, and Secrets such as the
   * pre-created cert Secrets of Cilium ≥ 1.19 or the valuesSecrets Secret). Secrets go first.
   * Method `helm`: extra objects to apply before the upgrade (pre-created Secrets).
   */
  objects: KubeObject[];
  /**
   * Method `helm`: the rendered values and secret values, as content, in `-f` order. They reach
   * helm through private temporary files only when helm really runs (not for a dry run).
   */
  helm?: { values: HelmValues[]; chart: string; version: string; connection: HelmConnection };
}

export type ApplyPhase = 'preflight' | 'diff' | 'apply' | 'wait' | 'done' | 'failed';

/**
 * What a cluster is doing, finer than its phase, so a live view need not parse messages:
 * `write-secret`/`apply-object` are server-side applies, `helm-controller` waits for RKE2's
 * helm-controller to install a new release revision, `rollout` waits for a DaemonSet/Deployment;
 * the last four end the cluster.
 */
export type ApplyStep =
  | 'preflight'
  | 'diff'
  | 'dry-run'
  | 'write-secret'
  | 'apply-object'
  | 'helm-upgrade'
  | 'helm-controller'
  | 'rollout'
  | 'changed'
  | 'would-change'
  | 'unchanged'
  | 'failed';

/** Progress, for a live view (the CLI renders it on stderr). Messages name objects, never their data. */
export interface ApplyEvent {
  cluster: string;
  phase: ApplyPhase;
  message: string;
  step?: ApplyStep;
  /** The object the step works on, as `Kind name` (e.g. `DaemonSet cilium`). */
  object?: string;
}

export interface ApplyOptions {
  method?: ApplyMethod;
  /** Show what would change and stop (server-side dry run of each changed object). */
  dryRun?: boolean;
  release?: string;
  namespace?: string;
  /** Clusters applied at once (default 8). */
  concurrency?: number;
  /** Rollout wait per cluster (default 5 min); 0 skips waiting. */
  timeoutMs?: number;
  /** Take over fields other managers own. */
  force?: boolean;
  /** Checked per cluster before anything is written; an error finding fails that cluster only. */
  preflight?: (cluster: string) => Promise<Finding[]> | Finding[];
  onEvent?: (e: ApplyEvent) => void;
  helmRunner?: HelmRunner;
  helmBinary?: string;
  /**
   * Method `helmchartconfig`: wait for RKE2's helm-controller to install a new release revision
   * before waiting for the rollouts (default true; false when no helm-controller runs).
   */
  waitForHelmController?: boolean;
  pollMs?: number;
  sleep?: Sleep;
  now?: () => number;
}

export type ApplyOutcome = 'changed' | 'unchanged' | 'would-change' | 'failed';

export interface ClusterApplyResult {
  cluster: string;
  outcome: ApplyOutcome;
  /** Object diffs (method helmchartconfig, and helm's extra objects). */
  objects: ObjectDiff[];
  /** Method helm: values diff text ('' when none). */
  valuesDiff?: string;
  /** Readable diff of everything that changes (secret values redacted). */
  diffText: string;
  warnings: string[];
  findings: Finding[];
  error?: MeshformError;
  /** Helm release revision before and after (when known). */
  revision?: { before?: number; after?: number };
}

export interface ApplyResult {
  clusters: ClusterApplyResult[];
  changed: string[];
  unchanged: string[];
  failed: string[];
}

export const HELM_CONTROLLER_WARNING =
  "RKE2's helm-controller re-installs rke2-cilium from its HelmChart and HelmChartConfig on its next run (any HelmChartConfig change, any RKE2 upgrade) and drops values given with helm upgrade; use the default method (HelmChartConfig) to keep them";

async function releaseState(client: ClusterClient, release: string, namespace: string): Promise<{ revision: number; status: string; config: Record<string, unknown> } | undefined> {
  const secrets = await client.list('Secret', { namespace, labelSelector: `owner=helm,name=${release}` });
  const s = currentReleaseSecret(secrets, release);
  if (!s) return undefined;
  const r = decodeHelmReleaseSecret(s);
  // The newest revision of any status tells whether an upgrade ran and how it ended; the values
  // are those of the current (deployed) one.
  const newest = [...secrets].sort((a, b) => releaseRevision(b) - releaseRevision(a))[0];
  const status = newest && releaseRevision(newest) > r.revision ? (newest.metadata.labels?.['status'] ?? 'unknown') : r.status;
  return { revision: Math.max(r.revision, newest ? releaseRevision(newest) : 0), status, config: r.config };
}

/** One `-f` layer of method helm. */
export interface HelmValues {
  /** Where it came from (the rendered path), for messages. */
  name: string;
  content: string;
  /** Holds keys: written 0600, redacted in diffs. */
  secret: boolean;
}

function valuesData(v: HelmValues): Record<string, unknown> {
  // The rendered values keep the user's aliases; the loader allowed this many (the yaml default is 100).
  const data = parseYaml(v.content, { maxAliasCount: 1000 }) as unknown;
  return data && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : {};
}

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

/** Applies to one cluster; never throws (a failure is the result's `error`). */
export async function applyCluster(t: ApplyTarget, opts: ApplyOptions = {}): Promise<ClusterApplyResult> {
  const method = opts.method ?? 'helmchartconfig';
  const release = opts.release ?? 'rke2-cilium';
  const namespace = opts.namespace ?? 'kube-system';
  const emit = (phase: ApplyPhase, message: string, step: ApplyStep, object?: string) =>
    opts.onEvent?.({ cluster: t.name, phase, message, step, ...(object ? { object } : {}) });
  const result: ClusterApplyResult = { cluster: t.name, outcome: 'unchanged', objects: [], diffText: '', warnings: [], findings: [] };
  try {
    emit('preflight', 'checking', 'preflight');
    const findings = opts.preflight ? await opts.preflight(t.name) : [];
    result.findings = findings;
    if (hasErrors(findings)) {
      throw new MeshformError(`cluster ${t.name}: preflight failed: ${findings.find((f) => f.severity === 'error')?.message}`, findings, 1);
    }
    emit('diff', 'reading live objects', 'diff');
    const objects = t.objects.map(normaliseObject);
    // Secrets first: a HelmChartConfig may reference them through valuesSecrets.
    objects.sort((a, b) => Number(b.kind === 'Secret') - Number(a.kind === 'Secret'));
    for (const o of objects) {
      if (!isKind(o.kind)) throw new Error(`cannot apply kind ${o.kind}`);
      result.objects.push(diffObject(o, await t.client.get(o.kind, o.metadata.name, o.metadata.namespace)));
    }
    // RKE2's helm-controller ignores a HelmChartConfig without its HelmChart: writing one would change
    // nothing and the wait would only time out, so a wrong release name stops here, before any write.
    if (method === 'helmchartconfig' && objects.some((o) => o.kind === 'HelmChartConfig') && !(await t.client.get('HelmChart', release, namespace))) {
      throw clusterError({ cluster: t.name, code: 'RELEASE_NOT_FOUND', value: release, path: 'cilium.release',
        message: `no HelmChart ${namespace}/${release}: the HelmChartConfig ${release} would configure nothing`,
        rule: "the HelmChartConfig is named after the HelmChart that installs Cilium (RKE2: kube-system/rke2-cilium)",
        fix: `set cilium.release/cilium.namespace in the spec to the HelmChart that installs Cilium on ${t.name} (kubectl get helmcharts -A), or install Cilium with RKE2 first (cni: cilium)` });
    }
    let helmPlan: { desired: Record<string, unknown>; before?: number } | undefined;
    if (method === 'helm') {
      if (!t.helm) throw new Error('method helm needs values files, chart and version');
      result.warnings.push(HELM_CONTROLLER_WARNING);
      const layers = t.helm.values.map(valuesData);
      const desired = mergeValues(...layers);
      const current = await releaseState(t.client, release, namespace);
      if (!current) {
        throw clusterError({ cluster: t.name, code: 'RELEASE_NOT_FOUND', value: release, path: 'cilium.release', message: `helm release ${release} not found in ${namespace}`,
          rule: 'apply --method helm upgrades an existing release', fix: `check cilium.release/namespace in the spec (helm list -n ${namespace})` });
      }
      const secretPaths = layers.flatMap((l, i) => (t.helm!.values[i]!.secret ? leafPaths(l) : []));
      result.valuesDiff = diffValues(current.config, desired, secretPaths, `helm release ${namespace}/${release}`);
      helmPlan = { desired, before: current.revision };
    }
    const changedObjects = result.objects.filter((d) => d.state !== 'same');
    result.diffText = [...changedObjects.map((d) => d.text), result.valuesDiff ?? ''].filter((s) => s).join('\n');
    const changes = changedObjects.length > 0 || !!result.valuesDiff;
    if (!changes) {
      emit('done', 'no change', 'unchanged');
      return result;
    }
    const toApply = objects.filter((o) => changedObjects.some((d) => d.kind === o.kind && d.name === o.metadata.name && d.namespace === o.metadata.namespace));
    if (opts.dryRun) {
      emit('apply', 'server-side dry run', 'dry-run');
      for (const o of toApply) await t.client.apply(o, { dryRun: true, force: opts.force });
      result.outcome = 'would-change';
      emit('done', `would change ${[...changedObjects.map((d) => `${d.kind} ${d.name}`), ...(result.valuesDiff ? ['helm values'] : [])].join(', ')}`, 'would-change');
      return result;
    }
    // A server-side dry run of every object first: a conflict, a missing permission or a rejected
    // object then stops this cluster before its first write, not halfway through.
    emit('apply', 'server-side dry run', 'dry-run');
    for (const o of toApply) await t.client.apply(o, { dryRun: true, force: opts.force });
    const before = method === 'helmchartconfig' ? (await releaseState(t.client, release, namespace).catch(() => undefined))?.revision : helmPlan?.before;
    result.revision = before !== undefined ? { before } : {};
    for (const o of toApply) {
      emit('apply', `server-side apply ${o.kind} ${o.metadata.name}`, o.kind === 'Secret' ? 'write-secret' : 'apply-object', `${o.kind} ${o.metadata.name}`);
      await t.client.apply(o, { force: opts.force });
    }
    result.outcome = 'changed';
    if (method === 'helm' && result.valuesDiff && t.helm) {
      emit('apply', `helm upgrade ${release}`, 'helm-upgrade', `release ${release}`);
      const timeoutMs = opts.timeoutMs ?? 300_000;
      const helm = t.helm;
      const run = await withValuesFiles(helm.values, (valuesFiles) =>
        (opts.helmRunner ?? spawnHelm(opts.helmBinary))(
          helmUpgradeArgs({ release, chart: helm.chart, version: helm.version, namespace, valuesFiles, connection: helm.connection, timeoutMs }),
          { timeoutMs: timeoutMs + 30_000 },
        ),
      );
      if (run.code !== 0) {
        throw clusterError({ cluster: t.name, code: 'KUBE_API', message: `helm upgrade ${release} failed: ${run.stderr.trim().split('\n').slice(-2).join(' ')}`,
          rule: 'helm upgrade must succeed', fix: `read helm's message; check the chart reference ${t.helm.chart} and version ${t.helm.version}` });
      }
    }
    const timeoutMs = opts.timeoutMs ?? 300_000;
    if (timeoutMs > 0) {
      const now = opts.now ?? Date.now;
      const sleep = opts.sleep ?? realSleep;
      const start = now();
      const left = () => Math.max(0, timeoutMs - (now() - start));
      if (method === 'helmchartconfig' && (opts.waitForHelmController ?? true) && changedObjects.some((d) => d.kind === 'HelmChartConfig')) {
        emit('wait', "waiting for RKE2's helm-controller to upgrade the release", 'helm-controller', `release ${release}`);
        for (;;) {
          const cur = await releaseState(t.client, release, namespace);
          if (cur && (before === undefined || cur.revision > before) && cur.status !== 'pending-upgrade' && cur.status !== 'pending-install') {
            if (cur.status === 'failed') {
              throw clusterError({ cluster: t.name, code: 'KUBE_API', message: `the helm-controller's upgrade of ${release} failed (revision ${cur.revision})`,
                rule: 'the release upgrade must succeed', fix: `read the job log: kubectl -n ${namespace} logs job/helm-install-${release}` });
            }
            result.revision = { ...result.revision, after: cur.revision };
            break;
          }
          if (left() <= 0) {
            throw clusterError({ cluster: t.name, code: 'KUBE_TIMEOUT', message: `RKE2's helm-controller did not install a new ${release} revision within ${Math.round(timeoutMs / 1000)} s`,
              rule: 'the HelmChartConfig change must be rolled out', fix: `check the helm-install-${release} job in ${namespace}; raise --timeout` });
          }
          await sleep(opts.pollMs ?? 2000);
        }
      }
      const wait = (object: string) => ({ sleep, now, pollMs: opts.pollMs, onProgress: (m: string) => emit('wait', m, 'rollout', object) });
      emit('wait', 'DaemonSet cilium', 'rollout', 'DaemonSet cilium');
      await waitForRollout(t.client, 'DaemonSet', namespace, 'cilium', { ...wait('DaemonSet cilium'), timeoutMs: left() });
      emit('wait', 'Deployment clustermesh-apiserver', 'rollout', 'Deployment clustermesh-apiserver');
      await waitForRollout(t.client, 'Deployment', namespace, 'clustermesh-apiserver', { ...wait('Deployment clustermesh-apiserver'), timeoutMs: left(), optional: true });
    }
    if (method === 'helm') {
      const after = await releaseState(t.client, release, namespace).catch(() => undefined);
      if (after) result.revision = { ...result.revision, after: after.revision };
    }
    emit('done', `changed ${[...changedObjects.map((d) => `${d.kind} ${d.name}`), ...(result.valuesDiff ? ['helm values'] : [])].join(', ')}`, 'changed');
    return result;
  } catch (err) {
    const error = err instanceof MeshformError ? err : asClusterError(t.name, err);
    result.error = error;
    result.outcome = 'failed';
    emit('failed', error.message, 'failed');
    return result;
  }
}

/** Applies to every cluster in parallel (bounded). A failing cluster leaves the others alone. */
export async function applyMesh(targets: readonly ApplyTarget[], opts: ApplyOptions = {}): Promise<ApplyResult> {
  const res = await mapBounded(targets, opts.concurrency ?? 8, (t) => applyCluster(t, opts));
  const clusters = res.map((r, i) => (r.ok ? r.value : { cluster: targets[i]?.name ?? '', outcome: 'failed' as const, objects: [], diffText: '', warnings: [], findings: [], error: asClusterError(targets[i]?.name ?? '', r.error) }));
  return {
    clusters,
    changed: clusters.filter((c) => c.outcome === 'changed' || c.outcome === 'would-change').map((c) => c.cluster),
    unchanged: clusters.filter((c) => c.outcome === 'unchanged').map((c) => c.cluster),
    failed: clusters.filter((c) => c.outcome === 'failed').map((c) => c.cluster),
  };
}

/** Per cluster: the objects that differ between live and rendered. Drift ⇒ the CLI exits 1. */
export interface DriftResult {
  clusters: { cluster: string; differences: ObjectDiff[]; error?: MeshformError }[];
  drift: boolean;
}

/** `diff`: live vs rendered for every cluster (bounded concurrency); unreachable clusters are reported. */
export async function diffMesh(targets: readonly ApplyTarget[], opts: { concurrency?: number } = {}): Promise<DriftResult> {
  const res = await mapBounded(targets, opts.concurrency ?? 8, async (t) => {
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

/** One line per cluster (what changed where), then each diff; for the CLI's stdout. */
export function formatApplySummary(r: ApplyResult, opts: { diffs?: boolean } = {}): string {
  const out: string[] = [];
  for (const c of r.clusters) {
    const what = [...c.objects.filter((d) => d.state !== 'same').map((d) => `${d.kind} ${d.name}`), ...(c.valuesDiff ? ['helm values'] : [])].join(', ');
    const rev = c.revision?.after !== undefined ? ` (revision ${c.revision.before ?? '-'} → ${c.revision.after})` : '';
    if (c.outcome === 'failed') out.push(`${c.cluster}: FAILED: ${c.error?.message.replace(`cluster ${c.cluster}: `, '') ?? 'unknown error'}`);
    else if (c.outcome === 'unchanged') out.push(`${c.cluster}: unchanged`);
    else out.push(`${c.cluster}: ${c.outcome === 'would-change' ? 'would change' : 'changed'} ${what}${rev}`);
    for (const w of c.warnings) out.push(`  warning: ${w}`);
  }
  if (opts.diffs) for (const c of r.clusters) if (c.diffText) out.push('', `# ${c.cluster}`, c.diffText.trimEnd());
  return out.join('\n') + '\n';
}
