/** Names, IDs and maxConnectedClusters (DESIGN.md §5). */
import { at, cpath, isMap, valuesOf, type Rule } from './context.js';

const NAME_RE = /^([a-z0-9][-a-z0-9]*)?[a-z0-9]$/;
const NAME_MAX = 32;

export const checkNames: Rule = (spec, _ctx, out) => {
  const first = new Map<string, number>();
  for (const c of spec.clusters) {
    // Peers dial a cluster by its name and ID: a bad one stops the clusters that dial it too.
    const p = at.dialled(c, 'name');
    const v = JSON.stringify(c.name);
    if (c.name.length > NAME_MAX) {
      out.add('NAME_TOO_LONG', p, v, `cluster name ${v} has ${c.name.length} characters; at most ${NAME_MAX} are allowed`, `shorten the name to ${NAME_MAX} characters or fewer`);
    }
    if (!NAME_RE.test(c.name)) {
      out.add('NAME_INVALID', p, v, `cluster name ${v} must consist of lower case alphanumeric characters and "-", and start and end with an alphanumeric character`, 'rename the cluster, e.g. "mesh01"');
    }
    if (c.name === 'default') {
      out.add('NAME_RESERVED', p, v, 'cluster name "default" is reserved for clusters outside a mesh', 'give the cluster its own name');
    }
    const prev = first.get(c.name);
    if (prev === undefined) first.set(c.name, c.index);
    else {
      out.add('NAME_DUPLICATE', p, v, `cluster name ${v} is already used by ${cpath(prev)}`, 'give every cluster a unique name');
    }
  }
};

export const checkIds: Rule = (spec, _ctx, out) => {
  const max = spec.maxConnectedClusters === 511 ? 511 : 255;
  const first = new Map<number, number>();
  for (const c of spec.clusters) {
    const p = at.dialled(c, 'id');
    if (c.id === 0) {
      out.add('ID_RESERVED', p, '0', `cluster ${c.name}: cluster ID 0 is reserved`, `pick an unused ID in 1-${max}`);
    } else if (!Number.isInteger(c.id) || c.id < 1 || c.id > max) {
      const hint = max === 255 && Number.isInteger(c.id) && c.id > 255 && c.id <= 511 ? ', or set maxConnectedClusters: 511 on a new mesh' : '';
      out.add('ID_OUT_OF_RANGE', p, String(c.id), `cluster ${c.name}: cluster ID ${c.id} out of acceptable range (1-${max})`, `pick an unused ID in 1-${max}${hint}`);
    }
    const prev = first.get(c.id);
    if (prev === undefined) first.set(c.id, c.index);
    else {
      const other = spec.clusters[prev]!;
      out.add('ID_DUPLICATE', p, String(c.id), `cluster ID ${c.id} of ${c.name} is already used by ${other.name} (${cpath(prev, 'id')}); Cilium refuses it ("clusterID ${c.id} is already used")`, 'give every cluster a unique ID');
    }
  }
};

export const checkMaxConnected: Rule = (spec, ctx, out) => {
  const m = spec.maxConnectedClusters as number;
  if (m !== 255 && m !== 511) {
    out.add('MAX_CONNECTED_INVALID', 'maxConnectedClusters', String(m), `maxConnectedClusters ${m} is not supported; Cilium accepts 255 or 511`, 'set maxConnectedClusters to 255 (default) or 511');
    return;
  }
  if (spec.clusters.length > m) {
    out.add('TOO_MANY_CLUSTERS', 'clusters', String(spec.clusters.length), `${spec.clusters.length} clusters exceed maxConnectedClusters ${m}`, m === 255 ? 'split the mesh, or build it with maxConnectedClusters: 511 (set before install)' : 'split the mesh');
  }
  for (const c of spec.clusters) {
    const vals = valuesOf(c, ctx);
    const cm = vals && isMap(vals.data.clustermesh) ? vals.data.clustermesh.maxConnectedClusters : undefined;
    if (cm !== undefined && Number(cm) !== m) {
      out.add(
        'MAX_CONNECTED_VALUES_MISMATCH',
        at.cluster(c, 'values'),
        String(cm),
        `${vals!.where} sets clustermesh.maxConnectedClusters ${String(cm)} but the mesh uses ${m}; it cannot change on a running cluster`,
        `set maxConnectedClusters: ${String(cm)} in the spec for every cluster, or rebuild ${c.name}`,
      );
    }
    const fm = ctx.facts?.clusters[c.name]?.maxConnectedClusters;
    if (fm !== undefined && fm !== m) {
      out.add(
        'MAX_CONNECTED_FACTS_MISMATCH',
        'maxConnectedClusters',
        String(m),
        `cluster ${c.name} runs with max-connected-clusters ${fm} but the spec says ${m}; it cannot change on a running cluster`,
        `set maxConnectedClusters: ${fm}, or reinstall ${c.name}`,
      );
    }
  }
};
