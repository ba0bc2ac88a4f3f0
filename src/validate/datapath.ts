/** Datapath consistency from the clusters' values (DESIGN.md §5): routing mode, tunnel protocol, native routing CIDR. */
import type { MeshSpec } from '../spec/types.js';
import { contains, parseCidr, type Cidr } from '../util/cidr.js';
import { at, cpath, valuesOf, type Rule, type Sink, type ValidateContext } from './context.js';
import type { ParsedNet } from './network.js';

export interface Datapath {
  mode: 'tunnel' | 'native';
  protocol: 'vxlan' | 'geneve';
  /** Which keys decided, for messages. */
  source: string;
  ipv4NativeRoutingCIDR?: string;
  ipv6NativeRoutingCIDR?: string;
}

/**
 * The datapath a values map selects: `routingMode`/`tunnelProtocol` (1.14+), or the legacy
 * `tunnel: disabled|vxlan|geneve`; the chart defaults are tunnel/vxlan.
 */
export function datapathOf(values: Record<string, unknown>): Datapath {
  const rm = values.routingMode;
  const legacy = values.tunnel;
  const tp = values.tunnelProtocol;
  let mode: Datapath['mode'] = 'tunnel';
  let protocol: Datapath['protocol'] = 'vxlan';
  const src: string[] = [];
  if (rm === 'native' || rm === 'tunnel') {
    mode = rm;
    src.push(`routingMode: ${rm}`);
  } else if (legacy === 'disabled') {
    mode = 'native';
    src.push('tunnel: disabled');
  } else if (legacy === 'vxlan' || legacy === 'geneve') {
    protocol = legacy;
    src.push(`tunnel: ${legacy}`);
  }
  if (tp === 'vxlan' || tp === 'geneve') {
    protocol = tp;
    src.push(`tunnelProtocol: ${tp}`);
  }
  const d: Datapath = { mode, protocol, source: src.length > 0 ? src.join(', ') : 'chart defaults' };
  if (typeof values.ipv4NativeRoutingCIDR === 'string') d.ipv4NativeRoutingCIDR = values.ipv4NativeRoutingCIDR;
  if (typeof values.ipv6NativeRoutingCIDR === 'string') d.ipv6NativeRoutingCIDR = values.ipv6NativeRoutingCIDR;
  return d;
}

export const checkDatapath: Rule = (spec, ctx, out) => {
  let ref: { name: string; dp: Datapath } | undefined;
  let refTunnel: { name: string; dp: Datapath } | undefined;
  for (const c of spec.clusters) {
    const v = valuesOf(c, ctx);
    if (!v) continue; // unknown datapath: nothing to compare
    const dp = datapathOf(v.data);
    if (!ref) ref = { name: c.name, dp };
    else if (dp.mode !== ref.dp.mode) {
      out.add('ROUTING_MODE_MISMATCH', at.cluster(c, 'values'), dp.mode, `${c.name} routes ${dp.mode} (${dp.source}) but ${ref.name} routes ${ref.dp.mode} (${ref.dp.source})`, `use one routing mode on every cluster: set routingMode: ${ref.dp.mode} in ${c.name}'s values, or change ${ref.name}`);
    }
    if (dp.mode === 'tunnel') {
      if (!refTunnel) refTunnel = { name: c.name, dp };
      else if (dp.protocol !== refTunnel.dp.protocol) {
        out.add('TUNNEL_PROTOCOL_MISMATCH', at.cluster(c, 'values'), dp.protocol, `${c.name} tunnels with ${dp.protocol} (${dp.source}) but ${refTunnel.name} with ${refTunnel.dp.protocol} (${refTunnel.dp.source})`, `set tunnelProtocol: ${refTunnel.dp.protocol} in ${c.name}'s values, or change ${refTunnel.name}`);
      }
    }
  }
};

export function checkNativeRouting(spec: MeshSpec, ctx: ValidateContext, out: Sink, net: ParsedNet): void {
  const allPods: { cidr: Cidr; cluster: string }[] = [];
  for (const c of spec.clusters) for (const p of net.pod[c.index]!) allPods.push({ cidr: p, cluster: c.name });
  for (const c of spec.clusters) {
    const v = valuesOf(c, ctx);
    if (!v) continue;
    const dp = datapathOf(v.data);
    if (dp.mode !== 'native') continue;
    for (const fam of [4, 6] as const) {
      const key = fam === 4 ? 'ipv4NativeRoutingCIDR' : 'ipv6NativeRoutingCIDR';
      const famPods = allPods.filter((p) => p.cidr.family === fam);
      if (famPods.length === 0) continue;
      const text = dp[key];
      if (text === undefined) {
        out.add('NATIVE_ROUTING_CIDR_MISSING', at.cluster(c, 'values'), undefined, `${c.name} routes natively but its values set no ${key}`, `set ${key} in ${c.name}'s values to a block covering every pod CIDR of the mesh`);
        continue;
      }
      const r = parseCidr(text);
      const uncovered = r.ok ? famPods.filter((p) => !contains(r.cidr, p.cidr)) : famPods;
      if (uncovered.length > 0) {
        const list = uncovered.slice(0, 3).map((p) => `${p.cidr.text} (${p.cluster})`).join(', ');
        const more = uncovered.length > 3 ? ` and ${uncovered.length - 3} more` : '';
        out.add('NATIVE_ROUTING_CIDR_NOT_COVERING', at.cluster(c, 'values'), text, `${key} ${text} of ${c.name} does not cover pod CIDR(s) ${list}${more}; traffic to them would be masqueraded or dropped`, `set ${key} in ${c.name}'s values to a block covering every pod CIDR of the mesh`);
      }
    }
  }
}
