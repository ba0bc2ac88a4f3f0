// An in-memory valid spec: N clusters with disjoint address space, NodePort endpoints on worker
// IPs, full mesh. Tests mutate one thing and look for the one finding.
import type { ClusterSpec, MeshSpec } from '../../src/spec/types.js';

export function buildCluster(i: number): ClusterSpec {
  // Cluster i gets pods 10.(i/256).(i%256)... too small for 511 clusters in /16s, so use
  // 100.64.0.0/10-free blocks: pods fd-style IPv4 /24s under 10.0.0.0/8, services under 172.16.0.0/12.
  const hi = i >> 8;
  const lo = i & 0xff;
  return {
    index: i,
    name: `c${i + 1}`,
    id: i + 1,
    podCIDRs: [`10.${hi}.${lo}.0/24`],
    serviceCIDRs: [`172.${16 + hi}.${lo}.0/24`],
    nodeCIDRs: [`192.168.${lo}.${hi * 128}/25`],
    endpoint: { type: 'NodePort', nodePort: 30000 + i, ips: [`192.168.${lo}.${hi * 128 + 10}`, `192.168.${lo}.${hi * 128 + 11}`] },
    ciliumVersion: '1.15.5',
    chartVersion: '1.15.500',
    tls: { extraDnsNames: [], extraIpAddresses: [] },
    peers: [],
    peersExplicit: false,
    disableKubeProxy: true,
  };
}

export function buildSpec(n = 2, maxConnectedClusters: 255 | 511 = 255): MeshSpec {
  const clusters = Array.from({ length: n }, (_, i) => buildCluster(i));
  for (const c of clusters) c.peers = clusters.filter((o) => o !== c).map((o) => o.name);
  return {
    path: '/virtual/mesh.yaml',
    dir: '/virtual',
    name: 'test',
    cilium: { version: '1.15.5', release: 'rke2-cilium', namespace: 'kube-system' },
    domain: 'mesh.cilium.io',
    maxConnectedClusters,
    authMode: 'cluster',
    certificates: { method: 'provided', validityDays: 1095, renewBeforeDays: 30, keyAlgorithm: 'ecdsa-p256' },
    ca: { cert: '/virtual/ca.crt', key: '/virtual/ca.key' },
    apiserver: { replicas: 2 },
    nodePortRange: { min: 30000, max: 32767 },
    clusters,
  };
}
