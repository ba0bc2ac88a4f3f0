/**
 * The lab's shape: N RKE2-like clusters, each with two control-plane nodes and W workers (default 2)
 * on distinct loopback addresses and non-overlapping pod/service CIDRs. Pure: no I/O.
 */

/** One node of a lab cluster. */
export interface LabNode {
  name: string;
  /** InternalIP, on 127.0.0.0/8: reachable on this machine without any network setup. */
  ip: string;
  controlPlane: boolean;
  podCIDR: string;
}

/** One lab cluster. */
export interface LabCluster {
  name: string;
  /** 1-based index; also the second octet offset of its loopback IPs and pod CIDR. */
  index: number;
  clusterCIDR: string;
  serviceCIDR: string;
  clusterDNS: string;
  nodes: LabNode[];
}

export const MAX_CLUSTERS = 8;

/**
 * Which lab this process drives: `MESHFORM_LAB_SLOT` (0–9, default 0) lets several labs run side by
 * side on one machine (one per checkout): slot s uses node IPs 127.(10+s).i.n and component ports
 * 24000 + 100·s + 10·i + k. Anything else is refused.
 */
export function labSlot(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.MESHFORM_LAB_SLOT;
  if (raw === undefined || raw === '') return 0;
  if (!/^[0-9]$/.test(raw)) throw new RangeError(`MESHFORM_LAB_SLOT must be a digit 0–9, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** The first two octets of every lab address of this slot: `127.10` for slot 0. */
export function labNet(slot = labSlot()): string {
  return `127.${10 + slot}`;
}
/** Workers per cluster: node IPs 127.10.i.3 … 127.10.i.(2+W) stay below the endpoints' .253/.254. */
export const MAX_WORKERS = 250;
export const DEFAULT_WORKERS = 2;

/** Cluster name for a 1-based index: mesh01, mesh02, … */
export function clusterName(index: number): string {
  return `mesh${String(index).padStart(2, '0')}`;
}

/**
 * The topology for `count` clusters of 2 servers and `workerCount` agents each. Cluster i gets pod
 * CIDR 10.(243+i).0.0/16 (mesh01 10.244.0.0/16, mesh02 10.245.0.0/16, …), service CIDR
 * 10.96.(64·(i−1)).0/18 inside 10.96.0.0/15, and node IPs 127.10.i.1–2 (control plane) and
 * 127.10.i.3 … (workers `meshNN-agent-1` …), each node a /24 of the pod CIDR.
 */
export function labTopology(count: number, workerCount = DEFAULT_WORKERS): LabCluster[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_CLUSTERS) {
    throw new RangeError(`cluster count must be an integer from 1 to ${MAX_CLUSTERS}, got ${count}`);
  }
  if (!Number.isInteger(workerCount) || workerCount < 1 || workerCount > MAX_WORKERS) {
    throw new RangeError(`workers per cluster must be an integer from 1 to ${MAX_WORKERS}, got ${workerCount}`);
  }
  const clusters: LabCluster[] = [];
  const net = labNet();
  for (let i = 1; i <= count; i++) {
    const name = clusterName(i);
    const second = 243 + i;
    const svcBase = 96 + Math.floor(((i - 1) * 64) / 256);
    const svcThird = ((i - 1) * 64) % 256;
    const nodes: LabNode[] = [];
    for (let n = 1; n <= 2 + workerCount; n++) {
      const controlPlane = n <= 2;
      nodes.push({
        name: controlPlane ? `${name}-server-${n}` : `${name}-agent-${n - 2}`,
        ip: `${net}.${i}.${n}`,
        controlPlane,
        podCIDR: `10.${second}.${n - 1}.0/24`,
      });
    }
    clusters.push({
      name,
      index: i,
      clusterCIDR: `10.${second}.0.0/16`,
      serviceCIDR: `10.${svcBase}.${svcThird}.0/18`,
      clusterDNS: `10.${svcBase}.${svcThird}.10`,
      nodes,
    });
  }
  return clusters;
}

/** Control-plane nodes (servers). */
export function controlPlanes(cluster: LabCluster): LabNode[] {
  return cluster.nodes.filter((n) => n.controlPlane);
}

/** Worker nodes (no control-plane role): the ones whose IPs peers dial. */
export function workers(cluster: LabCluster): LabNode[] {
  return cluster.nodes.filter((n) => !n.controlPlane);
}
