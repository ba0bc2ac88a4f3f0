import type { MeshStatus } from './status.js';

function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n');
}

/**
 * The mesh matrix (rows: clusters, columns: peers; cells: agents on which the peer is ready /
 * agents), then one line per problem; with `detail`, one row per agent and peer.
 */
export function formatStatusTable(s: MeshStatus, opts: { detail?: boolean } = {}): string {
  const names = s.clusters.map((c) => c.name);
  const peers = [...new Set([...names, ...s.clusters.flatMap((c) => c.peers)])];
  const rows: string[][] = [['CLUSTER', ...peers]];
  for (const c of s.clusters) {
    rows.push([c.name, ...peers.map((p) => {
      if (p === c.name) return '-';
      if (c.error) return 'error';
      const cell = s.matrix.find((m) => m.cluster === c.name && m.peer === p);
      return cell ? `${cell.ready}/${cell.total}` : '';
    })]);
  }
  const out = [table(rows), '', s.ready ? 'mesh ready: every peer ready on every node' : 'mesh NOT ready'];
  const problems: string[] = [];
  for (const c of s.clusters) {
    if (c.error) problems.push(`${c.name}: ${c.error.replace(`cluster ${c.name}: `, '')}`);
    else if (c.nodes.length === 0) problems.push(`${c.name}: no Cilium agent pods found`);
    for (const n of c.nodes) {
      if (n.error) problems.push(`${c.name}/${n.node || n.pod}: ${n.error}`);
      else for (const p of n.peers) if (!p.ready) problems.push(`${c.name}/${n.node || n.pod} → ${p.peer}: ${p.reasons.join('; ')}`);
      if (n.unexpectedPeers.length) problems.push(`${c.name}/${n.node || n.pod}: connects to peers not in the spec: ${n.unexpectedPeers.join(', ')}`);
    }
    for (const k of c.kvstoremesh ?? []) {
      if (k.error) problems.push(`${c.name}/${k.pod} (kvstoremesh): ${k.error}`);
      for (const p of k.peers) if (!p.ready) problems.push(`${c.name}/${k.pod} (kvstoremesh) → ${p.peer}: ${p.reasons.join('; ')}`);
    }
  }
  // Identical problems on many nodes are folded to one line with a count.
  const counted = new Map<string, number>();
  for (const p of problems) counted.set(p, (counted.get(p) ?? 0) + 1);
  if (counted.size) out.push('', 'problems:', ...[...counted].map(([p, n]) => `  ${p}${n > 1 ? ` (×${n})` : ''}`));
  if (opts.detail) {
    const d: string[][] = [['CLUSTER', 'NODE', 'POD', 'PEER', 'READY', 'FAILURES', 'STATUS', 'HEALTH']];
    for (const c of s.clusters) {
      for (const n of c.nodes) {
        const health = n.health ? `${n.health.reachable}/${n.health.total}` : '';
        if (n.peers.length === 0) d.push([c.name, n.node, n.pod, '', '', '', n.error ?? '', health]);
        for (const p of n.peers) d.push([c.name, n.node, n.pod, p.peer, p.ready ? 'yes' : 'no', String(p.numFailures), p.ready ? (p.status ?? '') : p.reasons.join('; '), health]);
      }
    }
    out.push('', table(d));
  }
  return out.join('\n') + '\n';
}

/** Stable JSON (2-space indent) for `-o json`. */
export function formatStatusJson(s: MeshStatus): string {
  return JSON.stringify(s, null, 2) + '\n';
}
