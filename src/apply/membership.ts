/**
 * Membership of a running mesh: who joins, who stays, who leaves, the waves `apply` rolls out in,
 * and the peer links each wave's gate waits for. Pure: the inputs are the spec, the live peers
 * each reachable cluster's release lists (discover's `peers` fact) and the clusters of the
 * previous render (plan.json in the output folder); the CLI and the executor (waves.ts) do the I/O.
 *
 * Why this order. Cilium's chart derives a cluster's remote users (ConfigMap
 * clustermesh-remote-users, `remote-<name>` per entry) and the peers its agents dial (Secret
 * cilium-clustermesh) from the one list `clustermesh.config.clusters`
 * (install/kubernetes/cilium/templates/clustermesh-apiserver/users-configmap.yaml, 1.15–1.20): a
 * cluster admits exactly the peers it dials. So:
 * - a joining cluster goes first: its clustermesh-apiserver comes up with users for every existing
 *   peer and its certificates from the shared CA; its own links stay unready (the others do not
 *   admit it yet) but no existing link changes. Then the existing clusters add it, admitting and
 *   dialling it in one step, and it is already serving: each new link is ready at once.
 * - a leaving cluster (with `--prune`) is cleared first: it stops dialling and admitting everyone.
 *   Then the others drop it. No link between two staying clusters is touched at any point.
 * Between waves the gate waits until every link that both ends currently configure is ready.
 */
import { parseDocument, isMap, isSeq } from 'yaml';

/** A spec cluster as membership sees it. */
export interface MemberSpec {
  name: string;
  /** The peers the spec gives it (full mesh unless narrowed). */
  peers: readonly string[];
}

export interface MembershipInput {
  clusters: readonly MemberSpec[];
  /**
   * Per spec cluster that could be read: the peers its deployed values list (`[]` or absent: not
   * meshed). Clusters that could not be read are absent.
   */
  livePeers: ReadonlyMap<string, readonly string[] | undefined>;
  /** Cluster names of the previous render (plan.json in the output folder), if there is one. */
  recorded?: readonly string[];
}

/** A cluster that was in the mesh and is not in the spec any more. */
export interface LeavingMember {
  name: string;
  /** Spec clusters whose live values still list it. */
  listedBy: string[];
  /** Whether the previous render (plan.json) had it. */
  recorded: boolean;
}

export interface Membership {
  /** No two spec clusters are meshed with each other yet: the mesh is formed from scratch, all at once. */
  fresh: boolean;
  /** In the spec, meshed with none of the others yet, while others are meshed. */
  joining: string[];
  /** In the spec and already part of the mesh (or not readable: assumed to stay). */
  staying: string[];
  leaving: LeavingMember[];
}

/** Who joins, stays and leaves. */
export function membershipOf(input: MembershipInput): Membership {
  const names = new Set(input.clusters.map((c) => c.name));
  const live = (n: string) => input.livePeers.get(n) ?? [];
  // Fresh: no two spec clusters are meshed with each other yet (a cluster whose only peers leave counts as unmeshed).
  const fresh = input.clusters.every((c) => !live(c.name).some((p) => names.has(p) && p !== c.name));
  const joining: string[] = [];
  const staying: string[] = [];
  for (const c of input.clusters) {
    const readable = input.livePeers.has(c.name);
    const listsSpecPeer = live(c.name).some((p) => names.has(p) && p !== c.name);
    const listedBySpecPeer = input.clusters.some((o) => o.name !== c.name && live(o.name).includes(c.name));
    if (!fresh && readable && !listsSpecPeer && !listedBySpecPeer) joining.push(c.name);
    else staying.push(c.name);
  }
  const leavingNames = new Set<string>();
  for (const c of input.clusters) for (const p of live(c.name)) if (!names.has(p)) leavingNames.add(p);
  for (const r of input.recorded ?? []) if (!names.has(r)) leavingNames.add(r);
  const recorded = new Set(input.recorded ?? []);
  const leaving = [...leavingNames].sort().map((name) => ({
    name,
    listedBy: input.clusters.filter((c) => live(c.name).includes(name)).map((c) => c.name),
    recorded: recorded.has(name),
  }));
  return { fresh, joining, staying, leaving };
}

/** One wave of a rollout: clusters applied in parallel, then the gate. */
export interface Wave {
  /** 1-based. */
  index: number;
  kind: 'leave' | 'join' | 'rollout';
  clusters: string[];
}

