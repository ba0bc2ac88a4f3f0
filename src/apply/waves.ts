/**
 * Runs an apply in waves (membership.ts decides them): each wave's clusters are applied in
 * parallel (apply.ts), then, before the next wave, the gate waits until every link that both ends
 * currently configure is ready. A wave with a failed cluster, or a gate that times out, stops the
 * rollout: later waves are left untouched and named, so a re-run picks up where it stopped
 * (clusters already done are unchanged then).
 */
import type { KubeObject } from '../kube/client.js';
import { str, field } from '../kube/client.js';
import type { MatrixCell, MeshStatus } from '../status/status.js';
import { applyMesh } from './apply.js';
import { summarizeApply } from './execute.js';
import { clearMeshValues, type Wave } from './membership.js';
import type { ApplyOptions, ApplyResult, ApplyTarget } from './types.js';

/** What one gate saw: ready or not after `elapsedMs`, and the links still unready. */
export interface GateResult {
  ready: boolean;
  elapsedMs: number;
  links: number;
  notReady: MatrixCell[];
  /** Clusters whose status could not be read. */
  unreadable: string[];
}

/** Waits for the links of the clusters settled so far (the CLI passes a status poll). */
export type WaveGate = (settled: ReadonlySet<string>, next: Wave) => Promise<GateResult>;

export interface WaveResult {
  wave: Wave;
  apply: ApplyResult;
  gate?: GateResult;
}

export interface WavesResult {
  waves: WaveResult[];
  /** Every cluster result of every wave run. */
  apply: ApplyResult;
  /** Why the rollout stopped early, if it did. */
  stopped?: { wave: number; reason: 'apply-failed' | 'gate-not-ready' };
  /** Clusters of the waves not run. */
  untouched: string[];
}

export interface WavesOptions extends ApplyOptions {
  onWave?: (w: Wave, phase: 'start' | 'gate' | 'done', detail?: GateResult) => void;
}

/** Applies wave after wave; `targets` holds every cluster any wave names. */
export async function applyInWaves(waves: readonly Wave[], targets: ReadonlyMap<string, ApplyTarget>, opts: WavesOptions = {}, gate?: WaveGate): Promise<WavesResult> {
  const done: WaveResult[] = [];
  const settled = new Set<string>();
  let stopped: WavesResult['stopped'];
  let i = 0;
  for (; i < waves.length; i++) {
    const w = waves[i]!;
    opts.onWave?.(w, 'start');
    const ts = w.clusters.map((n) => targets.get(n)).filter((t): t is ApplyTarget => t !== undefined);
    const apply = await applyMesh(ts, opts);
    const r: WaveResult = { wave: w, apply };
    done.push(r);
    // A cleared (leaving) cluster is in no link; the others now carry their new configuration.
    if (w.kind !== 'leave') for (const c of apply.clusters) if (c.outcome !== 'failed') settled.add(c.cluster);
    // A leaving cluster that cannot be cleared is named; the others still drop it.
    if (apply.failed.length && w.kind !== 'leave') {
      stopped = { wave: w.index, reason: 'apply-failed' };
      i++;
      break;
    }
    const next = waves[i + 1];
    if (next && gate && !opts.dryRun) {
      opts.onWave?.(w, 'gate');
      r.gate = await gate(settled, next);
      opts.onWave?.(w, 'done', r.gate);
      if (!r.gate.ready) {
        stopped = { wave: w.index, reason: 'gate-not-ready' };
        i++;
        break;
      }
    } else opts.onWave?.(w, 'done');
  }
  const untouched = waves.slice(i).flatMap((w) => w.clusters);
  return { waves: done, apply: summarizeApply(done.flatMap((d) => d.apply.clusters)), ...(stopped ? { stopped } : {}), untouched };
}

/** A gate's verdict from a status read restricted to the gate's links. Pure. */
export function gateVerdict(s: MeshStatus, elapsedMs: number): GateResult {
  return {
    ready: s.ready || (s.matrix.length === 0 && s.clusters.every((c) => !c.error)),
    elapsedMs,
    links: s.matrix.length,
    notReady: s.matrix.filter((m) => m.ready < m.total || m.total === 0),
    unreadable: s.clusters.filter((c) => c.error).map((c) => c.name),
  };
}

/**
 * The object that clears a leaving cluster: its live HelmChartConfig (written by meshform) with
 * `clustermesh.config.clusters` emptied, as server-side apply sends it. `undefined` when there is
 * nothing to clear (no HelmChartConfig, or it lists no peer).
 */
export function clearedHelmChartConfig(live: KubeObject | undefined): KubeObject | undefined {
  if (!live) return undefined;
  const values = str(field(live, 'spec', 'valuesContent'));
  if (values === undefined) return undefined;
  const cleared = clearMeshValues(values);
  if (cleared === undefined) return undefined;
  const spec = { ...((live as { spec?: Record<string, unknown> }).spec ?? {}), valuesContent: cleared };
  return {
    apiVersion: live.apiVersion,
    kind: live.kind,
    metadata: { name: live.metadata.name, ...(live.metadata.namespace ? { namespace: live.metadata.namespace } : {}) },
    spec,
  } as KubeObject;
}

/** The waves part of `apply -o json`. */
export function wavesReport(r: WavesResult): { waves: unknown[]; stopped?: WavesResult['stopped']; untouched: string[] } {
  return {
    waves: r.waves.map((w) => ({ index: w.wave.index, kind: w.wave.kind, clusters: w.wave.clusters, failed: w.apply.failed, ...(w.gate ? { gate: w.gate } : {}) })),
    ...(r.stopped ? { stopped: r.stopped } : {}),
    untouched: r.untouched,
  };
}
