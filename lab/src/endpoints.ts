/**
 * Each cluster's clustermesh endpoint: a real etcd on the cluster's worker loopback IPs at the
 * clustermesh-apiserver NodePort, serving the cluster's own server certificate, admitting clients
 * whose certificate its cilium-ca signed, with the users and roles Cilium's clustermesh-apiserver
 * creates, and the keys it writes (cluster config, nodes, sync canaries). Whenever an input changes
 * in the cluster, the etcd is rebuilt from scratch: it holds nothing that is not derived.
 *
 * On the control-plane nodes' IPs the same NodePort reaches a second etcd (role `control-plane`):
 * same CA and server certificate, but no `remote*` user, so a peer that dials a control-plane IP
 * logs in and gets `etcdserver: permission denied` — the symptom RKE2 users report for control-plane
 * IPs as peer endpoints (DESIGN.md §4). It models the symptom, not its cause on RKE2.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3, Range } from 'etcd3';
import type { ClusterInputs } from './clusterstate.js';
import { isAlive, portOpen, spawnDetached, stopPid, waitFor } from './proc.js';
import { labNet } from './topology.js';

export interface EndpointStatus {
  cluster: string;
  fingerprint: string;
  state: 'absent' | 'serving' | 'error';
  listen: string[];
  pid?: number;
  error?: string;
  syncedAt: string;
}

/** Which nodes' IPs an endpoint listens on. */
export type EndpointRole = 'workers' | 'control-plane';

/**
 * The addresses peers dial for this cluster: NodePort on every worker IP (or a loopback LB IP);
 * for role `control-plane`, the NodePort on every control-plane IP.
 */
export function listenAddresses(inputs: ClusterInputs, role: EndpointRole = 'workers'): { host: string; port: number }[] {
  const svc = inputs.service;
  if (!svc) return [];
  if (role === 'control-plane') {
    if (svc.type !== 'NodePort' || !svc.nodePort) return [];
    return inputs.nodes.filter((n) => n.controlPlane && n.ip).map((n) => ({ host: n.ip, port: svc.nodePort! }));
  }
  if (svc.type === 'NodePort' && svc.nodePort) return inputs.workerIPs.map((host) => ({ host, port: svc.nodePort! }));
  if (svc.type === 'LoadBalancer' && svc.loadBalancerIP?.startsWith('127.')) return [{ host: svc.loadBalancerIP, port: 2379 }];
  return [];
}

/** What the endpoint is built from; a change of any of it rebuilds the endpoint. */
export function fingerprint(inputs: ClusterInputs, role: EndpointRole = 'workers'): string {
  const relevant = {
    name: inputs.clusterName,
    id: inputs.clusterId,
    max: inputs.maxConnectedClusters,
    ca: inputs.caCert,
    server: inputs.server,
    admin: inputs.admin,
    users: inputs.remoteUsers,
    listen: listenAddresses(inputs, role),
    nodes: inputs.nodes,
  };
  return createHash('sha256').update(JSON.stringify(relevant)).digest('hex').slice(0, 16);
}

export class Endpoint {
  private pid: number | undefined;
  private current = '';
  status: EndpointStatus;

  constructor(
    readonly cluster: string,
    /** 1-based index of the cluster; its etcd peer listener sits on 127.10.<index>.254 (.253 for control-plane). */
    private readonly index: number,
    private readonly dir: string,
    private readonly etcdBinary: string,
    readonly role: EndpointRole = 'workers',
  ) {
    this.status = { cluster, fingerprint: '', state: 'absent', listen: [], syncedAt: new Date().toISOString() };
  }

  /** Brings the endpoint in line with the cluster's current inputs. */
  async sync(inputs: ClusterInputs): Promise<void> {
    const fp = fingerprint(inputs, this.role);
    if (fp === this.current && (this.pid === undefined || isAlive(this.pid))) return;
    await this.stop();
    this.current = fp;
    const listen = listenAddresses(inputs, this.role);
    const missing = !inputs.server ? 'Secret clustermesh-apiserver-server-cert' : !inputs.caCert ? 'Secret cilium-ca' : !inputs.admin ? 'Secret clustermesh-apiserver-admin-cert' : listen.length === 0 ? `Service clustermesh-apiserver (NodePort on ${this.role === 'workers' ? 'workers' : 'control-plane nodes'})` : !inputs.clusterName ? 'ConfigMap cilium-config' : '';
    if (missing) {
      this.status = { cluster: this.cluster, fingerprint: fp, state: 'absent', listen: [], error: `no ${missing}`, syncedAt: new Date().toISOString() };
      return;
    }
    try {
      await this.start(inputs, listen);
      this.status = { cluster: this.cluster, fingerprint: fp, state: 'serving', listen: listen.map((l) => `${l.host}:${l.port}`), pid: this.pid, syncedAt: new Date().toISOString() };
    } catch (err) {
      await this.stop();
      this.current = fp;
      this.status = { cluster: this.cluster, fingerprint: fp, state: 'error', listen: [], error: err instanceof Error ? err.message : String(err), syncedAt: new Date().toISOString() };
    }
  }

