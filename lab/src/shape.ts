/**
 * The objects that give a kwok cluster the shape of an RKE2 cluster: role-labelled nodes with
 * InternalIPs and pod CIDRs, the rke2-cilium HelmChart, kwok's Stages, and the kwokctl configuration that runs it
 * all from local binaries on 127.0.0.1. Pure: returns data.
 */
import { createHash } from 'node:crypto';
import { labSlot, type LabCluster, type LabNode } from './topology.js';

/** A stable 32-hex id for a node field (machine ID, system UUID, boot ID): same lab, same ids. */
function id(name: string, what: string): string {
  return createHash('sha256').update(`${what}/${name}`).digest('hex').slice(0, 32);
}

const RKE2_SUFFIX = '+rke2r1';

/** A Node as RKE2 registers it (servers: control-plane, master, etcd roles and a NoSchedule taint). */
export function nodeManifest(node: LabNode, kubeVersion: string): Record<string, unknown> {
  const labels: Record<string, string> = {
    'beta.kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'kubernetes.io/hostname': node.name,
    'kubernetes.io/os': 'linux',
    'node.kubernetes.io/instance-type': 'rke2',
    type: 'kwok',
  };
  if (node.controlPlane) {
    labels['node-role.kubernetes.io/control-plane'] = 'true';
    labels['node-role.kubernetes.io/master'] = 'true';
    labels['node-role.kubernetes.io/etcd'] = 'true';
  }
  const resources = { cpu: '8', memory: '32Gi', pods: '110', 'ephemeral-storage': '100Gi' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: node.name,
      labels,
      annotations: {
        // kwok only plays the kubelet for nodes carrying this annotation.
        'kwok.x-k8s.io/node': 'fake',
        'node.alpha.kubernetes.io/ttl': '0',
        'rke2.io/internal-ip': node.ip,
        'rke2.io/hostname': node.name,
      },
    },
    spec: {
      podCIDR: node.podCIDR,
      podCIDRs: [node.podCIDR],
      ...(node.controlPlane
        ? { taints: [{ key: 'node-role.kubernetes.io/control-plane', value: 'true', effect: 'NoSchedule' }] }
        : {}),
    },
    status: {
      addresses: [
        { type: 'InternalIP', address: node.ip },
        { type: 'Hostname', address: node.name },
        // Where the API server reaches this node's kubelet (kwok, on 127.0.0.1): see kwokctlConfig.
        { type: 'InternalDNS', address: 'localhost' },
      ],
      allocatable: resources,
      capacity: resources,
      nodeInfo: {
        machineID: id(node.name, 'machine'),
        systemUUID: id(node.name, 'uuid'),
        bootID: id(node.name, 'boot'),
        architecture: 'amd64',
        operatingSystem: 'linux',
        kubeletVersion: kubeVersion + RKE2_SUFFIX,
        kubeProxyVersion: kubeVersion + RKE2_SUFFIX,
        containerRuntimeVersion: 'containerd://1.7.23-k3s2',
        osImage: 'meshform lab (kwok)',
        kernelVersion: '6.1.0',
      },
    },
  };
}

/**
 * HelmChart kube-system/rke2-cilium with the globals RKE2's server injects through spec.set, carrying
 * the chart itself (`chartContent`: the base64 of the packaged chart), as RKE2 ships its bundled charts,
 * and the agent image tag pinned to a Cilium version the lab runs (as RKE2's packaged chart pins it).
 */
export function helmChartManifest(cluster: LabCluster, chartVersion: string, chartContent: string, ciliumVersion: string): Record<string, unknown> {
  return {
    apiVersion: 'helm.cattle.io/v1',
    kind: 'HelmChart',
    metadata: {
      name: 'rke2-cilium',
      namespace: 'kube-system',
      annotations: { 'helm.cattle.io/chart-url': 'https://rke2-charts.rancher.io/assets/rke2-cilium' },
    },
    spec: {
      bootstrap: true,
      chart: 'rke2-cilium',
      chartContent,
      version: chartVersion,
      targetNamespace: 'kube-system',
      set: { ...rke2Globals(cluster), 'image.tag': `v${ciliumVersion}` },
    },
  };
}

