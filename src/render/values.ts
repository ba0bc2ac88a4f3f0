/**
 * The Helm values meshform owns (the "mesh keys") and how they are merged into the user's own
 * values file without losing its comments or key order.
 *
 * Speed matters here (511 clusters × 510 peers, several targets each), so the `yaml` Document is
 * used only where comments must survive: mesh keys under a top-level key the user's file already
 * has are merged node by node; every other mesh key is printed after the user's keys by the small
 * plain-data emitter (emit.ts). The peer list, the one part that grows with N², never becomes YAML
 * nodes: it is a placeholder scalar until the text is printed, then that line is replaced by the
 * list from PeerPrinter, which prints each peer once per indent and, in a full mesh, hands every
 * cluster two slices of one shared text.
 */
import { createHash } from 'node:crypto';
import { Document, isAlias, isCollection, isMap, isNode, isPair, isScalar, Pair, Scalar, visit, YAMLMap, YAMLSeq, type Alias, type Node } from 'yaml';
import { CA_BUNDLE_ANNOTATION } from '../defaults.js';
import { CERT_MANAGER_ISSUER, caInValues } from '../plan/plan.js';
import type { MeshPlan, PlannedCluster } from '../plan/types.js';
import type { IssuedCert } from '../pki/types.js';
import { emitFlow, emitYaml, indentLines, isPlainSafe, scalarString, type Plain } from './emit.js';

type PlainMap = { [key: string]: Plain };

/** Stands for the peer list in the document until the text is spliced. */
export const PEERS_TOKEN = 'meshform-peers-placeholder-9d41c7';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** Value paths that hold key material; stripped from the user's values, written only under secrets/. */
export const SECRET_PATHS: readonly (readonly string[])[] = [
  ['tls', 'ca', 'cert'],
  ['tls', 'ca', 'key'],
  ...['server', 'admin', 'remote', 'client'].flatMap((k) => [
    ['clustermesh', 'apiserver', 'tls', k, 'cert'],
    ['clustermesh', 'apiserver', 'tls', k, 'key'],
  ]),
];

/** The non-secret mesh keys for one cluster, with the peer list as PEERS_TOKEN. */
export function meshKeys(plan: MeshPlan, c: PlannedCluster): PlainMap {
  const f = c.features;
  const service: PlainMap =
    c.service.type === 'NodePort'
      ? { type: 'NodePort', nodePort: c.service.nodePort }
      : c.service.loadBalancerIP
        ? { type: 'LoadBalancer', loadBalancerIP: c.service.loadBalancerIP }
        : { type: 'LoadBalancer' };
  const tls: PlainMap = { authMode: plan.authMode };
  // Method keep: the cluster's own certificate settings (its values' tls.auto, its Secrets) stay
  // as they are; meshform adds only the trust (tls.caBundle below).
  if (plan.certMethod !== 'keep') {
    const auto: PlainMap =
      plan.certMethod === 'provided'
        ? { enabled: false }
        : plan.certMethod === 'certmanager'
          ? { enabled: true, method: 'certmanager', certManagerIssuerRef: { ...CERT_MANAGER_ISSUER } }
          : { enabled: true, method: plan.certMethod };
    // The chart issues for the spec's validity, which validate checked against the CA (1.20 changed
    // the chart's default from 1095 to 365 days).
    if (plan.certMethod !== 'provided') auto.certValidityDuration = plan.certValidityDays;
    tls.auto = auto;
    // With pre-created Secrets (1.19, or 1.16–1.17 with a CA bundle, see PlannedCluster.certsInValues)
    // the chart's tls-provided templates would render (and fail on) empty cert values; 1.20 removed
    // them and the switch.
    if (plan.certMethod === 'provided' && !c.certsInValues && f.enableSecretsKey) tls.enableSecrets = false;
    const sans: PlainMap = { extraDnsNames: [...c.serverExtra.dnsNames], extraIpAddresses: [...c.serverExtra.ipAddresses] };
    if (f.autoServerSans) auto.server = sans;
    else tls.server = sans;
  }
  const out: PlainMap = {
    cluster: { name: c.name, id: c.id },
    clustermesh: {
      useAPIServer: true,
      maxConnectedClusters: plan.maxConnectedClusters,
      config: { enabled: true, domain: plan.domain, clusters: PEERS_TOKEN },
      apiserver: {
        replicas: plan.apiserverReplicas,
        service,
        kvstoremesh: { enabled: c.kvstoremesh },
        tls,
      },
    },
  };
  // Certificates of the shared CA or of any CA in ca.trust are accepted (phase one of a CA rotation).
  if (plan.caBundle !== undefined) {
    out.tls = { caBundle: { enabled: true, content: plan.caBundle } };
    ((out.clustermesh as PlainMap).apiserver as PlainMap).podAnnotations = { [CA_BUNDLE_ANNOTATION]: createHash('sha256').update(plan.caBundle).digest('hex') };
  }
  if (c.hubbleUiNodePort !== undefined) {
    out.hubble = { ui: { service: { type: 'NodePort', nodePort: c.hubbleUiNodePort } } };
  }
  return out;
}

