/** Peering rules (DESIGN.md §5 auth). */
import { at, cpath, type Rule } from './context.js';

export const checkPeers: Rule = (spec, _ctx, out) => {
  const byName = new Map<string, number>();
  for (const c of spec.clusters) if (!byName.has(c.name)) byName.set(c.name, c.index);
  const sets = spec.clusters.map((c) => new Set(c.peers));
  for (const c of spec.clusters) {
    if (!c.peersExplicit) continue;
    const seen = new Set<string>();
    c.peers.forEach((p, k) => {
      const path = at.cluster(c, 'peers', `[${k}]`);
      if (seen.has(p)) out.add('PEER_DUPLICATE', path, p, `${c.name} lists peer ${p} twice`, 'list each peer once');
      seen.add(p);
      if (p === c.name) out.add('PEER_SELF', path, p, `${c.name} lists itself as a peer`, `remove ${p} from ${cpath(c, 'peers')}`);
      else if (!byName.has(p)) out.add('PEER_UNKNOWN', path, p, `${c.name} lists peer ${JSON.stringify(p)}, which is not a cluster of this mesh`, `correct the name or remove it from ${cpath(c, 'peers')}`);
    });
  }
  if (spec.authMode !== 'cluster') return;
  for (const a of spec.clusters) {
    for (const bName of sets[a.index]!) {
      const bi = byName.get(bName);
      if (bi === undefined || bi === a.index) continue;
      const b = spec.clusters[bi]!;
      if (!a.peersExplicit && !b.peersExplicit) continue; // both full mesh
      if (sets[bi]!.has(a.name)) continue;
      out.add(
        'PEER_NOT_SYMMETRIC',
        at.cluster(b, 'peers'),
        a.name,
        `${a.name} peers with ${b.name}, but ${b.name} does not list ${a.name}: with authMode cluster, ${b.name} only admits remote-<peer> users of its own peers, so ${a.name} gets "etcdserver: permission denied"`,
        `add ${a.name} to ${cpath(b, 'peers')}, or remove ${b.name} from ${cpath(a, 'peers')}`,
      );
    }
  }
};
