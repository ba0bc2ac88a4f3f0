/**
 * Which rendered files go to which cluster, and how: the bridge from `render`'s output to `apply`
 * and `diff`, so that what is applied is exactly what was written for review.
 */
import { join } from 'node:path';
import type { KubeObject } from '../kube/client.js';
import type { RenderedFile } from '../render/types.js';
import { paths } from '../render/render.js';
import { objectsFromYaml } from './diff.js';

export interface ClusterFiles {
  /** Manifests to apply before the HelmChartConfig or helm upgrade: Secrets (values Secret, pre-created certificates). */
  secrets: RenderedFile[];
  /** The HelmChartConfig (with valuesSecrets, or with inline keys under secrets/). */
  helmChartConfig?: RenderedFile;
  /** Method helm: `-f` files in order. */
  valuesFiles: string[];
}

export function clusterFiles(cluster: string, files: readonly RenderedFile[], outDir: string): ClusterFiles {
  const inline = paths.rke2ConfigInline(cluster);
  const secrets = files.filter(
    (f) => f.path.startsWith(`secrets/${cluster}/`) && f.path.endsWith('.yaml') && !f.path.includes('/certs/') && f.path !== inline,
  );
  const helmChartConfig = files.find((f) => f.path === paths.rke2Config(cluster) || f.path === inline);
  const valuesFiles = [paths.values(cluster), paths.secretValues(cluster)]
    .filter((p) => files.some((f) => f.path === p))
    .map((p) => join(outDir, ...p.split('/')));
  return { secrets, helmChartConfig, valuesFiles };
}

/** Objects for the default method: Secrets first, then the HelmChartConfig. */
export function helmChartConfigObjects(cf: ClusterFiles): KubeObject[] {
  const objs = cf.secrets.flatMap((f) => objectsFromYaml(f.content, f.path));
  if (cf.helmChartConfig) objs.push(...objectsFromYaml(cf.helmChartConfig.content, cf.helmChartConfig.path));
  return objs;
}

/**
 * Objects for method helm: only the pre-created certificate Secrets (Cilium ≥ 1.16 local cert,
 * all four from 1.19); the values go in through `helm upgrade -f`.
 */
export function helmExtraObjects(cf: ClusterFiles): KubeObject[] {
  return cf.secrets.filter((f) => /clustermesh-apiserver-[a-z]+-cert\.yaml$/.test(f.path)).flatMap((f) => objectsFromYaml(f.content, f.path));
}