/**
 * A CiliumNode as a Cilium agent registers its node (what the clustermesh-apiserver syncs into
 * `cilium/state/nodes/v1/`): the agents and operator cannot run under kwok, so the lab writes it.
 */
export function ciliumNodeManifest(node: LabNode): Record<string, unknown> {
  return {
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNode',
    metadata: { name: node.name, labels: { 'kubernetes.io/hostname': node.name } },
    spec: {
      addresses: [{ type: 'InternalIP', ip: node.ip }],
      ipam: { podCIDRs: [node.podCIDR] },
    },
  };
}

/** The label helm-controller v0.17.9 puts on its Job pods (pkg/controllers/chart/chart.go LabelChartName). */
export const HELM_JOB_LABEL = 'helmcharts.helm.cattle.io/chart';

/**
 * kwok's default Stages (kustomize/stage/{node,pod}/fast and node/heartbeat-with-lease of the pinned
 * kwok module, passed in) with pod-complete narrowed so it leaves helm-controller's Job pods alone:
 * the lab's Job runner completes them after really running helm. Once a config has any Stage,
 * kwokctl uses only the Stages given, so all five are returned.
 */
export function labStages(defaults: Record<string, unknown>[]): Record<string, unknown>[] {
  const names = ['node-initialize', 'node-heartbeat-with-lease', 'pod-ready', 'pod-complete', 'pod-delete'];
  const byName = new Map(defaults.map((d) => [(d.metadata as { name: string }).name, d]));
  return names.map((name) => {
    const stage = byName.get(name);
    if (!stage) throw new Error(`kwok's default Stage ${name} is missing`);
    // The helm Job pods are the job runner's (helmjobs.ts): it completes them, and a deleted one stays
    // until its helm has exited, as under a kubelet (kwok's pod-delete would drop it at once).
    if (name !== 'pod-complete' && name !== 'pod-delete') return stage;
    const spec = stage.spec as { selector: { matchExpressions: unknown[] } };
    return {
      ...stage,
      spec: {
        ...spec,
        selector: {
          ...spec.selector,
          matchExpressions: [...spec.selector.matchExpressions, { key: `.metadata.labels["${HELM_JOB_LABEL}"]`, operator: 'DoesNotExist' }],
        },
      },
    };
  });
}

/** The `global.*` values RKE2 sets on its charts (the same go to the helm release's values). */
export function rke2Globals(cluster: LabCluster): Record<string, string> {
  return {
    'global.clusterCIDR': cluster.clusterCIDR,
    'global.clusterCIDRv4': cluster.clusterCIDR,
    'global.clusterDNS': cluster.clusterDNS,
    'global.clusterDomain': 'cluster.local',
    'global.rke2DataDir': '/var/lib/rancher/rke2',
    'global.serviceCIDR': cluster.serviceCIDR,
    'global.systemDefaultRegistry': '',
  };
}

/** Values RKE2 would install rke2-cilium with on a fresh cluster (no mesh yet), agent image `v<ciliumVersion>`. */
export function initialValues(cluster: LabCluster, ciliumVersion: string): Record<string, unknown> {
  const g = rke2Globals(cluster);
  return {
    image: { tag: `v${ciliumVersion}` },
    global: {
      clusterCIDR: g['global.clusterCIDR'],
      clusterCIDRv4: g['global.clusterCIDRv4'],
      clusterDNS: g['global.clusterDNS'],
      clusterDomain: g['global.clusterDomain'],
      rke2DataDir: g['global.rke2DataDir'],
      serviceCIDR: g['global.serviceCIDR'],
      systemDefaultRegistry: '',
    },
  };
}

