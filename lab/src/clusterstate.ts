/**
 * Reads what the lab's clustermesh chain (realmesh.ts) needs from one cluster's API: the Secrets and
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

export interface ClusterInputs {
  clusterName?: string;
  clusterId?: number;
  maxConnectedClusters?: number;
  caCert?: string;
  /**
   * What the clustermesh-apiserver's etcd trusts (`--trusted-ca-file`): the file `ca.crt` of the
   * Deployment's projected volume `etcd-server-secrets`, as the kubelet would fill it — the server
   * certificate Secret's `ca.crt`, or the CA bundle (`tls.caBundle`) where the chart projects that.
   */
  etcdTrust?: string;
  /**
   * What the dialler trusts for its peers (`common-etcd-client-ca.crt` of the projected volume
   * `kvstoremesh-secrets` of the Deployment, or `clustermesh-secrets` of the agents): the remote
   * certificate Secret's `ca.crt`, or the CA bundle where the chart projects that.
   */
  remoteTrust?: string;
  server?: TlsSecret;
  admin?: TlsSecret;
  remote?: TlsSecret;
  /** users from ConfigMap clustermesh-remote-users; undefined when the ConfigMap is absent. */
  remoteUsers?: string[];
  /** The ConfigMap's users.yaml as the clustermesh container reads it. */
  remoteUsersText?: string;
  /** Cilium version of the agent image tag (DaemonSet cilium, container cilium-agent). */
  version?: string;
  /**
   * Who dials the peers: the Deployment's kvstoremesh container (`deployment`), or the agents
   * (`agents`, when Secret cilium-clustermesh exists without KVStoreMesh); undefined: no mesh config.
   */
  kvstoremeshFor?: 'deployment' | 'agents';
  /** Peer etcd configs (name, file text) from cilium-kvstoremesh or cilium-clustermesh. */
  peers: { name: string; text: string }[];
  /** [ip, hostname] from the hostAliases of the workload that dials the peers. */
  hostAliases: [string, string][];
  /** metadata.generation of the workload that dials the peers: a rollout (new pods) reconnects. */
  dialerGeneration?: number;
  /** cilium-config kube-proxy-replacement is on ("true"/"strict"). */
  kubeProxyReplacement: boolean;
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

/**
 * The content of file `path` of projected volume `volume` in `pod`, as the kubelet projects it from
 * the listed Secrets and ConfigMaps (an item with that path; or a source without items whose key is
 * the path). Undefined when the volume, the file or its source is missing.
 */
export function projectedFile(
  pod: k8s.V1PodSpec | undefined,
  volume: string,
  path: string,
  lookup: { secret: (name: string) => k8s.V1Secret | undefined; configMap: (name: string) => k8s.V1ConfigMap | undefined },
): string | undefined {
  const sources = pod?.volumes?.find((v) => v.name === volume)?.projected?.sources ?? [];
  for (const s of sources) {
    const src = s.secret ?? s.configMap;
    if (!src?.name) continue;
    const key = src.items ? src.items.find((i) => i.path === path)?.key : path;
    if (key === undefined) continue;
    if (s.secret) {
      const v = decode(lookup.secret(src.name)?.data, key);
      if (v !== undefined) return v;
    } else {
      const v = lookup.configMap(src.name)?.data?.[key];
      if (v !== undefined) return v;
    }
  }
  return undefined;
}

function tlsOf(secret: k8s.V1Secret | undefined): TlsSecret | undefined {
  const crt = decode(secret?.data, 'tls.crt');
  const key = decode(secret?.data, 'tls.key');
  if (!crt || !key) return undefined;
  return { crt, key, ca: decode(secret?.data, 'ca.crt') ?? '' };
}

const optional = <K extends string>(k: K, v: string | undefined): { [P in K]?: string } => (v === undefined ? {} : ({ [k]: v } as { [P in K]: string }));

