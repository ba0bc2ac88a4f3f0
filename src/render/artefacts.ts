/** Picking render's artefacts by cluster and role: what apply and the CLI summary use instead of path strings. */
import type { Artefact } from './types.js';

export interface ClusterArtefacts {
  /** Manifests to apply before the HelmChartConfig or helm upgrade: the values Secret and pre-created certificate Secrets. */
  secrets: Artefact[];
  /** The HelmChartConfig (with valuesSecrets, or with inline keys under secrets/). */
  helmChartConfig?: Artefact;
  /** Method helm: the values and the secret values, in `-f` order. */
  values: Artefact[];
}

export function clusterArtefacts(cluster: string, files: readonly Artefact[]): ClusterArtefacts {
  const mine = files.filter((f) => f.cluster === cluster);
  return {
    secrets: mine.filter((f) => f.role === 'valuesSecret' || f.role === 'certSecret'),
    helmChartConfig: mine.find((f) => f.role === 'helmChartConfig' || f.role === 'helmChartConfigInline'),
    values: [...mine.filter((f) => f.role === 'values'), ...mine.filter((f) => f.role === 'secretValues')],
  };
}