/** The 127.0.0.1 ports of one cluster's components: 24000 + 100·slot + 10·index + k, below the NodePort range. */
export function componentPorts(cluster: LabCluster): Record<string, number> {
  const base = 24000 + 100 * labSlot() + 10 * cluster.index;
  return {
    etcdPort: base,
    etcdPeerPort: base + 1,
    kubeApiserverPort: base + 2,
    kwokControllerPort: base + 3,
    kubeControllerManagerPort: base + 4,
    kubeSchedulerPort: base + 5,
  };
}

export interface KwokctlInputs {
  cluster: LabCluster;
  bin: (name: string) => string;
  kubeVersion: string;
  shimsDir: string;
  /** The kwok controller to start (a wrapper around the kwok binary). */
  kwokBinary: string;
  agentEnv: Record<string, string>;
  cacheDir: string;
  /** The Stages kwok runs (labStages). */
  stages: Record<string, unknown>[];
}

/**
 * The kwokctl configuration (multi-document YAML as objects): binary runtime, every component from a
 * local path (a path that does not exist makes kwokctl fail instead of downloading), everything on
 * 127.0.0.1, no metrics-server/prometheus/jaeger/dashboard, and a ClusterExec sending `kubectl exec`
 * in kube-system pods to the daemon (agentserver.ts: answers from the real kvstoremesh).
 */
export function kwokctlConfig(i: KwokctlInputs): Record<string, unknown>[] {
  const never = (name: string) => i.bin(`not-provided-${name}`);
  const path = `${i.shimsDir}:${process.env.PATH ?? '/usr/bin:/bin'}`;
  return [
    {
      apiVersion: 'config.kwok.x-k8s.io/v1alpha1',
      kind: 'KwokctlConfiguration',
      options: {
        runtime: 'binary',
        kubeVersion: i.kubeVersion,
        bindAddress: '127.0.0.1',
        securePort: true,
        quietPull: true,
        cacheDir: i.cacheDir,
        etcdBinary: i.bin('etcd'),
        etcdctlBinary: never('etcdctl'),
        kubeApiserverBinary: i.bin('kube-apiserver'),
        kubeControllerManagerBinary: i.bin('kube-controller-manager'),
        kubeSchedulerBinary: i.bin('kube-scheduler'),
        kubectlBinary: i.bin('kubectl'),
        kwokControllerBinary: i.kwokBinary,
        kectlBinary: never('kectl'),
        dashboardBinary: never('dashboard'),
        prometheusBinary: never('prometheus'),
        jaegerBinary: never('jaeger'),
        metricsServerBinary: never('metrics-server'),
        kindBinary: never('kind'),
        enableMetricsServer: false,
        prometheusPort: 0,
        jaegerPort: 0,
        dashboardPort: 0,
        kubeAuthorization: true,
        // Fixed ports per cluster: kwokctl's own choice of free ports races when clusters start in parallel.
        ...Object.fromEntries(Object.entries(componentPorts(i.cluster))),
      },
      componentsPatches: [
        {
          name: 'kube-apiserver',
          extraArgs: [
            { key: 'advertise-address', value: '127.0.0.1' },
            // kwok serves every node's kubelet API (exec) on 127.0.0.1 only; the nodes' InternalIPs
            // are other loopback addresses, so the API server reaches kubelets through InternalDNS.
            { key: 'kubelet-preferred-address-types', value: 'InternalDNS,InternalIP,Hostname,ExternalDNS,ExternalIP' },
            { key: 'service-cluster-ip-range', value: i.cluster.serviceCIDR },
          ],
        },
        {
          name: 'kube-controller-manager',
          extraArgs: [{ key: 'service-cluster-ip-range', value: i.cluster.serviceCIDR }],
        },
        {
          name: 'kwok-controller',
          extraEnvs: [{ name: 'PATH', value: path }],
        },
      ],
    },
    {
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'ClusterExec',
      metadata: { name: 'meshform-lab-agent' },
      spec: {
        selector: { matchNamespaces: ['kube-system'] },
        execs: [
          {
            local: {
              envs: Object.entries(i.agentEnv).map(([name, value]) => ({ name, value })),
            },
          },
        ],
      },
    },
    ...i.stages,
  ];
}