/** The secret values for one cluster (`tls.ca`, and certs in values up to 1.18), or undefined. */
export function secretKeys(plan: MeshPlan, c: PlannedCluster): PlainMap | undefined {
  const out: PlainMap = {};
  if (plan.ca && caInValues(plan)) out.tls = { ca: { cert: b64(plan.ca.certPem), key: b64(plan.ca.key.reveal()) } };
  if (plan.certMethod === 'provided' && c.certs && c.certsInValues) {
    const pair = (x: IssuedCert): PlainMap => ({ cert: b64(x.certPem), key: b64(x.key.reveal()) });
    out.clustermesh = {
      apiserver: { tls: { server: pair(c.certs.server), admin: pair(c.certs.admin), remote: pair(c.certs.remote) } },
    };
  }
  return Object.keys(out).length ? out : undefined;
}

/** One peer's `clustermesh.config.clusters` entry without its name (list form adds `name`). */
function peerEntry(peer: PlannedCluster): PlainMap {
  const body: PlainMap = {};
  if (peer.dial.address !== undefined) body.address = peer.dial.address;
  else body.ips = [...(peer.dial.ips ?? [])];
  body.port = peer.dial.port;
  return body;
}

/**
 * Prints peer lists. Each peer's entry is printed once per indent and form. In a full mesh in spec
 * order (the normal case) a cluster's list is the list of all clusters minus its own entry, so it
 * is taken as two slices of one shared text: no per-cluster copy of N entries at render time.
 */
export class PeerPrinter {
  readonly #plan: MeshPlan;
  /** `${form}${indent}` → entry text by cluster index. */
  readonly #entries = new Map<string, string[]>();
  /** `${form}${indent}` → all entries in cluster order, and where each one starts. */
  readonly #all = new Map<string, { text: string; offsets: number[] }>();
  /** Cluster name → position in plan.clusters. */
  readonly #pos: Map<string, number>;
  constructor(plan: MeshPlan) {
    this.#plan = plan;
    this.#pos = new Map(plan.clusters.map((c, i) => [c.name, i]));
  }

