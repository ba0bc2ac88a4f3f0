/**
 * The types apply's planner (plan.ts), executor (execute.ts) and callers share: what goes to a
 * cluster, the progress events, the options and the results.
 */
import type { Finding, MeshformError } from '../errors.js';
import type { ClusterClient, KubeObject } from '../kube/client.js';
import type { Sleep } from '../kube/pool.js';
import type { ObjectDiff } from './diff.js';
import type { HelmConnection, HelmRunner } from './helm.js';
import type { PlanStep } from './plan.js';

export type ApplyMethod = 'helmchartconfig' | 'helm';

/** One `-f` layer of method helm. */
export interface HelmValues {
  /** Where it came from (the rendered path), for messages. */
  name: string;
  content: string;
  /** Holds keys: written 0600, redacted in diffs. */
  secret: boolean;
}

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
  /** The spec's `cilium.release` and `cilium.namespace` (defaults: src/defaults.ts). */
  release?: string;
  namespace?: string;
  /** Clusters applied at once (default 8). */
  concurrency?: number;
  /** Wait per cluster for the helm-controller and the rollouts (default 5 min); 0 skips waiting. */
  timeoutMs?: number;
  /** Take over fields other managers own. */
  force?: boolean;
  /**
   * Checked per cluster before anything is read or written: an error finding stops that cluster
   * only (exit 1); a throw (the cluster could not be discovered) fails it with that error.
   */
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

/** A step of the plan as the executor left it. */
export type StepResult = PlanStep & {
  /** done; planned (a dry run stops before it); not-run (an earlier step failed); failed. */
  state: 'done' | 'planned' | 'not-run' | 'failed';
};

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
  /** The cluster's plan, step by step, with what became of each step. */
  steps: StepResult[];
}

export interface ApplyResult {
  clusters: ClusterApplyResult[];
  changed: string[];
  unchanged: string[];
  failed: string[];
}

export const HELM_CONTROLLER_WARNING =
  "RKE2's helm-controller re-installs rke2-cilium from its HelmChart and HelmChartConfig on its next run (any HelmChartConfig change, any RKE2 upgrade) and drops values given with helm upgrade; use the default method (HelmChartConfig) to keep them";
