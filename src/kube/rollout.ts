import { field, num, type ClusterClient, type KubeObject } from './client.js';
import { clusterError } from './errors.js';
import { readReleaseState, type ReleaseState } from './helm-release.js';
import { pollUntil, type PollOptions } from './poll.js';
import type { Sleep } from './pool.js';
import { RKE2_CHART_NAMESPACE, type ReleaseRef } from '../defaults.js';

export interface RolloutState {
  done: boolean;
  /** kubectl-like progress text, e.g. `2 of 3 updated pods are available`. */
  message: string;
}

/**
 * Whether a DaemonSet or Deployment has finished rolling out, by the same rules as
 * `kubectl rollout status` (observed generation, updated and available counts).
 */
export function rolloutState(obj: KubeObject): RolloutState {
  const generation = num(field(obj, 'metadata', 'generation')) ?? 0;
  const observed = num(field(obj, 'status', 'observedGeneration')) ?? 0;
  if (observed < generation) return { done: false, message: 'waiting for the controller to observe the new spec' };
  if (obj.kind === 'DaemonSet') {
    const desired = num(field(obj, 'status', 'desiredNumberScheduled')) ?? 0;
    const updated = num(field(obj, 'status', 'updatedNumberScheduled')) ?? 0;
    const available = num(field(obj, 'status', 'numberAvailable')) ?? 0;
    if (updated < desired) return { done: false, message: `${updated} of ${desired} updated pods are scheduled` };
    if (available < desired) return { done: false, message: `${available} of ${desired} updated pods are available` };
    return { done: true, message: `${available} of ${desired} pods available` };
  }
  if (obj.kind === 'Deployment') {
    const replicas = num(field(obj, 'spec', 'replicas')) ?? 1;
    const updated = num(field(obj, 'status', 'updatedReplicas')) ?? 0;
    const total = num(field(obj, 'status', 'replicas')) ?? 0;
    const available = num(field(obj, 'status', 'availableReplicas')) ?? 0;
    const conditions = (field(obj, 'status', 'conditions') as { type?: string; reason?: string }[] | undefined) ?? [];
    if (conditions.some((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded')) {
      return { done: false, message: 'progress deadline exceeded' };
    }
    if (updated < replicas) return { done: false, message: `${updated} of ${replicas} new replicas updated` };
    if (total > updated) return { done: false, message: `${total - updated} old replicas pending termination` };
    if (available < updated) return { done: false, message: `${available} of ${updated} updated replicas available` };
    return { done: true, message: `${available} of ${replicas} replicas available` };
  }
  return { done: true, message: `${obj.kind} has no rollout` };
}

export interface WaitRolloutOptions {
  timeoutMs: number;
  pollMs?: number;
  sleep?: Sleep;
  now?: () => number;
  /** Called with each new progress message. */
  onProgress?: (message: string) => void;
}

/** Calls `report` with each message that differs from the one before. */
function onChange(report: ((message: string) => void) | undefined): (message: string) => void {
  let last: string | undefined;
  return (m) => {
    if (m !== last) report?.(m);
    last = m;
  };
}

/**
 * Polls a DaemonSet/Deployment until its rollout is done. A missing object counts as done when
 * `optional` (clustermesh-apiserver does not exist before the mesh is enabled). Throws KUBE_TIMEOUT.
 */
export async function waitForRollout(
  client: ClusterClient,
  kind: 'DaemonSet' | 'Deployment',
  namespace: string,
  name: string,
  opts: WaitRolloutOptions & { optional?: boolean },
): Promise<RolloutState> {
  const progress = onChange(opts.onProgress);
  const read = async (): Promise<RolloutState> => {
    const obj = await client.get(kind, name, namespace);
    return obj ? rolloutState(obj) : opts.optional ? { done: true, message: `${kind} ${name} does not exist` } : { done: false, message: `${kind} ${name} does not exist yet` };
  };
  const r = await pollUntil(read, (s) => s.done, { ...pollOptions(opts), onRead: (s) => progress(s.message) });
  if (r.timedOut) {
    throw clusterError({
      cluster: client.cluster,
      code: 'KUBE_TIMEOUT',
      message: `${kind} ${namespace}/${name} did not finish rolling out within ${Math.round(opts.timeoutMs / 1000)} s: ${r.state.message}`,
      rule: 'a rollout must complete within --timeout',
      fix: `look at the pods (kubectl -n ${namespace} get pods) and raise --timeout if they are only slow`,
    });
  }
  return r.state;
}

function pollOptions(o: WaitRolloutOptions): PollOptions {
  return { timeoutMs: o.timeoutMs, ...(o.pollMs !== undefined ? { intervalMs: o.pollMs } : {}), ...(o.sleep ? { sleep: o.sleep } : {}), ...(o.now ? { now: o.now } : {}) };
}

/**
 * Waits until RKE2's helm-controller has installed a new revision of the release: one newer than
 * `after` (any revision when undefined) that is no longer pending. Returns that revision; a failed
 * one throws KUBE_API with where to read why, and no new revision in time throws KUBE_TIMEOUT.
 *
 * The signal is the release's Secrets, the one place this is decided: RKE2's helm-controller itself
 * calls an upgrade done when its Job completed and the newest release Secret is deployed with the
 * Job's config hash (label `helmcharts.helm.cattle.io/configHash`).
 */
export async function waitForHelmRevision(
  client: ClusterClient,
  ref: ReleaseRef,
  opts: WaitRolloutOptions & { after?: number },
): Promise<number> {
  const { release, namespace } = ref;
  const progress = onChange(opts.onProgress);
  const settled = (s: ReleaseState | undefined): s is ReleaseState =>
    !!s && (opts.after === undefined || s.revision > opts.after) && s.status !== 'pending-upgrade' && s.status !== 'pending-install';
  const r = await pollUntil(() => readReleaseState(client, release, namespace), settled, {
    ...pollOptions(opts),
    onRead: (s) => progress(s ? `revision ${s.revision} ${s.status}` : `no release ${release} yet`),
  });
  if (r.timedOut || !settled(r.state)) {
    throw clusterError({
      cluster: client.cluster,
      code: 'KUBE_TIMEOUT',
      message: `RKE2's helm-controller did not install a new ${release} revision within ${Math.round(opts.timeoutMs / 1000)} s`,
      rule: 'the HelmChartConfig change must be rolled out',
      fix: `check the helm-install-${release} job in ${RKE2_CHART_NAMESPACE}; raise --timeout`,
    });
  }
  if (r.state.status === 'failed') {
    throw clusterError({
      cluster: client.cluster,
      code: 'KUBE_API',
      message: `the helm-controller's upgrade of ${release} failed (revision ${r.state.revision})`,
      rule: 'the release upgrade must succeed',
      fix: `read the job log: kubectl -n ${RKE2_CHART_NAMESPACE} logs job/helm-install-${release}`,
    });
  }
  return r.state.revision;
}