  #entriesFor(mapForm: boolean, indent: number): string[] {
    const slot = `${mapForm ? 'm' : 'l'}${indent}`;
    let list = this.#entries.get(slot);
    if (!list) {
      const pad = ' '.repeat(indent);
      // One line per peer: half the bytes of block style at 511 clusters, and a one-line diff per change.
      list = this.#plan.clusters.map((peer) => {
        const body = peerEntry(peer);
        return mapForm ? `${pad}${scalarString(peer.name)}: ${emitFlow(body)}\n` : `${pad}- ${emitFlow({ name: peer.name, ...body })}\n`;
      });
      this.#entries.set(slot, list);
    }
    return list;
  }

  #allFor(mapForm: boolean, indent: number): { text: string; offsets: number[] } {
    const slot = `${mapForm ? 'm' : 'l'}${indent}`;
    let all = this.#all.get(slot);
    if (!all) {
      const entries = this.#entriesFor(mapForm, indent);
      const offsets = [0];
      for (const e of entries) offsets.push(offsets[offsets.length - 1]! + e.length);
      all = { text: entries.join(''), offsets };
      this.#all.set(slot, all);
    }
    return all;
  }

  /** True when `c.peers` is every other cluster in spec order. */
  #fullMeshOrder(c: PlannedCluster, me: number): boolean {
    const all = this.#plan.clusters;
    if (c.peers.length !== all.length - 1) return false;
    for (let i = 0; i < c.peers.length; i++) {
      if (c.peers[i] !== all[i < me ? i : i + 1]!.name) return false;
    }
    return true;
  }

  /** The peer list of `c` as block YAML at `indent` (or `[]`/`{}` inline when there are none). */
  block(c: PlannedCluster, indent: number): { inline?: string; text?: string } {
    const mapForm = c.features.clustersMap;
    if (c.peers.length === 0) return { inline: mapForm ? '{}' : '[]' };
    const me = this.#pos.get(c.name);
    if (me === undefined) throw new Error(`cluster ${c.name} is not in the plan`);
    if (this.#fullMeshOrder(c, me)) {
      const { text, offsets } = this.#allFor(mapForm, indent);
      return { text: text.slice(0, offsets[me]) + text.slice(offsets[me + 1]) };
    }
    const entries = this.#entriesFor(mapForm, indent);
    const parts: string[] = new Array(c.peers.length);
    for (let i = 0; i < c.peers.length; i++) {
      const at = this.#pos.get(c.peers[i]!);
      if (at === undefined) throw new Error(`cluster ${c.name} lists unknown peer ${c.peers[i]}`);
      parts[i] = entries[at]!;
    }
    return { text: parts.join('') };
  }
}

function toNode(v: Plain): Node {
  if (Array.isArray(v)) {
    const seq = new YAMLSeq();
    for (const x of v) seq.items.push(toNode(x));
    return seq;
  }
  if (typeof v === 'object' && v !== null) {
    const map = new YAMLMap();
    for (const k of Object.keys(v)) map.items.push(pairOf(k, v[k]!));
    return map;
  }
  const s = new Scalar(v);
  // The yaml library prints YAML 1.2; Helm reads YAML 1.1, where e.g. `on` is a bool.
  if (typeof v === 'string' && !isPlainSafe(v)) s.type = Scalar.QUOTE_DOUBLE;
  return s;
}

function pairOf(k: string, v: Plain): Pair<Node, Node> {
  return new Pair(toNode(k), toNode(v));
}

/** Merges `data` into the map node `map`; existing keys keep their place, new keys are appended. */
function mergeMap(map: YAMLMap, data: PlainMap, aliases: Aliases): void {
  map.flow = false;
  for (const key of Object.keys(data)) {
    const v = data[key]!;
    const pair = map.items.find((p) => (isScalar(p.key) ? p.key.value === key : p.key === key));
    const isObj = typeof v === 'object' && v !== null && !Array.isArray(v);
    if (!pair) {
      map.items.push(pairOf(key, v));
      continue;
    }
    // The node meshform changes or replaces stops being shared first (see Aliases).
    const own = aliases.own(pair);
    if (isObj && isMap(own)) {
      // A flow map turns block; its trailing comment would land after the block, so keep it on the key.
      if (own.flow && own.comment && isScalar(pair.key) && !pair.key.comment) {
        pair.key.comment = own.comment;
        own.comment = undefined;
      }
      mergeMap(own, v, aliases);
    } else {
      const node = toNode(v);
      // Keep the user's line comment on a scalar meshform overwrote (e.g. `enabled: false # why`).
      if (isScalar(own) && isScalar(node) && v !== PEERS_TOKEN) {
        if (own.comment) node.comment = own.comment;
        if (own.commentBefore) node.commentBefore = own.commentBefore;
      }
      pair.value = node;
    }
  }
}

