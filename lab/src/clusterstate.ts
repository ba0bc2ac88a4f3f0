/**
 * Reads what the lab's endpoints and simulated agents need from one cluster's API: the Secrets and
 * ConfigMaps the rke2-cilium chart renders, the clustermesh-apiserver Service and the nodes.
 */
import * as k8s from '@kubernetes/client-node';
import YAML from 'yaml';

const NS = 'kube-system';

export interface TlsSecret {
  ca: string;
  crt: string;
  key: string;
}

/** One peer as the agent sees it in Secret cilium-clustermesh. */
export interface PeerConfig {
  name: string;
  endpoints: string[];
  trustedCaFile: string;
  certFile: string;
  keyFile: string;
}

export interface ClusterInputs {
  clusterName?: string;
  clusterId?: number;
  maxConnectedClusters?: number;
  caCert?: string;
  server?: TlsSecret;
  admin?: TlsSecret;
  remote?: TlsSecret;
  /** users from ConfigMap clustermesh-remote-users; undefined when the ConfigMap is absent. */
  remoteUsers?: string[];
  service?: { type: string; nodePort?: number; loadBalancerIP?: string };
  workerIPs: string[];
  nodes: { name: string; ip: string; controlPlane: boolean }[];
}

export function kubeClient(kubeconfig: string, context: string) {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  kc.setCurrentContext(context);
  return { kc, core: kc.makeApiClient(k8s.CoreV1Api), apps: kc.makeApiClient(k8s.AppsV1Api) };
}

function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: number }).code === 404;
}

async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

function decode(data: Record<string, string> | undefined, key: string): string | undefined {
  const v = data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

function tlsOf(secret: k8s.V1Secret | undefined): TlsSecret | undefined {
  const crt = decode(secret?.data, 'tls.crt');
  const key = decode(secret?.data, 'tls.key');
  if (!crt || !key) return undefined;
  return { crt, key, ca: decode(secret?.data, 'ca.crt') ?? '' };
}

/** Everything one cluster's clustermesh endpoint depends on. */
export async function readClusterInputs(core: k8s.CoreV1Api): Promise<ClusterInputs> {
  const [secrets, cms, svc, nodes] = await Promise.all([
    core.listNamespacedSecret({ namespace: NS }),
    core.listNamespacedConfigMap({ namespace: NS }),
    orUndefined(core.readNamespacedService({ name: 'clustermesh-apiserver', namespace: NS })),
    core.listNode({}),
  ]);
  const secret = (name: string) => secrets.items.find((s) => s.metadata?.name === name);
  const cm = (name: string) => cms.items.find((c) => c.metadata?.name === name);
  const config = cm('cilium-config')?.data ?? {};
  const users = cm('clustermesh-remote-users')?.data?.['users.yaml'];
  const parsedUsers = users ? ((YAML.parse(users) as { users?: { name: string }[] } | null)?.users ?? []).map((u) => u.name) : undefined;
  const nodeList = nodes.items.map((n) => ({
    name: n.metadata?.name ?? '',
    ip: n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '',
    controlPlane: ['control-plane', 'master', 'etcd'].some((r) => n.metadata?.labels?.[`node-role.kubernetes.io/${r}`] === 'true'),
  }));
  const port = svc?.spec?.ports?.find((p) => p.port === 2379) ?? svc?.spec?.ports?.[0];
  return {
    clusterName: config['cluster-name'],
    clusterId: config['cluster-id'] !== undefined ? Number(config['cluster-id']) : undefined,
    maxConnectedClusters: config['max-connected-clusters'] !== undefined ? Number(config['max-connected-clusters']) : undefined,
    caCert: decode(secret('cilium-ca')?.data, 'ca.crt'),
    server: tlsOf(secret('clustermesh-apiserver-server-cert')),
    admin: tlsOf(secret('clustermesh-apiserver-admin-cert')),
    remote: tlsOf(secret('clustermesh-apiserver-remote-cert')),
    remoteUsers: parsedUsers,
    service: svc
      ? { type: svc.spec?.type ?? 'ClusterIP', nodePort: port?.nodePort, loadBalancerIP: svc.spec?.loadBalancerIP }
      : undefined,
    workerIPs: nodeList.filter((n) => !n.controlPlane && n.ip).map((n) => n.ip),
    nodes: nodeList,
  };
}

/** Parses one key of Secret cilium-clustermesh (an etcd client config) into a PeerConfig. */
export function parsePeerConfig(name: string, text: string): PeerConfig {
  const o = (YAML.parse(text) ?? {}) as Record<string, unknown>;
  return {
    name,
    endpoints: Array.isArray(o.endpoints) ? o.endpoints.map(String) : [],
    trustedCaFile: String(o['trusted-ca-file'] ?? ''),
    certFile: String(o['cert-file'] ?? ''),
    keyFile: String(o['key-file'] ?? ''),
  };
}
