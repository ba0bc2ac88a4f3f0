/**
 * The simulated Cilium agent's model, run inside the long-lived lab daemon (daemon.ts): what
 * `kubectl exec` in a lab cilium pod answers (through kwok's ClusterExec, the shims `cilium-dbg`,
 * `cilium`, `cilium-health`, `kvstoremesh-dbg` and the daemon's socket, see agentserver.ts).
 *
 * It answers from real state only: it reads its cluster's Secret cilium-clustermesh, resolves the
 * certificate files through the DaemonSet's projected volume, resolves `<name>.<domain>` through the
 * pod spec's hostAliases (as /etc/hosts in the pod would), and connects over mTLS with an etcd client
 * to each peer's clustermesh endpoint. Failures carry the texts Cilium (Go) prints for them.
 */
import { isIP } from 'node:net';
import tls from 'node:tls';
import type * as k8s from '@kubernetes/client-node';
import { Etcd3 } from 'etcd3';
import { parsePeerConfig, type PeerConfig } from './clusterstate.js';

const NS = 'kube-system';
const DIAL_TIMEOUT_MS = 3000;

/** One entry of Cilium's `cluster-mesh.clusters[]` (models.RemoteCluster). */
export interface RemoteCluster {
  name: string;
  ready: boolean;
  connected: boolean;
  status: string;
  'num-nodes': number;
  'num-endpoints': number;
  'num-identities': number;
  'num-shared-services': number;
  'num-failures': number;
  'last-failure'?: string;
  synced: { nodes: boolean; endpoints: boolean; identities: boolean; services: boolean };
  config: { required: boolean; retrieved: boolean; 'cluster-id'?: number; kvstoremesh: boolean; 'sync-canaries': boolean };
}

interface PodView {
  hostAliases: Map<string, string>;
  /** file path → [secret name, key] */
  files: Map<string, [string, string]>;
  image: string;
}

interface Probe {
  connected: boolean;
  status: string;
  error?: string;
  nodes: string[];
  config?: { required: boolean; retrieved: boolean; id?: number; syncCanaries: boolean };
  synced: RemoteCluster['synced'];
}

/** Reads the pod template of a workload: hostAliases and where its projected secrets land. */
function podView(spec: k8s.V1PodSpec | undefined, container: string): PodView {
  const hostAliases = new Map<string, string>();
  for (const ha of spec?.hostAliases ?? []) for (const h of ha.hostnames ?? []) if (!hostAliases.has(h) && ha.ip) hostAliases.set(h, ha.ip);
  const files = new Map<string, [string, string]>();
  const c = spec?.containers.find((x) => x.name === container) ?? spec?.containers[0];
  for (const m of c?.volumeMounts ?? []) {
    const vol = spec?.volumes?.find((v) => v.name === m.name);
    for (const src of vol?.projected?.sources ?? (vol?.secret ? [{ secret: { name: vol.secret.secretName, items: vol.secret.items } }] : [])) {
      if (!src.secret?.name) continue;
      if (src.secret.items) for (const it of src.secret.items) files.set(`${m.mountPath}/${it.path}`, [src.secret.name, it.key]);
      else files.set(`${m.mountPath}/*${src.secret.name}`, [src.secret.name, '*']);
    }
  }
  return { hostAliases, files, image: c?.image ?? '' };
}

class FileResolver {
  private cache = new Map<string, Record<string, string> | null>();
  constructor(private readonly core: k8s.CoreV1Api, private readonly view: PodView) {}

  private async secret(name: string): Promise<Record<string, string> | null> {
    if (!this.cache.has(name)) {
      try {
        const s = await this.core.readNamespacedSecret({ name, namespace: NS });
        this.cache.set(name, s.data ?? {});
      } catch {
        this.cache.set(name, null);
      }
    }
    return this.cache.get(name)!;
  }