/** Which values variants to print for one cluster. */
export interface VariantRequest {
  /** The user's values as they are (with `global`) plus the mesh keys: `values/<c>.yaml`. */
  full?: boolean;
  /** Without the `global` block RKE2's helm-controller injects itself: HelmChartConfig, Rancher. */
  noGlobal?: boolean;
  /** Without `global`, with these secret keys merged in: an inline HelmChartConfig under secrets/. */
  inlineSecrets?: PlainMap;
}

/**
 * The cluster's values (its own file, comments and key order kept) with the mesh keys merged in,
 * split around the peer list so that it can be placed at any indent without re-indenting the
 * (large) peer list.
 */
export interface ValuesParts {
  cluster: PlannedCluster;
  /** Text before the `clusters:` line, at column 0. */
  head: string;
  /** The `clusters:` line up to and including the colon (with its own indent). */
  keyLine: string;
  indent: number;
  /** Text after the peer list, at column 0. */
  tail: string;
}

function isPlainMap(v: Plain | undefined): v is PlainMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge of plain data; `b` wins on conflicts, maps merge, keys of `a` keep their order. */
function mergePlain(a: Plain | undefined, b: Plain): Plain {
  if (!isPlainMap(a) || !isPlainMap(b)) return b;
  const out: PlainMap = { ...a };
  for (const k of Object.keys(b)) out[k] = mergePlain(out[k], b[k]!);
  return out;
}

function hasTopKey(root: YAMLMap, key: string): boolean {
  return root.items.some((p) => (isScalar(p.key) ? p.key.value === key : p.key === key));
}

/**
 * Merges `data` into the values: a top-level key the user's document already has is merged node
 * by node (so the user's comments and order stay); any other key joins `appended`, plain data
 * printed by the fast emitter after the user's keys. Either way new keys come after existing ones.
 */
function mergeSplit(root: YAMLMap, appended: PlainMap, data: PlainMap, aliases: Aliases): void {
  for (const key of Object.keys(data)) {
    const v = data[key]!;
    if (hasTopKey(root, key)) mergeMap(root, { [key]: v }, aliases);
    else appended[key] = mergePlain(appended[key], v);
  }
}

/**
 * Prints the requested variants of one cluster's values. The user's document is cloned once,
 * cleaned (key material removed, `hubble: # note` comments kept on their key; anchors and aliases
 * kept, see Aliases) and printed once per variant; mesh keys it does not already have are printed
 * by the plain-data emitter.
 */
export function valuesVariants(
  plan: MeshPlan,
  c: PlannedCluster,
  want: VariantRequest,
  mesh: PlainMap = meshKeys(plan, c),
): { full?: ValuesParts; noGlobal?: ValuesParts; inline?: ValuesParts } {
  const doc = c.values ? c.values.doc.clone() : new Document({});
  if (c.values) keepKeyLineComments(doc, c.values.text);
  if (!isMap(doc.contents)) doc.contents = new YAMLMap() as never;
  const aliases = new Aliases(doc);
  // The text is embedded in other documents (HelmChartConfig, Rancher): no directives, no `---`.
  if (doc.directives) {
    doc.directives.docStart = null;
    doc.directives.yaml.explicit = false;
  }
  const root = doc.contents as unknown as YAMLMap;
  root.flow = false;
  for (const p of SECRET_PATHS) aliases.delete(p);
  const appended: PlainMap = {};
  mergeSplit(root, appended, mesh, aliases);
  const print = (tail: PlainMap): ValuesParts => {
    let userText = '';
    if (root.items.length > 0) userText = doc.toString({ lineWidth: 0, flowCollectionPadding: false });
    else {
      // An empty user file prints as `{}`; keep only its comments.
      const comments = [doc.commentBefore, root.commentBefore, root.comment, doc.comment].filter(Boolean).join('\n');
      if (comments) userText = comments.replace(/^/gm, '#') + '\n';
    }
    return splitAtPeers(c, userText + (Object.keys(tail).length ? emitYaml(tail) : ''));
  };
  const out: { full?: ValuesParts; noGlobal?: ValuesParts; inline?: ValuesParts } = {};
  if (want.full) out.full = print(appended);
  if (want.noGlobal || want.inlineSecrets) {
    aliases.delete(['global']);
    if (want.noGlobal) out.noGlobal = print(appended);
    if (want.inlineSecrets) {
      // Last, as it changes the document: secret keys merge into the user's keys or the mesh part.
      mergeSplit(root, appended, want.inlineSecrets, aliases);
      out.inline = print(appended);
    }
  }
  return out;
}

