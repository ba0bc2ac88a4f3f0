// Agent outputs shaped after Cilium's API models (StatusResponse.cluster-mesh → ClusterMeshStatus →
// RemoteCluster{config: RemoteClusterConfig, synced: RemoteClusterSynced}; HealthStatusResponse).
// Go's omitempty drops false booleans and zero numbers, so failing entries lack those keys.

/** Cilium 1.15: agents connect to peers directly; num-global-services still reported. */
export const AGENT_115_READY = JSON.stringify({
  cilium: { state: 'Ok', msg: '' },
  kvstore: { state: 'Disabled', msg: '' },
  'cluster-mesh': {
    clusters: [
      {
        name: 'mesh02',
        ready: true,
        connected: true,
        status: 'etcd: 1/1 connected, leases=0, lock leases=0, has-quorum=true: https://mesh02.mesh.cilium.io:32380 - 3.5.12 (Leader)',
        'num-nodes': 4,
        'num-endpoints': 12,
        'num-identities': 20,
        'num-shared-services': 3,
        config: { required: true, retrieved: true, 'cluster-id': 2, 'sync-canaries': true },
        synced: { nodes: true, endpoints: true, identities: true, services: true },
      },
    ],
    'num-global-services': 11,
  },
});

/** Cilium 1.15, CA not shared: never connected, the error is the status text. */
export const AGENT_115_X509 = JSON.stringify({
  'cluster-mesh': {
    clusters: [
      {
        name: 'mesh02',
        status: 'tls: failed to verify certificate: x509: certificate signed by unknown authority',
        'num-failures': 4,
        'last-failure': '2026-11-27T10:00:00.000Z',
        synced: {},
      },
    ],
    'num-global-services': 11,
  },
});

/** Cilium 1.16 with KVStoreMesh: the agent reads the peer from the local cache (config.kvstoremesh). */
export const AGENT_116_KVSTOREMESH = JSON.stringify({
  'cluster-mesh': {
    clusters: [
      {
        name: 'mesh02',
        ready: true,
        connected: true,
        status: 'etcd: 1/1 connected, leases=0, lock leases=0, has-quorum=true: https://clustermesh-apiserver.kube-system.svc:2379 - 3.5.14 (Leader)',
        'num-nodes': 4,
        config: { required: true, retrieved: true, 'cluster-id': 2, kvstoremesh: true, 'sync-canaries': true },
        synced: { nodes: true, endpoints: true, identities: true, services: true },
      },
    ],
  },
});

/** `kvstoremesh-dbg status -o json` (1.16): a list of RemoteCluster. */
export const KVSTOREMESH_116 = JSON.stringify([
  {
    name: 'mesh02',
    ready: true,
    connected: true,
    status: 'etcd: 1/1 connected, leases=0, lock leases=0, has-quorum=true: https://mesh02.mesh.cilium.io:32380 - 3.5.14 (Leader)',
    config: { required: true, retrieved: true, 'cluster-id': 2, 'sync-canaries': true },
    synced: { nodes: true, endpoints: true, identities: true, services: true },
  },
]);

/** Cilium 1.19: MCS-API fields (service-exports*), no num-global-services; one peer not yet synced. */
export const AGENT_119_PARTIAL = JSON.stringify({
  'cluster-mesh': {
    clusters: [
      {
        name: 'mesh02',
        ready: true,
        connected: true,
        status: 'etcd: 1/1 connected, leases=0, lock leases=0, has-quorum=true: https://clustermesh-apiserver.kube-system.svc:2379 - 3.5.17 (Leader)',
        config: { required: true, retrieved: true, 'cluster-id': 2, kvstoremesh: true, 'sync-canaries': true, 'service-exports-enabled': false },
        synced: { nodes: true, endpoints: true, identities: true, services: true, 'service-exports': true },
      },
      {
        name: 'mesh03',
        connected: true,
        status: 'etcd: 1/1 connected, leases=0, lock leases=0, has-quorum=true: https://clustermesh-apiserver.kube-system.svc:2379 - 3.5.17 (Leader)',
        config: { required: true, 'cluster-id': 3, kvstoremesh: true },
        synced: { nodes: true, identities: true },
      },
    ],
  },
});

/** `cilium-health status -o json`: one remote node unreachable. */
export const HEALTH = JSON.stringify({
  local: { name: 'mesh01/w1' },
  nodes: [
    {
      name: 'mesh01/w1',
      host: { 'primary-address': { ip: '192.0.2.21', icmp: { latency: 120000 }, http: { latency: 450000 } } },
      'health-endpoint': { 'primary-address': { ip: '10.244.1.5', icmp: { latency: 9000 }, http: { latency: 30000 } } },
    },
    {
      name: 'mesh02/w1',
      host: {
        'primary-address': {
          ip: '198.51.100.21',
          icmp: { status: 'Connection timed out' },
          http: { status: 'Get "http://198.51.100.21:4240/hello": dial tcp 198.51.100.21:4240: connect: connection timed out' },
        },
      },
    },
  ],
  timestamp: '2026-11-27T10:00:00Z',
});