  private async start(inputs: ClusterInputs, listen: { host: string; port: number }[]): Promise<void> {
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(join(this.dir, 'tls'), { recursive: true, mode: 0o700 });
    const tls = (n: string) => join(this.dir, 'tls', n);
    writeFileSync(tls('server.crt'), inputs.server!.crt, { mode: 0o600 });
    writeFileSync(tls('server.key'), inputs.server!.key, { mode: 0o600 });
    // Clients are checked against this cluster's cilium-ca, as the clustermesh-apiserver's etcd does.
    writeFileSync(tls('client-ca.crt'), inputs.caCert!, { mode: 0o600 });
    const urls = listen.map((l) => `https://${l.host}:${l.port}`).join(',');
    const peer = `http://${labNet()}.${this.index}.${this.role === 'workers' ? 254 : 253}:2380`;
    const args = [
      `--name=${this.cluster}-clustermesh${this.role === 'workers' ? '' : '-cp'}`,
      `--data-dir=${join(this.dir, 'data')}`,
      `--listen-client-urls=${urls}`,
      `--advertise-client-urls=${urls}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=${this.cluster}-clustermesh${this.role === 'workers' ? '' : '-cp'}=${peer}`,
      `--cert-file=${tls('server.crt')}`,
      `--key-file=${tls('server.key')}`,
      `--trusted-ca-file=${tls('client-ca.crt')}`,
      '--client-cert-auth',
      '--auto-compaction-retention=1',
      '--quota-backend-bytes=67108864',
      '--log-level=warn',
    ];
    for (const l of listen) {
      if (await portOpen(l.host, l.port)) throw new Error(`${l.host}:${l.port} is already in use`);
    }
    this.pid = spawnDetached(this.etcdBinary, args, join(this.dir, 'etcd.log'));
    writeFileSync(join(this.dir, 'etcd.pid'), String(this.pid));
    const first = listen[0]!;
    await waitFor(`etcd of ${this.cluster} on ${first.host}:${first.port}`, 15000, async () => {
      if (!isAlive(this.pid!)) throw new Error(`etcd exited; see ${join(this.dir, 'etcd.log')}`);
      return (await portOpen(first.host, first.port)) ? true : undefined;
    });
    await this.bootstrap(inputs, first);
  }

  /** Users, roles and keys as Cilium's clustermesh-apiserver sets them up, then auth on. */
  private async bootstrap(inputs: ClusterInputs, at: { host: string; port: number }): Promise<void> {
    const name = inputs.clusterName!;
    const client = new Etcd3({
      hosts: `https://${at.host}:${at.port}`,
      credentials: {
        rootCertificate: Buffer.from(inputs.caCert!),
        certChain: Buffer.from(inputs.admin!.crt),
        privateKey: Buffer.from(inputs.admin!.key),
      },
      // The server certificate names clustermesh-apiserver.cilium.io and 127.0.0.1, not the worker IP.
      grpcOptions: { 'grpc.ssl_target_name_override': 'clustermesh-apiserver.cilium.io', 'grpc.default_authority': 'clustermesh-apiserver.cilium.io' },
      dialTimeout: 5000,
    });
    try {
      const pw = () => randomBytes(18).toString('base64');
      await client.role('root').create();
      await (await client.user('root').create(pw())).addRole('root');
      await (await client.user(`admin-${name}`).create(pw())).addRole('root');
      if (this.role === 'control-plane') {
        // No remote user at all: every peer's login is refused with permission denied.
        await client.auth.authEnable();
        return;
      }
      await client.role('remote').create();
      await client.role('remote').grant({ permission: 'Read', range: Range.prefix('cilium/') });
      // authMode cluster: one user per declared peer; legacy/migration: the shared `remote` user.
      const users = new Set(inputs.remoteUsers ?? ['remote']);
      if (inputs.remoteUsers === undefined) users.add('remote');
      for (const u of users) await (await client.user(u).create(pw())).addRole('remote');
      const now = new Date().toISOString();
      const clusterConfig = {
        id: inputs.clusterId ?? 0,
        capabilities: { syncedCanaries: true, maxConnectedClusters: inputs.maxConnectedClusters ?? 255, cached: false },
      };
      await client.put(`cilium/cluster-config/${name}`).value(JSON.stringify(clusterConfig));
      await client.put('cilium/.has-cluster-config').value('true');
      for (const n of inputs.nodes) {
        await client.put(`cilium/state/nodes/v1/${name}/${n.name}`).value(
          JSON.stringify({ name: n.name, cluster: name, clusterID: inputs.clusterId ?? 0, ipAddresses: [{ type: 'InternalIP', ip: n.ip }] }),
        );
      }
      for (const kind of ['nodes/v1', 'identities/v1', 'ip/v1', 'services/v1']) {
        await client.put(`cilium/synced/${name}/cilium/state/${kind}`).value(now);
      }
      await client.auth.authEnable();
    } finally {
      client.close();
    }
  }

  async stop(): Promise<void> {
    if (this.pid !== undefined) await stopPid(this.pid);
    this.pid = undefined;
    this.current = '';
    if (existsSync(join(this.dir, 'etcd.pid'))) rmSync(join(this.dir, 'etcd.pid'));
  }
}
