import { field, num, type ClusterClient, type KubeObject } from './client.js';
import { clusterError } from './errors.js';
import { realSleep, type Sleep } from './pool.js';

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
  const sleep = opts.sleep ?? realSleep;
  const now = opts.now ?? Date.now;
  const deadline = now() + opts.timeoutMs;
  let last = '';
  for (;;) {
    const obj = await client.get(kind, name, namespace);
    const state: RolloutState = obj ? rolloutState(obj) : opts.optional ? { done: true, message: `${kind} ${name} does not exist` } : { done: false, message: `${kind} ${name} does not exist yet` };
    if (state.message !== last) opts.onProgress?.(state.message);
    last = state.message;
    if (state.done) return state;
    if (now() >= deadline) {
      throw clusterError({
        cluster: client.cluster,
        code: 'KUBE_TIMEOUT',
        message: `${kind} ${namespace}/${name} did not finish rolling out within ${Math.round(opts.timeoutMs / 1000)} s: ${state.message}`,
        rule: 'a rollout must complete within --timeout',
        fix: `look at the pods (kubectl -n ${namespace} get pods) and raise --timeout if they are only slow`,
      });
    }
    await sleep(opts.pollMs ?? 2000);
  }
}