/** Everything one cluster's clustermesh endpoint depends on. */
export async function readClusterInputs(core: k8s.CoreV1Api, apps: k8s.AppsV1Api): Promise<ClusterInputs> {
  const [secrets, cms, svc, nodes, ds, deploy] = await Promise.all([
    core.listNamespacedSecret({ namespace: NS }),
    core.listNamespacedConfigMap({ namespace: NS }),
    orUndefined(core.readNamespacedService({ name: 'clustermesh-apiserver', namespace: NS })),
    core.listNode({}),
    orUndefined(apps.readNamespacedDaemonSet({ name: 'cilium', namespace: NS })),
    orUndefined(apps.readNamespacedDeployment({ name: 'clustermesh-apiserver', namespace: NS })),
  ]);
  const secret = (name: string) => secrets.items.find((s) => s.metadata?.name === name);
  const cm = (name: string) => cms.items.find((c) => c.metadata?.name === name);
  const lookup = { secret, configMap: cm };
  const config = cm('cilium-config')?.data ?? {};
  const users = cm('clustermesh-remote-users')?.data?.['users.yaml'];
  const parsedUsers = users ? ((YAML.parse(users) as { users?: { name: string }[] } | null)?.users ?? []).map((u) => u.name) : undefined;
  const nodeList = nodes.items.map((n) => ({
    name: n.metadata?.name ?? '',
    ip: n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '',
    controlPlane: ['control-plane', 'master', 'etcd'].some((r) => n.metadata?.labels?.[`node-role.kubernetes.io/${r}`] === 'true'),
  }));
  const port = svc?.spec?.ports?.find((p) => p.port === 2379) ?? svc?.spec?.ports?.[0];
  const agentSpec = ds?.spec?.template.spec;
  const image = (agentSpec?.containers.find((c) => c.name === 'cilium-agent') ?? agentSpec?.containers[0])?.image ?? '';
  const viaDeployment = deploy?.spec?.template.spec?.containers.some((c) => c.name === 'kvstoremesh') === true;
  const peerSecret = secret(viaDeployment ? 'cilium-kvstoremesh' : 'cilium-clustermesh');
  const dialer = viaDeployment ? deploy?.spec?.template.spec : agentSpec;
  return {
    remoteUsersText: users,
    kubeProxyReplacement: ['true', 'strict'].includes(String(config['kube-proxy-replacement'] ?? 'false')),
    version: /:v?([0-9][^@:]*)(@.*)?$/.exec(image)?.[1],
    kvstoremeshFor: viaDeployment ? 'deployment' : peerSecret ? 'agents' : undefined,
    dialerGeneration: (viaDeployment ? deploy : ds)?.metadata?.generation,
    peers: Object.entries(peerSecret?.data ?? {})
      // Certificates may sit beside the peer configs in the same Secret; peers are the other keys.
      .filter(([k]) => !/^common-|\.crt$|\.key$/.test(k))
      .map(([name, v]) => ({ name, text: Buffer.from(v, 'base64').toString('utf8') }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    hostAliases: (dialer?.hostAliases ?? []).flatMap((h) => (h.hostnames ?? []).map((n): [string, string] => [h.ip ?? '', n])),
    clusterName: config['cluster-name'],
    clusterId: config['cluster-id'] !== undefined ? Number(config['cluster-id']) : undefined,
    maxConnectedClusters: config['max-connected-clusters'] !== undefined ? Number(config['max-connected-clusters']) : undefined,
    caCert: decode(secret('cilium-ca')?.data, 'ca.crt'),
    ...optional('etcdTrust', projectedFile(deploy?.spec?.template.spec, 'etcd-server-secrets', 'ca.crt', lookup)),
    ...optional('remoteTrust', projectedFile(dialer, viaDeployment ? 'kvstoremesh-secrets' : 'clustermesh-secrets', 'common-etcd-client-ca.crt', lookup)),
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
