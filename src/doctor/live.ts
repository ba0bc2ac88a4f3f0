import { X509Certificate } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { field, strMap, type ClusterClient } from '../kube/client.js';
import { SecretPem } from '../pki/secret.js';
import type { ProbeCredentials, ProbeTarget } from './probe.js';
import { AGENT_DAEMONSET, CLUSTERMESH_APISERVER, CLUSTERMESH_PORT, DEFAULT_RELEASE } from '../defaults.js';

function b64(v: string | undefined): string | undefined {
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

/**
 * The client credentials this cluster's agents (or kvstoremesh) log in to peers with: Secret
 * `clustermesh-apiserver-remote-cert` (`tls.crt`, `tls.key`), trusting what the dialler trusts:
 * the file `common-etcd-client-ca.crt` of its projected volume (the Deployment's
 * `kvstoremesh-secrets` with KVStoreMesh, else the agents' `clustermesh-secrets`), which the chart
 * fills from the Secret's `ca.crt` or, with `tls.caBundle`, from the bundle. `undefined` when absent.
 */
export async function liveCredentials(client: ClusterClient, namespace = DEFAULT_RELEASE.namespace): Promise<ProbeCredentials | undefined> {
  const [s, trust] = await Promise.all([client.get('Secret', 'clustermesh-apiserver-remote-cert', namespace), diallerTrust(client, namespace)]);
  const d = strMap(field(s, 'data'));
  const certPem = b64(d['tls.crt']);
  const key = b64(d['tls.key']);
  const caPem = trust ?? b64(d['ca.crt']);
  if (!certPem || !key || !caPem) return undefined;
  return { caPem, certPem, key: new SecretPem(key) };
}

const TRUST_FILE = 'common-etcd-client-ca.crt';

type ProjectedSource = { secret?: { name?: string; items?: { key?: string; path?: string }[] }; configMap?: { name?: string; items?: { key?: string; path?: string }[] } };

/** The dialler's trusted CAs as the kubelet projects them (see liveCredentials); undefined when not found. */
async function diallerTrust(client: ClusterClient, namespace: string): Promise<string | undefined> {
  const [deploy, ds] = await Promise.all([client.get('Deployment', CLUSTERMESH_APISERVER, namespace), client.get('DaemonSet', AGENT_DAEMONSET, namespace)]);
  const containers = (field(deploy, 'spec', 'template', 'spec', 'containers') as { name?: string }[] | undefined) ?? [];
  const viaKvstoremesh = containers.some((c) => c.name === 'kvstoremesh');
  const volumes = (field(viaKvstoremesh ? deploy : ds, 'spec', 'template', 'spec', 'volumes') as { name?: string; projected?: { sources?: ProjectedSource[] } }[] | undefined) ?? [];
  const sources = volumes.find((v) => v.name === (viaKvstoremesh ? 'kvstoremesh-secrets' : 'clustermesh-secrets'))?.projected?.sources ?? [];
  for (const src of sources) {
    const ref = src.secret ?? src.configMap;
    if (!ref?.name) continue;
    const key = ref.items ? ref.items.find((i) => i.path === TRUST_FILE)?.key : TRUST_FILE;
    if (!key) continue;
    const obj = await client.get(src.secret ? 'Secret' : 'ConfigMap', ref.name, namespace);
    const data = strMap(field(obj, 'data'));
    const text = src.secret ? b64(data[key]) : data[key];
    if (text) return text;
  }
  return undefined;
}

/** How one cluster is configured to reach its peers, as its own objects say. */
export interface LiveMeshConfig {
  /** Every peer endpoint as dialled (names mapped to IPs through hostAliases). */
  targets: ProbeTarget[];
  /** Every peer the cluster declares (one key per peer in its clustermesh Secret), dialable or not. */
  declaredPeers: string[];
  /** Cilium version from the cilium DaemonSet's agent image tag, when it carries one. */
  imageVersion?: string;
}

/**
 * Reads how this cluster dials its peers: per peer, the etcd config in Secret `cilium-kvstoremesh`
 * (KVStoreMesh) or `cilium-clustermesh`, with names mapped to IPs through the hostAliases of the
 * clustermesh-apiserver Deployment or the cilium DaemonSet.
 */
export async function liveMeshConfig(client: ClusterClient, namespace = DEFAULT_RELEASE.namespace): Promise<LiveMeshConfig> {
  const [kvs, cm, deploy, ds] = await Promise.all([
    client.get('Secret', 'cilium-kvstoremesh', namespace),
    client.get('Secret', 'cilium-clustermesh', namespace),
    client.get('Deployment', 'clustermesh-apiserver', namespace),
    client.get('DaemonSet', 'cilium', namespace),
  ]);
  const secret = kvs && Object.keys(strMap(field(kvs, 'data'))).length ? kvs : cm;
  const aliases = new Map<string, string[]>();
  for (const owner of [deploy, ds]) {
    const list = (field(owner, 'spec', 'template', 'spec', 'hostAliases') as { ip?: string; hostnames?: string[] }[] | undefined) ?? [];
    for (const a of list) for (const h of a.hostnames ?? []) if (a.ip) aliases.set(h, [...(aliases.get(h) ?? []), a.ip]);
  }
  const targets: ProbeTarget[] = [];
  const declaredPeers: string[] = [];
  for (const [peer, value] of Object.entries(strMap(field(secret, 'data'))).sort(([a], [b]) => a.localeCompare(b))) {
    // Besides one config per peer, the Secret may hold per-peer certificate files (`<peer>.etcd-client.crt`...).
    if (peer.includes('.')) continue;
    declaredPeers.push(peer);
    let cfg: unknown;
    try {
      cfg = parseYaml(b64(value) ?? '');
    } catch {
      continue;
    }
    const endpoints = (field(cfg, 'endpoints') as unknown[] | undefined)?.filter((e): e is string => typeof e === 'string') ?? [];
    for (const e of endpoints) {
      let url: URL;
      try {
        url = new URL(e);
      } catch {
        continue;
      }
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const port = Number(url.port || CLUSTERMESH_PORT);
      const ips = aliases.get(host) ?? [host];
      for (const ip of [...new Set(ips)]) targets.push({ cluster: client.cluster, peer, host: ip, port, serverName: host });
    }
  }
  const containers = (field(ds, 'spec', 'template', 'spec', 'containers') as { name?: string; image?: string }[] | undefined) ?? [];
  const image = (containers.find((c) => c.name === 'cilium-agent') ?? containers[0])?.image;
  const imageVersion = image ? /:v?(\d+\.\d+\.\d+)(?:[-@]|$)/.exec(image)?.[1] : undefined;
  return { targets, declaredPeers, ...(imageVersion ? { imageVersion } : {}) };
}

/** The peer endpoints exactly as this cluster dials them (see `liveMeshConfig`). */
export async function liveProbeTargets(client: ClusterClient, namespace = DEFAULT_RELEASE.namespace): Promise<ProbeTarget[]> {
  return (await liveMeshConfig(client, namespace)).targets;
}

/**
 * The users this cluster's clustermesh-apiserver admits (ConfigMap `clustermesh-remote-users`, which
 * the chart renders when authMode is not legacy). `undefined` when the ConfigMap is absent.
 */
export async function liveRemoteUsers(client: ClusterClient, namespace = DEFAULT_RELEASE.namespace): Promise<string[] | undefined> {
  const cm = await client.get('ConfigMap', 'clustermesh-remote-users', namespace);
  if (!cm) return undefined;
  let doc: unknown;
  try {
    doc = parseYaml(strMap(field(cm, 'data'))['users.yaml'] ?? '');
  } catch {
    return undefined;
  }
  const users = field(doc, 'users');
  if (!Array.isArray(users)) return [];
  return users.map((u) => field(u, 'name')).filter((n): n is string => typeof n === 'string');
}

/** The etcd user a client certificate logs in as: etcd maps the certificate's CN to the user. */
export function certificateUser(certPem: string): string | undefined {
  try {
    const subject = new X509Certificate(certPem).subject;
    return /^CN=(.*)$/m.exec(subject)?.[1];
  } catch {
    return undefined;
  }
}
