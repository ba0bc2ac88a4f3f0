/**
 * From a checked spec to what the live stages take: the render for the live clusters (earlier
 * certificates reused), what apply/diff send to each cluster, the preflight of each cluster, and
 * the targets of status and doctor.
 */
import type { Finding } from '../errors.js';
import type { ApplyMethod, ApplyTarget } from '../apply/types.js';
import { clusterArtefacts, helmChartConfigObjects, helmExtraObjects, helmValues } from '../apply/from-render.js';
import type { ConnectedCluster } from '../kube/connect.js';
import type { Facts } from '../kube/facts.js';
import { renderFromSpec } from '../pipeline.js';
import { readCertStore } from '../pki/store.js';
import type { MeshPlan } from '../plan/types.js';
import type { Prepared } from '../prepare.js';
import { ALL_TARGETS, type Artefact } from '../render/types.js';
import type { MeshSpec } from '../spec/types.js';
import type { LiveCheck } from './check.js';
import { findingsFor } from './scope.js';
import { OutputFolder } from '../write/atomic.js';

/** Renders every target for the live clusters, reusing the certificates of the render in `outDir`. */
export async function renderForLive(prepared: Prepared, facts: Facts, outDir: string, now: Date): Promise<{ plan: MeshPlan; files: Artefact[] }> {
  const { spec, ca } = prepared;
  const existing = await readCertStore(outDir, spec.clusters.map((c) => c.name));
  return renderFromSpec(spec, { ca, facts, existing, now, targets: [...ALL_TARGETS] });
}

/** What apply (and diff, with method helmchartconfig) sends to each connected cluster, picked from the render. */
export function applyTargets(spec: MeshSpec, connected: readonly ConnectedCluster[], rendered: { plan: MeshPlan; files: Artefact[] }, method: ApplyMethod, chart = ''): ApplyTarget[] {
  return connected.map((c) => {
    const ca = clusterArtefacts(c.name, rendered.files);
    if (method === 'helm') {
      const cs = spec.clusters[c.index];
      return {
        name: c.name,
        client: c.client,
        objects: helmExtraObjects(ca),
        helm: { values: helmValues(ca), chart, version: rendered.plan.byName.get(c.name)?.chartVersion ?? '', connection: { kubeconfig: cs?.kubeconfig, context: cs?.context } },
      };
    }
    return { name: c.name, client: c.client, objects: helmChartConfigObjects(ca) };
  });
}

/**
 * The preflight of each cluster for apply: a cluster that could not be read fails with why; else
 * the live findings that concern it (by their scope).
 */
export function preflightOf(check: LiveCheck, spec: MeshSpec): (cluster: string) => Finding[] {
  return (cluster) => {
    const failed = check.failed.get(cluster);
    if (failed) throw failed;
    return findingsFor(cluster, check.findings, spec);
  };
}

/** Status and doctor targets: each connected cluster with the peers the spec gives it. */
export function meshTargets(spec: MeshSpec, connected: readonly ConnectedCluster[]): { name: string; client: ConnectedCluster['client']; index: number; peers: string[] }[] {
  return connected.map((c) => ({ name: c.name, client: c.client, index: c.index, peers: spec.clusters[c.index]?.peers ?? [] }));
}

/**
 * Renders for the live clusters and commits the files to `outDir` (unless `readOnly`): the one
 * way apply and ca rotate write their output folder (write/atomic.ts: locked, all or nothing).
 */
export async function renderAndCommit(prepared: Prepared, facts: Facts, outDir: string, now: Date, folderOpts: { takeOver: boolean; readOnly?: boolean; display?: string }): Promise<{ plan: MeshPlan; files: Artefact[] }> {
  const folder = OutputFolder.open(outDir, { mesh: prepared.spec.name, takeOver: folderOpts.takeOver, readOnly: folderOpts.readOnly ?? false, ...(folderOpts.display !== undefined ? { display: folderOpts.display } : {}) });
  try {
    const rendered = await renderForLive(prepared, facts, outDir, now);
    if (!folderOpts.readOnly) folder.commit(rendered.files);
    return rendered;
  } finally {
    folder.close();
  }
}