  /** The content of a file in the pod, or an error text like the agent's open(2) failure. */
  async read(path: string): Promise<string> {
    const direct = this.view.files.get(path);
    const candidates: [string, string][] = direct ? [direct] : [];
    if (!direct) {
      const dir = path.slice(0, path.lastIndexOf('/'));
      const base = path.slice(path.lastIndexOf('/') + 1);
      for (const [k, v] of this.view.files) if (k.startsWith(`${dir}/*`)) candidates.push([v[0], base]);
    }
    for (const [secretName, key] of candidates) {
      const data = await this.secret(secretName);
      const v = data?.[key];
      if (v !== undefined) return Buffer.from(v, 'base64').toString('utf8');
    }
    throw new Error(`open ${path}: no such file or directory`);
  }
}

/** Failure bookkeeping across answers, as the agent keeps it in memory across its lifetime. */
export class FailureBook {
  private readonly book = new Map<string, { failures: number; lastFailure?: string; lastError?: string }>();

  record(key: string, error: string | undefined): { failures: number; lastFailure?: string } {
    let e = this.book.get(key);
    if (!e) this.book.set(key, (e = { failures: 0 }));
    if (error) {
      e.failures++;
      e.lastFailure = new Date().toISOString();
      e.lastError = error;
    }
    return e;
  }
}

/** Go's crypto/x509 texts for Node's verification codes. */
function x509Text(code: string, host: string, cert: tls.PeerCertificate | undefined): string {
  switch (code) {
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'CERT_SIGNATURE_FAILURE':
      return 'x509: certificate signed by unknown authority';
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
      return `x509: certificate has expired or is not yet valid: current time ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} is after ${cert?.valid_to ?? 'its validity'}`;
    default:
      return `x509: ${code}`;
  }
}

function sanText(host: string, cert: tls.PeerCertificate): string {
  // Go lists the DNS names for a host name and the IP SANs for an IP address.
  const want = isIP(host) ? 'IP Address:' : 'DNS:';
  const names = (cert.subjectaltname ?? '')
    .split(', ')
    .filter((s) => s.startsWith(want))
    .map((s) => s.slice(want.length));
  return `x509: certificate is valid for ${names.join(', ')}, not ${host}`;
}

/** One TLS handshake as the etcd client would make it: the first step that fails, in Go's words. */
function tlsProbe(ip: string, port: number, host: string, ca: string, cert: string, key: string, dialled = ip): Promise<string | undefined> {
  return new Promise((resolve) => {
    const dial = `dial tcp ${dialled}:${port}`;
    let settled = false;
    const done = (v: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const socket = tls.connect({
      host: ip,
      port,
      servername: isIP(host) ? undefined : host,
      ca,
      cert,
      key,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    });
    const timer = setTimeout(() => done(`context deadline exceeded: ${dial}: i/o timeout`), DIAL_TIMEOUT_MS);
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate();
      if (!socket.authorized && String(socket.authorizationError) === 'ERR_TLS_CERT_ALTNAME_INVALID') {
        return done(`transport: authentication handshake failed: tls: failed to verify certificate: ${sanText(host, peer)}`);
      }
      if (!socket.authorized) return done(`transport: authentication handshake failed: tls: failed to verify certificate: ${x509Text(String(socket.authorizationError), host, peer)}`);
      const idErr = tls.checkServerIdentity(host, peer);
      if (idErr) return done(`transport: authentication handshake failed: tls: failed to verify certificate: ${sanText(host, peer)}`);
      // With TLS 1.3 the server judges our client certificate after the handshake: give it a moment
      // to refuse before calling the connection good.
      socket.once('data', () => done(undefined));
      setTimeout(() => done(undefined), 200);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      if (code === 'ECONNREFUSED') return done(`context deadline exceeded: connection error: desc = "transport: Error while dialing: ${dial}: connect: connection refused"`);
      if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return done(`context deadline exceeded: ${dial}: connect: no route to host`);
      if (/UNKNOWN_CA/.test(code)) return done('remote error: tls: unknown certificate authority');
      if (/BAD_CERTIFICATE|CERTIFICATE_REQUIRED/.test(code)) return done('remote error: tls: bad certificate');
      if (code === 'ECONNRESET') return done(`${dial}: read: connection reset by peer`);
      done(`${dial}: ${err.message}`);
    });
  });
}