function splitAtPeers(c: PlannedCluster, text: string): ValuesParts {
  const at = text.indexOf(PEERS_TOKEN);
  if (at < 0 || text.indexOf(PEERS_TOKEN, at + 1) >= 0) {
    throw new Error('internal: the peer-list placeholder must appear exactly once');
  }
  const lineStart = text.lastIndexOf('\n', at) + 1;
  const lineEnd = text.indexOf('\n', at);
  const line = text.slice(lineStart, lineEnd < 0 ? text.length : lineEnd);
  const m = /^( *)([^ ].*): meshform-peers-placeholder-9d41c7$/.exec(line);
  if (!m) throw new Error('internal: unexpected shape of the peer-list placeholder line');
  return {
    cluster: c,
    head: text.slice(0, lineStart),
    keyLine: `${m[1]}${m[2]}:`,
    indent: m[1]!.length,
    tail: lineEnd < 0 ? '' : text.slice(lineEnd + 1),
  };
}

/**
 * The values text with every line indented by `pad`. `escape` (Terraform heredocs) applies to
 * the whole text; the peer list only goes through it when it holds something to escape.
 */
export function assembleValues(parts: ValuesParts, pad: string, peers: PeerPrinter, escape?: (s: string) => string): string {
  const b = peers.block(parts.cluster, pad.length + parts.indent + 2);
  let list = b.inline !== undefined ? ` ${b.inline}\n` : `\n${b.text}`;
  let head = parts.head;
  let tail = parts.tail;
  if (escape) {
    head = escape(head);
    tail = escape(tail);
    if (/[$%]\{/.test(list)) list = escape(list);
  }
  return indentLines(head, pad) + pad + parts.keyLine + list + indentLines(tail, pad);
}

/** The anchor a node carries, if any. */
const anchorOf = (n: unknown): string | undefined => (isScalar(n) || isCollection(n) ? n.anchor || undefined : undefined);

/**
 * The user's anchors and aliases, kept as they are in the output. meshform never changes what an
 * alias means: before it changes or removes a node (merging mesh keys into it, replacing it,
 * deleting `global` or key material), every alias of that node or of a node inside it becomes a
 * copy of what it stood for (the user's content, without the mesh keys); and a key meshform sets
 * inside an alias (`clustermesh: *cm`) makes that one place a copy, leaving the anchor as it is.
 * Copies keep the alias's comments and have no anchors or aliases of their own.
 */
class Aliases {
  readonly #doc: Document;
  /** Alias → the node it stands for; undefined when the document has no alias (the common case). */
  #targets: Map<Alias, Node> | undefined;

  constructor(doc: Document) {
    this.#doc = doc;
    let found = false;
    visit(doc, {
      Alias() {
        found = true;
        return visit.BREAK;
      },
    });
    if (!found) return;
    // In document order, as YAML resolves an alias: the last node with its anchor before it.
    const byName = new Map<string, Node>();
    const targets = new Map<Alias, Node>();
    visit(doc, (_, node) => {
      if (isAlias(node)) {
        const t = byName.get(node.source);
        if (t) targets.set(node, t);
      } else if (anchorOf(node)) byName.set(anchorOf(node)!, node as Node);
    });
    this.#targets = targets;
  }

  /** The value of `pair`, made safe to change: an alias becomes a copy, aliases of it become copies. */
  own(pair: Pair<unknown, unknown>): unknown {
    if (!this.#targets) return pair.value;
    if (isAlias(pair.value)) {
      const copy = this.#copy(pair.value);
      // `hubble: *d  # note`: a comment on a collection prints after its block; keep it on the key line.
      if (isCollection(copy) && copy.comment && isScalar(pair.key) && !pair.key.comment) {
        pair.key.comment = copy.comment;
        copy.comment = undefined;
      }
      pair.value = copy;
    }
    if (isNode(pair.value)) this.#unshare(pair.value);
    return pair.value;
  }

  /** Deletes the node at `path`, when there is one, after making what leads there and it unshared. */
  delete(path: readonly string[]): void {
    // Look first (through aliases) so that nothing is unshared on the way to a key that is absent.
    let node: unknown = this.#doc.contents;
    for (const key of path) {
      if (isAlias(node)) node = this.#targets?.get(node);
      if (!isMap(node)) return;
      node = node.items.find((p) => isScalar(p.key) && p.key.value === key)?.value;
      if (node === undefined) return;
    }
    let map: unknown = this.#doc.contents;
    for (let i = 0; i < path.length; i++) {
      if (!isMap(map)) return;
      const pair = map.items.find((p) => isScalar(p.key) && p.key.value === path[i]);
      if (!pair) return;
      if (i === path.length - 1) {
        this.own(pair);
        map.items.splice(map.items.indexOf(pair), 1);
        return;
      }
      map = this.own(pair);
    }
  }

  /** Replaces every alias of `node`, or of a node inside it, with a copy of what it stands for. */
  #unshare(node: Node): void {
    const targets = this.#targets!;
    const inside = new Set<Node>();
    visit(node, (_, n) => {
      if (anchorOf(n)) inside.add(n as Node);
    });
    if (inside.size === 0) return;
    const copy = (a: Alias) => this.#copy(a);
    visit(this.#doc, {
      Alias(_, alias) {
        const t = targets.get(alias);
        return t && inside.has(t) ? copy(alias) : undefined;
      },
    });
  }

  /** What `alias` stands for, as a fresh node without anchors or aliases, with the alias's comments. */
  #copy(alias: Alias): Node {
    const t = this.#targets!.get(alias);
    const out = t ? this.#expanded(t) : new Scalar(null);
    if (alias.comment) out.comment = alias.comment;
    if (alias.commentBefore) out.commentBefore = alias.commentBefore;
    if (alias.spaceBefore) out.spaceBefore = true;
    return out;
  }

  #expanded(node: Node): Node {
    if (isAlias(node)) {
      const t = this.#targets!.get(node);
      return t ? this.#expanded(t) : new Scalar(null);
    }
    const out = node.clone() as Node;
    if (isScalar(out) || isCollection(out)) out.anchor = undefined;
    if (isCollection(node) && isCollection(out)) {
      out.items = node.items.map((item) => {
        if (!isPair(item)) return this.#expanded(item as Node);
        const p = item.clone();
        p.key = isNode(item.key) ? this.#expanded(item.key) : item.key;
        p.value = isNode(item.value) ? this.#expanded(item.value) : item.value;
        return p;
      }) as never;
    }
    return out;
  }
}

/**
 * The yaml library reads `hubble: # note` (a comment on the line of a key whose value is a block
 * collection) as a comment before the collection and prints it on the next line. Put such a
 * comment back on the key, using the source text to tell it from a comment that really stood on
 * its own line.
 */
function keepKeyLineComments(doc: Document, src: string): void {
  visit(doc, {
    Pair(_, pair) {
      const key = pair.key as Node | null;
      const value = pair.value as Node | null;
      if (!isScalar(key) || !isCollection(value) || !value.commentBefore || value.commentBefore.includes('\n')) return;
      if (!key.range || !value.range || key.comment) return;
      const between = src.slice(key.range[1], value.range[0]);
      if (/^[ \t]*:[ \t]+(?:[&!][^ \t\n]*[ \t]+)*#[^\n]*\n/.test(between)) {
        key.comment = value.commentBefore;
        value.commentBefore = undefined;
      }
    },
  });
}
