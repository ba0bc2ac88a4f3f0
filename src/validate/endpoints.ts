/** Endpoint rules (DESIGN.md §5): NodePort range and distinctness, IP counts, LoadBalancer address. */
import { isWorker } from '../kube/facts.js';
import { featuresOf, parseCiliumVersion } from '../util/version.js';
import { at, cpath, type Rule } from './context.js';

export const checkEndpoints: Rule = (spec, ctx, out) => {
  const { min, max } = spec.nodePortRange;
  const byPort = new Map<number, number[]>();
  for (const c of spec.clusters) {
    const ep = c.endpoint;
    if (ep.type === 'NodePort') {
      const p = at.dialled(c, 'endpoint', 'nodePort');
      if (ep.nodePort < min || ep.nodePort > max) {
        out.add('NODEPORT_OUT_OF_RANGE', p, String(ep.nodePort), `NodePort ${ep.nodePort} of ${c.name} is outside the NodePort range ${min}-${max}`, `pick a port in ${min}-${max}, or set nodePortRange to the clusters' --service-node-port-range`);
      }
      const list = byPort.get(ep.nodePort) ?? [];
      list.push(c.index);
      byPort.set(ep.nodePort, list);
      if (ep.ips.length === 0) {
        const workers = (ctx.facts?.clusters[c.name]?.nodes ?? []).filter(isWorker).flatMap((n) => n.internalIPs.slice(0, 1));
        const fix = workers.length > 0 ? `list worker IPs of ${c.name}, e.g. ips: [${workers.slice(0, 3).join(', ')}] (from the facts)` : `list worker node IPs of ${c.name} in ${cpath(c, 'endpoint', 'ips')}, or run discover to take them from the cluster`;
        out.add('ENDPOINT_NO_IPS', at.dialled(c, 'endpoint', 'ips'), '[]', `NodePort endpoint of ${c.name} lists no node IPs: peers would have nothing to dial`, fix);
      } else if (ep.ips.length === 1) {
        out.add('ENDPOINT_SINGLE_IP', at.dialled(c, 'endpoint', 'ips'), ep.ips[0], `endpoint of ${c.name} lists a single IP: losing that node cuts ${c.name} off from its peers`, `list at least two worker node IPs of ${c.name}`);
      }
    } else if (ep.loadBalancerIP === undefined && ep.address === undefined) {
      out.add('LB_NO_ADDRESS', at.dialled(c, 'endpoint'), undefined, `LoadBalancer endpoint of ${c.name} has neither loadBalancerIP nor address: peers would not know where to dial`, `set ${cpath(c, 'endpoint', 'loadBalancerIP')} (the Service's IP) or ${cpath(c, 'endpoint', 'address')} (a DNS name in front of it)`);
    }
    const h = c.hubbleUiNodePort;
    if (h !== undefined) {
      const hp = at.cluster(c, 'hubble', 'ui', 'nodePort');
      if (h < min || h > max) {
        out.add('HUBBLE_NODEPORT_OUT_OF_RANGE', hp, String(h), `Hubble UI NodePort ${h} of ${c.name} is outside the NodePort range ${min}-${max}`, `pick a port in ${min}-${max}`);
      }
      if (ep.type === 'NodePort' && ep.nodePort === h) {
        out.add('HUBBLE_NODEPORT_CONFLICT', hp, String(h), `Hubble UI NodePort ${h} of ${c.name} is also its clustermesh NodePort`, 'give the Hubble UI another port');
      }
    }
  }

  // Up to 1.18 with kube-proxy replacement, an agent's connection to a peer's NodePort is caught
  // by its own cluster's NodePort service of the same number and lands on itself.
  for (const [port, idxs] of byPort) {
    if (idxs.length < 2) continue;
    const affected = idxs.filter((i) => {
      const v = parseCiliumVersion(spec.clusters[i]!.ciliumVersion);
      return v ? featuresOf(v).distinctNodePorts : true;
    });
    if (affected.length === 0) continue;
    const first = spec.clusters[idxs[0]!]!;
    const old = spec.clusters[affected[0]!]!;
    for (const i of idxs.slice(1)) {
      const c = spec.clusters[i]!;
      out.add(
        'NODEPORT_DUPLICATE',
        at.dialled(c, 'endpoint', 'nodePort'),
        String(port),
        `${c.name} and ${first.name} (${cpath(first, 'endpoint', 'nodePort')}) both use NodePort ${port}; with Cilium ${old.ciliumVersion} (≤ 1.18) kube-proxy replacement sends an agent's connection to that port back into its own cluster, so the peers never meet`,
        `give ${c.name} its own NodePort in ${min}-${max}`,
      );
    }
  }
};
