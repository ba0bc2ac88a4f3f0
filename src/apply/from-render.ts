/**
 * Which rendered artefacts go to which cluster, and how: the bridge from `render`'s output to
 * `apply` and `diff`, so that what is applied is exactly what was rendered for review. Artefacts
 * are picked by role and cluster, and their objects and contents are used as they are: nothing is
 * found again by path or read back from disk.
 */
import type { KubeObject } from '../kube/client.js';
import type { Artefact } from '../render/types.js';
import type { ClusterArtefacts } from '../render/artefacts.js';
import { objectsFromYaml } from './diff.js';
import type { HelmValues } from './apply.js';

export { clusterArtefacts, type ClusterArtefacts } from '../render/artefacts.js';

const objectsOf = (f: Artefact): KubeObject[] => f.objects ?? objectsFromYaml(f.content, f.path);

/** Objects for the default method: Secrets first, then the HelmChartConfig. */
export function helmChartConfigObjects(ca: ClusterArtefacts): KubeObject[] {
  const objs = ca.secrets.flatMap(objectsOf);
  if (ca.helmChartConfig) objs.push(...objectsOf(ca.helmChartConfig));
  return objs;
}

/**
 * Objects for method helm: only the pre-created certificate Secrets (Cilium ≥ 1.16 local cert,
 * all four from 1.19); the values go in through `helm upgrade -f`.
 */
export function helmExtraObjects(ca: ClusterArtefacts): KubeObject[] {
  return ca.secrets.filter((f) => f.role === 'certSecret').flatMap(objectsOf);
}

/** Method helm: the values layers as content, in `-f` order (secret ones marked, for redaction and 0600 temp files). */
export function helmValues(ca: ClusterArtefacts): HelmValues[] {
  return ca.values.map((f) => ({ name: f.path, content: f.content, secret: f.secret }));
}