export interface WaveOptions {
  /** Explicit groups of spec clusters (`--waves a,b;c`); clusters not named form a last wave. */
  waves?: readonly (readonly string[])[];
  /** At most this many clusters per rollout wave (`--wave-size`). */
  waveSize?: number;
  /** Leaving clusters to clear first (`--prune`, the reachable ones). */
  prune?: readonly string[];
}

/** Why explicit waves cannot be used: one message per problem (empty when they can). */
export function wavesProblems(clusters: readonly string[], waves: readonly (readonly string[])[]): string[] {
  const known = new Set(clusters);
  const seen = new Set<string>();
  const out: string[] = [];
  waves.forEach((w, i) => {
    if (w.length === 0) out.push(`wave ${i + 1} is empty`);
    for (const n of w) {
      if (!known.has(n)) out.push(`wave ${i + 1} names ${n}, which is not a cluster of the spec`);
      else if (seen.has(n)) out.push(`${n} is named in more than one wave`);
      seen.add(n);
    }
  });
  return out;
}

/**
 * The waves, in order: leaving clusters to clear (`prune`), then joining clusters, then the rest —
 * in the user's groups, or `waveSize` at a time, or all at once. Assumes `wavesProblems` found
 * nothing. A fresh mesh has no join wave: every cluster is formed together.
 */
export function planWaves(order: readonly string[], m: Membership, opts: WaveOptions = {}): Wave[] {
  const groups: { kind: Wave['kind']; clusters: string[] }[] = [];
  if (opts.prune?.length) groups.push({ kind: 'leave', clusters: [...opts.prune] });
  const joining = m.fresh ? [] : order.filter((n) => m.joining.includes(n));
  if (joining.length) groups.push({ kind: 'join', clusters: joining });
  const rest = order.filter((n) => !joining.includes(n));
  if (opts.waves?.length) {
    const named = new Set<string>();
    for (const w of opts.waves) {
      const g = w.filter((n) => rest.includes(n));
      g.forEach((n) => named.add(n));
      if (g.length) groups.push({ kind: 'rollout', clusters: g });
    }
    const left = rest.filter((n) => !named.has(n));
    if (left.length) groups.push({ kind: 'rollout', clusters: left });
  } else if (opts.waveSize && opts.waveSize > 0) {
    for (let i = 0; i < rest.length; i += opts.waveSize) groups.push({ kind: 'rollout', clusters: rest.slice(i, i + opts.waveSize) });
  } else if (rest.length) {
    groups.push({ kind: 'rollout', clusters: rest });
  }
  return groups.map((g, i) => ({ index: i + 1, ...g }));
}

/**
 * The links a gate waits for once the clusters in `settled` carry their new configuration: per
 * spec cluster X, the peers Y it currently configures (its spec peers once settled, else the ones
 * its live values list) that also currently configure X (the chart admits exactly the peers it
 * dials) and are in the spec. Leaving clusters are in no link. Every such link was ready before
 * the rollout or is new and must be ready now: none may be left unready.
 */
export function gateLinks(input: MembershipInput, settled: ReadonlySet<string>): Map<string, string[]> {
  const names = new Set(input.clusters.map((c) => c.name));
  const spec = new Map(input.clusters.map((c) => [c.name, c.peers]));
  const current = (n: string): readonly string[] => (settled.has(n) ? (spec.get(n) ?? []) : (input.livePeers.get(n) ?? [])).filter((p) => names.has(p) && p !== n);
  const out = new Map<string, string[]>();
  for (const c of input.clusters) {
    out.set(c.name, current(c.name).filter((p) => current(p).includes(c.name)));
  }
  return out;
}

/** One line describing a wave, for `apply --dry-run` and the progress view. */
export function describeWave(w: Wave): string {
  const what = w.kind === 'leave' ? 'clear the mesh configuration of' : w.kind === 'join' ? 'join' : 'apply';
  return `wave ${w.index} (${w.kind}): ${what} ${w.clusters.join(', ')}`;
}

/**
 * A leaving cluster's values with its mesh configuration cleared: `clustermesh.config.clusters`
 * emptied (list or 1.19 map form), so that it dials no peer and admits none (the chart derives both
 * from that list); everything else, comments included, as it was. `undefined` when the values list
 * no peer (nothing to clear).
 */
export function clearMeshValues(valuesContent: string): string | undefined {
  const doc = parseDocument(valuesContent);
  const clusters = doc.getIn(['clustermesh', 'config', 'clusters'], true);
  if (!(isSeq(clusters) || isMap(clusters)) || clusters.items.length === 0) return undefined;
  doc.setIn(['clustermesh', 'config', 'clusters'], doc.createNode(isMap(clusters) ? {} : []));
  return doc.toString({ lineWidth: 0 });
}
