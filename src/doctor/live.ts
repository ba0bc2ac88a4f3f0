import { parse as parseYaml } from 'yaml';
import { field, strMap, type ClusterClient } from '../kube/client.js';
import { SecretPem } from '../pki/secret.js';
import type { ProbeCredentials, ProbeTarget } from './probe.js';

function b64(v: string | undefined): string | undefined {
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

/**
 * The client credentials this cluster's agents (or kvstoremesh) log in to peers with: Secret
 * `clustermesh-apiserver-remote-cert` (`tls.crt`, `tls.key`, `ca.crt`). `undefined` when absent.
 */
export async function liveCredentials(client: ClusterClient, namespace = 'kube-system'): Promise<ProbeCredentials | undefined> {
  const s = await client.get('Secret', 'clustermesh-apiserver-remote-cert', namespace);
  const d = strMap(field(s, 'data'));
  const certPem = b64(d['tls.crt']);
  const key = b64(d['tls.key']);
  const caPem = b64(d['ca.crt']);
  if (!certPem || !key || !caPem) return undefined;
  return { caPem, certPem, key: new SecretPem(key) };
}

/**
 * The peer endpoints exactly as this cluster dials them: per peer, the etcd config in Secret
 * `cilium-kvstoremesh` (KVStoreMesh) or `cilium-clustermesh`, with names mapped to IPs through the
 * hostAliases of the clustermesh-apiserver Deployment or the cilium DaemonSet.
 */
export async function liveProbeTargets(client: ClusterClient, namespace = 'kube-system'): Promise<ProbeTarget[]> {
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
  const out: ProbeTarget[] = [];
  for (const [peer, value] of Object.entries(strMap(field(secret, 'data'))).sort(([a], [b]) => a.localeCompare(b))) {
    // Besides one config per peer, the Secret may hold per-peer certificate files (`<peer>.etcd-client.crt`...).
    if (peer.includes('.')) continue;
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
      const port = Number(url.port || 2379);
      const ips = aliases.get(host) ?? [host];
      for (const ip of [...new Set(ips)]) out.push({ cluster: client.cluster, peer, host: ip, port, serverName: host });
    }
  }
  return out;
}