function etcdText(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (/permission denied/i.test(msg)) return 'etcdserver: permission denied';
  if (/user name not found|authentication failed/i.test(msg)) return 'etcdserver: permission denied';
  if (/deadline|timed? ?out/i.test(msg)) return 'context deadline exceeded';
  return msg;
}

/**
 * Where a connection to a NodePort really lands. With kube-proxy replacement up to Cilium 1.18, the
 * socket load balancer translates a connect to <any node IP>:<NodePort> of a local NodePort Service
 * into that Service's backends: a peer on the same NodePort is never reached, the local
 * clustermesh-apiserver answers instead (DESIGN.md §4).
 */
export interface SocketLb {
  nodePort: number;
  /** Where the local clustermesh-apiserver's endpoint listens (its own workers' IPs). */
  localIps: string[];
}

async function probePeer(peer: PeerConfig, view: PodView, files: FileResolver, socketLb: SocketLb | undefined): Promise<Probe> {
  const synced = { nodes: false, endpoints: false, identities: false, services: false };
  const fail = (status: string, connected = false): Probe => ({ connected, status, error: status, nodes: [], synced });
  const endpoint = peer.endpoints[0];
  if (!endpoint) return fail('no etcd endpoints configured');
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return fail(`invalid endpoint ${endpoint}`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 2379);
  const ip = isIP(host) ? host : view.hostAliases.get(host);
  if (!ip) return fail(`context deadline exceeded: dial tcp: lookup ${host}: no such host`);
  // The lab only ever dials loopback: a peer outside 127.0.0.0/8 cannot be a lab cluster.
  if (!ip.startsWith('127.')) return fail(`context deadline exceeded: dial tcp ${ip}:${port}: i/o timeout`);
  // The error texts keep the address the agent dialled; only the packets go elsewhere.
  const target = socketLb && socketLb.nodePort === port ? (socketLb.localIps[0] ?? ip) : ip;
  let ca: string, cert: string, key: string;
  try {
    [ca, cert, key] = await Promise.all([files.read(peer.trustedCaFile), files.read(peer.certFile), files.read(peer.keyFile)]);
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
  const tlsErr = await tlsProbe(target, port, host, ca, cert, key, ip);
  if (tlsErr) return fail(tlsErr);
  const client = new Etcd3({
    hosts: `https://${target}:${port}`,
    credentials: { rootCertificate: Buffer.from(ca), certChain: Buffer.from(cert), privateKey: Buffer.from(key) },
    grpcOptions: { 'grpc.ssl_target_name_override': host, 'grpc.default_authority': host },
    dialTimeout: DIAL_TIMEOUT_MS,
  });
  try {
    let version = '';
    try {
      version = (await client.maintenance.status()).version;
    } catch {
      // status needs no permission in etcd, but an old server may refuse: not a mesh failure
    }
    const status = `etcd: 1/1 connected, leases=0, lock leases=0, has-quorum=true: ${endpoint} - ${version} (Leader)`;
    let required: boolean;
    try {
      required = (await client.get('cilium/.has-cluster-config').string()) !== null;
    } catch (err) {
      return { ...fail(`failed to detect whether the cluster configuration is required: ${etcdText(err)}`, true) };
    }
    let id: number | undefined;
    let syncCanaries = false;
    let raw: string | null;
    try {
      raw = await client.get(`cilium/cluster-config/${peer.name}`).string();
    } catch (err) {
      return fail(`failed to retrieve cluster configuration: ${etcdText(err)}`, true);
    }
    if (raw !== null) {
      const cfg = JSON.parse(raw) as { id?: number; capabilities?: { syncedCanaries?: boolean } };
      id = cfg.id;
      syncCanaries = cfg.capabilities?.syncedCanaries === true;
    } else if (required) {
      return { connected: true, status: 'remote cluster configuration required but not found', error: 'remote cluster configuration required but not found', nodes: [], config: { required, retrieved: false, syncCanaries }, synced };
    }
    const nodeKeys = await client.getAll().prefix(`cilium/state/nodes/v1/${peer.name}/`).keys();
    const canary = async (kind: string) => (await client.get(`cilium/synced/${peer.name}/cilium/state/${kind}`).string()) !== null;
    const [n, e, i, s] = await Promise.all(['nodes/v1', 'ip/v1', 'identities/v1', 'services/v1'].map(canary));
    return {
      connected: true,
      status,
      nodes: nodeKeys.map((k) => `${peer.name}/${k.slice(k.lastIndexOf('/') + 1)}`),
      config: { required, retrieved: raw !== null, id, syncCanaries },
      synced: { nodes: !!n, endpoints: !!e, identities: !!i, services: !!s },
    };
  } catch (err) {
    return fail(etcdText(err), true);
  } finally {
    client.close();
  }
}

interface AgentContext {
  cluster: string;
  localId: number;
  version: string;
  kubeVersion: string;
  localNodes: { name: string; ip: string }[];
  peers: { peer: PeerConfig; probe: Probe }[];
  meshEnabled: boolean;
  kvstoremesh: boolean;
}

/** The API clients of one lab cluster, as the agent's ServiceAccount would use them. */
export interface ClusterApi {
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
}

function minorOf(version: string): { major: number; minor: number } {
  const [major = 1, minor = 15] = version.split('.').map(Number);
  return { major, minor };
}

async function gather(cluster: string, api: ClusterApi, forKvstoremesh: boolean): Promise<AgentContext> {
  const { core, apps } = api;
  const [ds, deploy, cfg, nodes, kvstoremesh, svc] = await Promise.all([
    apps.readNamespacedDaemonSet({ name: 'cilium', namespace: NS }),
    apps.readNamespacedDeployment({ name: 'clustermesh-apiserver', namespace: NS }).catch(() => undefined),
    core.readNamespacedConfigMap({ name: 'cilium-config', namespace: NS }).catch(() => undefined),
    core.listNode({}),
    core.readNamespacedSecret({ name: 'cilium-kvstoremesh', namespace: NS }).then(() => true).catch(() => false),
    core.readNamespacedService({ name: 'clustermesh-apiserver', namespace: NS }).catch(() => undefined),
  ]);
  // With KVStoreMesh the clustermesh-apiserver's kvstoremesh container dials the peers (hostAliases
  // on the Deployment, peers in cilium-kvstoremesh) and agents see the remote clusters through it:
  // the agent then reports what kvstoremesh reaches.
  const viaKvstoremesh = forKvstoremesh || kvstoremesh;
  const view = viaKvstoremesh
    ? podView(deploy?.spec?.template.spec, 'kvstoremesh')
    : podView(ds.spec?.template.spec, 'cilium-agent');
  const secretName = viaKvstoremesh ? 'cilium-kvstoremesh' : 'cilium-clustermesh';
  if (viaKvstoremesh) {
    view.files.set('/var/lib/cilium/clustermesh/common-etcd-client-ca.crt', ['clustermesh-apiserver-remote-cert', 'ca.crt']);
    view.files.set('/var/lib/cilium/clustermesh/common-etcd-client.crt', ['clustermesh-apiserver-remote-cert', 'tls.crt']);
    view.files.set('/var/lib/cilium/clustermesh/common-etcd-client.key', ['clustermesh-apiserver-remote-cert', 'tls.key']);
    if (!view.image) view.image = ds.spec?.template.spec?.containers[0]?.image ?? '';
  }
  let meshSecret: k8s.V1Secret | undefined;
  try {
    meshSecret = await core.readNamespacedSecret({ name: secretName, namespace: NS });
  } catch {
    meshSecret = undefined;
  }
  const files = new FileResolver(core, view);
  const peerConfigs = Object.entries(meshSecret?.data ?? {})
    // Certificates may sit beside the peer configs in the same Secret; peers are the other keys.
    .filter(([k]) => !/^common-|\.crt$|\.key$/.test(k))
    .map(([k, v]) => parsePeerConfig(k, Buffer.from(v, 'base64').toString('utf8')))
    .sort((a, b) => a.name.localeCompare(b.name));
  const tag = /:v?([0-9][^@]*)$/.exec(view.image || (ds.spec?.template.spec?.containers[0]?.image ?? ''))?.[1] ?? '1.15.5';
  const localNodes = nodes.items.map((n) => ({
    name: n.metadata?.name ?? '',
    ip: n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '',
    controlPlane: ['control-plane', 'master', 'etcd'].some((r) => n.metadata?.labels?.[`node-role.kubernetes.io/${r}`] === 'true'),
  }));
  const v = minorOf(tag);
  const kpr = ['true', 'strict'].includes(String(cfg?.data?.['kube-proxy-replacement'] ?? 'false'));
  const ownNodePort = svc?.spec?.type === 'NodePort' ? (svc.spec.ports?.find((p) => p.port === 2379) ?? svc.spec.ports?.[0])?.nodePort : undefined;
  const socketLb: SocketLb | undefined =
    kpr && v.major === 1 && v.minor <= 18 && ownNodePort
      ? { nodePort: ownNodePort, localIps: localNodes.filter((n) => !n.controlPlane && n.ip).map((n) => n.ip) }
      : undefined;
  const peers = await Promise.all(peerConfigs.map(async (peer) => ({ peer, probe: await probePeer(peer, view, files, socketLb) })));
  const kubelet = nodes.items[0]?.status?.nodeInfo?.kubeletVersion ?? '';
  return {
    cluster,
    localId: Number(cfg?.data?.['cluster-id'] ?? 0),
    version: tag,
    kubeVersion: kubelet,
    localNodes: localNodes.map(({ name, ip }) => ({ name, ip })),
    peers,
    meshEnabled: meshSecret !== undefined,
    kvstoremesh,
  };
}

function remoteClusters(ctx: AgentContext, book: FailureBook, kvstoremesh: boolean): RemoteCluster[] {
  const bookKey = (peer: string) => `${ctx.cluster}${kvstoremesh ? '-kvstoremesh' : ''}/${peer}`;
  const seenIds = new Map<number, string>();
  const out = ctx.peers.map(({ peer, probe }) => {
    let error = probe.error;
    let status = probe.status;
    const id = probe.config?.id;
    if (!error && id !== undefined) {
      if (id === ctx.localId) error = status = `remote cluster ID ${id} is assigned to the local cluster`;
      else if (seenIds.has(id)) error = status = `clusterID ${id} is already used by ${seenIds.get(id)}`;
      else seenIds.set(id, peer.name);
    }
    const rec = book.record(bookKey(peer.name), error);
    const synced = error ? { nodes: false, endpoints: false, identities: false, services: false } : probe.synced;
    const config = probe.config ?? { required: false, retrieved: false, syncCanaries: false };
    const ready = !error && probe.connected && (!config.required || config.retrieved) && Object.values(synced).every(Boolean);
    const rc: RemoteCluster = {
      name: peer.name,
      ready,
      connected: probe.connected && !error,
      status,
      'num-nodes': error ? 0 : probe.nodes.length,
      'num-endpoints': 0,
      'num-identities': 0,
      'num-shared-services': 0,
      'num-failures': rec.failures,
      ...(rec.lastFailure ? { 'last-failure': rec.lastFailure } : {}),
      synced,
      config: {
        required: config.required,
        retrieved: config.retrieved,
        ...(config.id !== undefined ? { 'cluster-id': config.id } : {}),
        kvstoremesh: ctx.kvstoremesh && !kvstoremesh,
        'sync-canaries': config.syncCanaries,
      },
    };
    return rc;
  });
  return out;
}

function minor(version: string): number {
  return Number(version.split('.')[1] ?? 15);
}

function statusJson(ctx: AgentContext, clusters: RemoteCluster[]): Record<string, unknown> {
  const ok = { state: 'Ok', msg: '' };
  return {
    cilium: { state: 'Ok', msg: '' },
    kvstore: { state: 'Ok', msg: 'Disabled' },
    kubernetes: { state: 'Ok', msg: `${ctx.kubeVersion} [linux/amd64]` },
    'container-runtime': { state: 'Ok', msg: 'kwok' },
    'stale-probes': null,
    'cni-chaining': { mode: 'portmap' },
    cluster: {
      ciliumHealth: ok,
      nodes: ctx.localNodes.map((n) => ({ name: `${ctx.cluster}/${n.name}`, 'primary-address': { ipv4: { ip: n.ip, enabled: true } } })),
    },
    ...(ctx.meshEnabled ? { 'cluster-mesh': { clusters, 'num-global-services': 0 } } : {}),
  };
}

function statusText(ctx: AgentContext, clusters: RemoteCluster[], verbose: boolean): string {
  const pad = (s: string) => s.padEnd(25);
  const lines = [
    `${pad('KVStore:')}Ok   Disabled`,
    `${pad('Kubernetes:')}Ok   ${ctx.kubeVersion} [linux/amd64]`,
    `${pad('Cilium:')}Ok   ${ctx.version}`,
    `${pad('Cilium health daemon:')}Ok`,
  ];
  if (ctx.meshEnabled) {
    const ready = clusters.filter((c) => c.ready).length;
    const m = minor(ctx.version);
    const what = m >= 16 ? 'remote clusters ready' : 'clusters ready';
    const services = m >= 19 ? '' : ', 0 global-services';
    lines.push(`${pad('ClusterMesh:')}${ready}/${clusters.length} ${what}${services}`);
    if (verbose || clusters.some((c) => !c.ready)) {
      for (const c of clusters) {
        lines.push(`   ${c.name}: ${c.ready ? 'ready' : 'not-ready'}, ${c['num-nodes']} nodes, 0 endpoints, 0 identities, 0 services, ${c['num-failures']} reconnections (last: ${c['last-failure'] ?? 'never'})`);
        lines.push(`   └  ${c.status}`);
        lines.push(`   └  remote configuration: expected=${c.config.required}, retrieved=${c.config.retrieved}${c.config['cluster-id'] !== undefined ? `, cluster-id=${c.config['cluster-id']}` : ''}, kvstoremesh=${c.config.kvstoremesh}, sync-canaries=${c.config['sync-canaries']}`);
        lines.push(`   └  synchronization status: nodes=${c.synced.nodes}, endpoints=${c.synced.endpoints}, identities=${c.synced.identities}, services=${c.synced.services}`);
      }
    }
  }
  return lines.join('\n') + '\n';
}

function healthJson(ctx: AgentContext): Record<string, unknown> {
  const node = (name: string, ip: string) => ({
    name,
    host: {
      'primary-address': { ip, icmp: { latency: 100000, status: '' }, http: { latency: 200000, status: '' } },
    },
    'health-endpoint': { 'primary-address': { ip, icmp: { latency: 100000, status: '' }, http: { latency: 200000, status: '' } } },
  });
  const nodes = ctx.localNodes.map((n) => node(`${ctx.cluster}/${n.name}`, n.ip));
  for (const { probe } of ctx.peers) if (!probe.error) for (const n of probe.nodes) nodes.push(node(n, ''));
  return { local: { name: `${ctx.cluster}/${ctx.localNodes[0]?.name ?? ''}` }, nodes, timestamp: new Date().toISOString() };
}

function healthText(ctx: AgentContext): string {
  const h = healthJson(ctx) as { nodes: { name: string; host: { 'primary-address': { ip: string } } }[] };
  const lines = [`Probe time:   ${new Date().toISOString()}`, 'Nodes:'];
  for (const n of h.nodes) {
    lines.push(`  ${n.name}:`);
    lines.push(`    Host connectivity to ${n.host['primary-address'].ip || 'n/a'}:`);
    lines.push('      ICMP to stack:   OK, RTT=100µs');
    lines.push('      HTTP to agent:   OK, RTT=200µs');
  }
  return lines.join('\n') + '\n';
}

/** What one exec prints and exits with. */
export interface ExecAnswer {
  code: number;
  stdout: string;
  stderr: string;
}

const USAGE = (cmd: string) =>
  `${cmd}: the lab's simulated agent answers: cilium-dbg status [-o json] [--verbose|--all-clusters], cilium status [...], cilium-health status [-o json], kvstoremesh-dbg status [-o json]\n`;

/** Computed once per cluster and view, shared by every exec that asks meanwhile. */
interface Computed {
  ctx: AgentContext;
  clusters: RemoteCluster[];
  /** Answers already written out from this computation, by command line (large JSON is rendered once). */
  rendered: Map<string, string>;
}

/** How long a computed answer is reused (from the start of its computation). */
export const ANSWER_TTL_MS = 1000;

/**
 * The agents of every lab cluster. Concurrent execs for the same cluster (and view: agent or
 * kvstoremesh) share one in-flight computation; its result is reused for at most ANSWER_TTL_MS
 * and dropped at once by `invalidate()` (the daemon calls it on every watched change), so an answer
 * never predates a change it could have seen.
 */
export class Agents {
  private epoch = 0;
  private readonly entries = new Map<string, { epoch: number; startedAt: number; done: boolean; promise: Promise<Computed> }>();
  private readonly book = new FailureBook();
  /** Clusters whose changes are not being watched right now: their answers are never reused. */
  readonly unwatched = new Set<string>();
  /** Computations started (for the lab's own tests and benchmarks). */
  computations = 0;

  constructor(private readonly apis: (cluster: string) => ClusterApi | undefined) {}

  /** Forgets every reused answer: called when anything an answer depends on may have changed. */
  invalidate(): void {
    this.epoch++;
    this.entries.clear();
  }

  private computed(cluster: string, view: 'agent' | 'kvstoremesh'): Promise<Computed> {
    const key = `${cluster}/${view}`;
    const e = this.entries.get(key);
    const fresh = e && e.epoch === this.epoch && (!e.done || (!this.unwatched.has(cluster) && Date.now() - e.startedAt < ANSWER_TTL_MS));
    if (e && fresh) return e.promise;
    const api = this.apis(cluster);
    if (!api) return Promise.reject(new Error(`no lab cluster ${cluster}`));
    this.computations++;
    const entry = { epoch: this.epoch, startedAt: Date.now(), done: false, promise: undefined as unknown as Promise<Computed> };
    entry.promise = gather(cluster, api, view === 'kvstoremesh').then(
      (ctx) => {
        entry.done = true;
        return { ctx, clusters: remoteClusters(ctx, this.book, view === 'kvstoremesh'), rendered: new Map() };
      },
      (err: unknown) => {
        // Errors are not reused: the next exec asks again.
        if (this.entries.get(key) === entry) this.entries.delete(key);
        throw err;
      },
    );
    this.entries.set(key, entry);
    return entry.promise;
  }

  /** The answer to `argv` (argv[0] is the command name) run in an agent pod of `cluster`. */
  async answer(cluster: string, argv: string[]): Promise<ExecAnswer> {
    const [cmd = '', sub, ...rest] = argv;
    const known = ['cilium-dbg', 'cilium', 'cilium-health', 'kvstoremesh-dbg'];
    if (sub !== 'status' || !known.includes(cmd)) return { code: 2, stdout: '', stderr: USAGE(cmd) };
    const json = rest.some((a, i) => (a === '-o' || a === '--output') && rest[i + 1] === 'json') || rest.includes('-ojson') || rest.includes('--output=json');
    const verbose = rest.includes('--verbose') || rest.includes('--all-clusters');
    try {
      const c = await this.computed(cluster, cmd === 'kvstoremesh-dbg' ? 'kvstoremesh' : 'agent');
      const { ctx, clusters } = c;
      const key = `${cmd}\u0000${json}\u0000${verbose}`;
      let out = c.rendered.get(key);
      if (out === undefined) {
        if (cmd === 'kvstoremesh-dbg') out = json ? JSON.stringify(clusters, null, 2) + '\n' : statusText({ ...ctx, meshEnabled: true }, clusters, true);
        else if (cmd === 'cilium-health') out = json ? JSON.stringify(healthJson(ctx), null, 2) + '\n' : healthText(ctx);
        else out = json ? JSON.stringify(statusJson(ctx, clusters), null, 2) + '\n' : statusText(ctx, clusters, verbose);
        c.rendered.set(key, out);
      }
      return ok(out);
    } catch (err) {
      return { code: 1, stdout: '', stderr: `Error: ${err instanceof Error ? err.message : String(err)}\n` };
    }
  }
}

function ok(stdout: string): ExecAnswer {
  return { code: 0, stdout, stderr: '' };
}
