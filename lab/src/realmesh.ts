/**
 * Each lab cluster's real clustermesh chain, as local processes (issue 9): the chart's `etcd`
 * container (mTLS with the cluster's `clustermesh-apiserver-server-cert`, trusting `cilium-ca`) on
 * the worker IPs at the Service's NodePort, initialised by Cilium's own `clustermesh-apiserver
 * etcdinit` (its users and roles); Cilium's `clustermesh-apiserver clustermesh` syncing from the
 * cluster's API (users from ConfigMap `clustermesh-remote-users`, applied live by its users
 * manager); and one real `clustermesh-apiserver kvstoremesh`: the Deployment's kvstoremesh container
 * when the chart renders it (peers from Secret `cilium-kvstoremesh`, the Deployment's hostAliases),
 * else a stand-in for the agents' remote connections (peers from Secret `cilium-clustermesh`, the
 * DaemonSet's hostAliases). Its state answers the agents' execs (agentmodel.ts). The binary is the
 * one built for the agent image's version (lab/build-cm.sh). Whenever an input of a process
 * changes, that process (and what depends on it) is restarted: nothing here is hand-written state.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import type { ClusterInputs } from './clusterstate.js';
import { readVersions } from './paths.js';
import { isAlive, portOpen, run, sleep, spawnDetached, stopPid, waitFor } from './proc.js';
import { labNet, labSlot } from './topology.js';

/** The versions lab/build-cm.sh builds (LAB_CILIUM_VERSIONS). */
export function builtCiliumVersions(): string[] {
  return (readVersions().LAB_CILIUM_VERSIONS ?? '').split(',').map((v) => v.trim()).filter(Boolean);
}

/** The Cilium version the lab's clusters run unless a test sets image.tag (LAB_CILIUM_DEFAULT). */
export function defaultCiliumVersion(): string {
  const v = readVersions().LAB_CILIUM_DEFAULT;
  if (!v || !builtCiliumVersions().includes(v)) throw new Error(`LAB_CILIUM_DEFAULT (${v ?? 'unset'}) in lab/versions.env must be one of LAB_CILIUM_VERSIONS`);
  return v;
}

/** The clustermesh-apiserver binary for the agent image's version, or an error naming what the lab has. */
export function ciliumBinary(bin: string, version: string | undefined): string {
  const built = builtCiliumVersions();
  const v = version?.replace(/^v/, '');
  if (!v || !built.includes(v)) {
    throw new Error(
      `the lab has no clustermesh-apiserver for Cilium ${v ?? '(no image tag)'}: it builds ${built.join(', ')} (LAB_CILIUM_VERSIONS in lab/versions.env); set image.tag to one of them`,
    );
  }
  const file = join(bin, `clustermesh-apiserver-${v}`);
  if (!existsSync(file)) throw new Error(`missing ${file}: run lab/build.sh`);
  return file;
}

/** Ports of one cluster's chain (health, API, gops, local etcd client): 25000 + 100·slot + 10·index + k. */
export function chainPorts(index: number) {
  const base = 25000 + 100 * labSlot() + 10 * index;
  return { etcdLocal: base, clustermeshHealth: base + 1, kvstoremeshHealth: base + 2, kvstoremeshApi: base + 3, clustermeshGops: base + 4, kvstoremeshGops: base + 5 };
}

export interface ComponentStatus {
  state: 'absent' | 'starting' | 'ready' | 'error';
  pid?: number;
  error?: string;
}

export interface EndpointStatus {
  cluster: string;
  fingerprint: string;
  state: 'absent' | 'serving' | 'error';
  listen: string[];
  pid?: number;
  error?: string;
  syncedAt: string;
  version?: string;
  /** `deployment`: the chart's kvstoremesh container; `agents`: the stand-in for the agents' connections. */
  kvstoremeshFor?: 'deployment' | 'agents';
  kvstoremeshApi?: string;
  components?: Record<'etcd' | 'clustermesh' | 'kvstoremesh', ComponentStatus>;
}

/** The addresses peers dial for this cluster: NodePort on every worker IP (or a loopback LB IP). */
export function listenAddresses(inputs: ClusterInputs): { host: string; port: number }[] {
  const svc = inputs.service;
  if (!svc) return [];
  if (svc.type === 'NodePort' && svc.nodePort) return inputs.workerIPs.map((host) => ({ host, port: svc.nodePort! }));
  if (svc.type === 'LoadBalancer' && svc.loadBalancerIP?.startsWith('127.')) return [{ host: svc.loadBalancerIP, port: 2379 }];
  return [];
}

const hash = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);

/** Where the chart mounts the remote client certificate for peer configs (both charts, both workloads). */
const CLIENT_FILES: Record<string, 'ca' | 'crt' | 'key'> = {
  'common-etcd-client-ca.crt': 'ca',
  'common-etcd-client.crt': 'crt',
  'common-etcd-client.key': 'key',
};

class InUse extends Error {}

class Proc {
  pid: number | undefined;
  fp = '';
  constructor(private readonly pidFile: string) {}
  alive(): boolean {
    return this.pid !== undefined && isAlive(this.pid);
  }
  started(pid: number, fp: string): void {
    this.pid = pid;
    this.fp = fp;
    writeFileSync(this.pidFile, String(pid));
  }
  async stop(): Promise<void> {
    if (this.pid !== undefined) await stopPid(this.pid);
    this.pid = undefined;
    this.fp = '';
    rmSync(this.pidFile, { force: true });
  }
}

/** A shell run in a private mount namespace with the pod's /etc/hosts and a resolv.conf that answers nowhere. */
function inPodMounts(dir: string, cmd: string[]): [string, string[]] {
  return [
    'unshare',
    ['-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/resolv.conf && shift 2 && exec "$@"', 'sh', join(dir, 'hosts'), join(dir, 'resolv.conf'), ...cmd],
  ];
}

export class ClusterChain {
  private readonly etcd: Proc;
  private readonly clustermesh: Proc;
  private readonly kvstoremesh: Proc;
  private readonly ports: ReturnType<typeof chainPorts>;
  private crdsFor = '';
  /** Inputs (etcd fingerprint) whose start failed: not retried until they change. */
  private failedFor = '';
  private usersText: string | undefined;
  status: EndpointStatus;

  constructor(
    readonly cluster: string,
    private readonly index: number,
    private readonly dir: string,
    private readonly bin: string,
    /** Applies manifests to this cluster (kubectl apply --server-side). */
    private readonly apply: (files: string[]) => Promise<void>,
    private readonly modCache: () => Promise<string>,
    /** A kubeconfig with this cluster's context only (the clustermesh container's in-cluster access). */
    private readonly kubeconfig: string,
  ) {
    mkdirSync(dir, { recursive: true });
    this.etcd = new Proc(join(dir, 'etcd.pid'));
    this.clustermesh = new Proc(join(dir, 'clustermesh.pid'));
    this.kvstoremesh = new Proc(join(dir, 'kvstoremesh.pid'));
    this.ports = chainPorts(index);
    this.status = { cluster, fingerprint: '', state: 'absent', listen: [], syncedAt: new Date().toISOString() };
  }

  /** `host:port` of the kvstoremesh API (kvstoremesh-dbg -H), while it runs. */
  kvstoremeshApi(): string | undefined {
    return this.kvstoremesh.alive() ? `127.0.0.1:${this.ports.kvstoremeshApi}` : undefined;
  }

  /** The clustermesh-apiserver binary of the running version. */
  binary(): string {
    return ciliumBinary(this.bin, this.status.version);
  }

  /** Admin access to the local etcd, as the clustermesh container has it. */
  localEtcd(): { hosts: string; ca: string; cert: string; key: string } | undefined {
    if (!this.etcd.alive()) return undefined;
    const tls = (n: string) => readFileSync(join(this.dir, 'tls', n), 'utf8');
    return { hosts: `https://127.0.0.1:${this.ports.etcdLocal}`, ca: tls('ca.crt'), cert: tls('admin.crt'), key: tls('admin.key') };
  }

  /** The binary and the files `kvstoremesh-dbg troubleshoot` needs, as the kvstoremesh container sees them. */
  troubleshootCommand(): [string, string[]] | undefined {
    if (!this.kvstoremesh.alive() || !this.status.version) return undefined;
    const bin = ciliumBinary(this.bin, this.status.version);
    return inPodMounts(this.dir, [bin, 'kvstoremesh-dbg', 'troubleshoot', `--etcd-config=${join(this.dir, 'etcd-config.yaml')}`, `--clustermesh-config=${join(this.dir, 'clustermesh')}/`]);
  }

  /** Brings the chain in line with the cluster's current inputs. */
  async sync(inputs: ClusterInputs): Promise<void> {
    const listen = listenAddresses(inputs);
    const missing = !inputs.server
      ? 'Secret clustermesh-apiserver-server-cert'
      : !inputs.caCert
        ? 'Secret cilium-ca'
        : !inputs.admin
          ? 'Secret clustermesh-apiserver-admin-cert'
          : listen.length === 0
            ? 'Service clustermesh-apiserver (NodePort on workers)'
            : !inputs.clusterName
              ? 'ConfigMap cilium-config'
              : '';
    const now = new Date().toISOString();
    if (missing) {
      await this.stop();
      this.status = { cluster: this.cluster, fingerprint: '', state: 'absent', listen: [], error: `no ${missing}`, syncedAt: now };
      return;
    }
    let binary: string;
    try {
      binary = ciliumBinary(this.bin, inputs.version);
    } catch (err) {
      await this.stop();
      this.status = { cluster: this.cluster, fingerprint: '', state: 'error', listen: [], error: (err as Error).message, syncedAt: now, version: inputs.version };
      return;
    }
    const name = inputs.clusterName!;
    const version = inputs.version!.replace(/^v/, '');
    const etcdFp = hash({ name, version, ca: inputs.etcdTrust ?? inputs.caCert, server: inputs.server, listen });
    const components = { etcd: { state: 'absent' }, clustermesh: { state: 'absent' }, kvstoremesh: { state: 'absent' } } as Record<'etcd' | 'clustermesh' | 'kvstoremesh', ComponentStatus>;
    if (etcdFp === this.failedFor) return;
    try {
      if (etcdFp !== this.etcd.fp || !this.etcd.alive()) {
        await this.stop();
        try {
          await this.startEtcd(binary, inputs, listen, etcdFp);
        } catch (err) {
          await this.etcd.stop();
          // A port still taken is retried at the next poll; anything else waits for new inputs.
          if (!(err instanceof InUse)) this.failedFor = etcdFp;
          throw err;
        }
        this.failedFor = '';
      }
      components.etcd = { state: 'ready', pid: this.etcd.pid };
      this.writeCommon(inputs);
      components.clustermesh = await this.syncClustermesh(binary, version, inputs);
      components.kvstoremesh = await this.syncKvstoremesh(binary, version, inputs);
      this.status = {
        cluster: this.cluster,
        fingerprint: hash([this.etcd.fp, this.clustermesh.fp, this.kvstoremesh.fp]),
        state: 'serving',
        listen: listen.map((l) => `${l.host}:${l.port}`),
        pid: this.etcd.pid,
        syncedAt: now,
        version,
        ...(inputs.kvstoremeshFor ? { kvstoremeshFor: inputs.kvstoremeshFor } : {}),
        ...(this.kvstoremeshApi() ? { kvstoremeshApi: this.kvstoremeshApi() } : {}),
        components,
      };
    } catch (err) {
      this.status = { cluster: this.cluster, fingerprint: '', state: 'error', listen: [], error: err instanceof Error ? err.message : String(err), syncedAt: now, version, components };
    }
  }

  /** The real etcdinit (users, roles, auth on), then etcd as the chart's etcd container runs it. */
  private async startEtcd(binary: string, inputs: ClusterInputs, listen: { host: string; port: number }[], fp: string): Promise<void> {
    for (const sub of ['data', 'tls', 'usr-upper', 'usr-work']) rmSync(join(this.dir, sub), { recursive: true, force: true });
    mkdirSync(join(this.dir, 'tls'), { recursive: true, mode: 0o700 });
    const tls = (n: string) => join(this.dir, 'tls', n);
    writeFileSync(tls('server.crt'), inputs.server!.crt, { mode: 0o600 });
    writeFileSync(tls('server.key'), inputs.server!.key, { mode: 0o600 });
    writeFileSync(tls('ca.crt'), inputs.etcdTrust ?? inputs.caCert!, { mode: 0o600 });
    for (const l of listen) {
      // A listener in its last moments (a process of this lab still exiting) gets a few seconds.
      const until = Date.now() + 5000;
      while ((await portOpen(l.host, l.port)) && Date.now() < until) await sleep(200);
      if (!(await portOpen(l.host, l.port))) continue;
      const who = (await run('ss', ['-ltnpH', `src ${l.host}:${l.port}`], { allowFail: true })).stdout.trim();
      throw new InUse(`${l.host}:${l.port} is already in use${who ? ` (${who})` : ''}`);
    }
    const token = randomUUID();
    const data = join(this.dir, 'data');
    mkdirSync(data, { recursive: true, mode: 0o700 });
    mkdirSync(join(this.dir, 'usr-upper'), { recursive: true });
    mkdirSync(join(this.dir, 'usr-work'), { recursive: true });
    // etcdinit runs /usr/bin/etcd on http://localhost:2379: give it a private network namespace and
    // the lab's etcd at /usr/bin/etcd (an overlay over /usr/bin, in a private mount namespace).
    const script = [
      'set -e',
      'ip link set lo up',
      `mount -t overlay overlay -o lowerdir=/usr/bin,upperdir="$1",workdir="$2" /usr/bin`,
      'touch /usr/bin/etcd',
      'mount --bind "$3" /usr/bin/etcd',
      'shift 3',
      'exec "$@"',
    ].join('\n');
    const r = await run(
      'unshare',
      ['-mn', '--propagation', 'private', 'sh', '-c', script, 'sh', join(this.dir, 'usr-upper'), join(this.dir, 'usr-work'), join(this.bin, 'etcd'),
        binary, 'etcdinit', `--etcd-data-dir=${data}`, '--etcd-cluster-name=clustermesh-apiserver', `--etcd-initial-cluster-token=${token}`, `--cluster-name=${inputs.clusterName}`],
      { allowFail: true, timeoutMs: 120_000 },
    );
    writeFileSync(join(this.dir, 'etcdinit.log'), r.stdout + r.stderr);
    rmSync(join(this.dir, 'usr-upper'), { recursive: true, force: true });
    rmSync(join(this.dir, 'usr-work'), { recursive: true, force: true });
    if (r.code !== 0) throw new Error(`etcdinit exited ${r.code}; see ${join(this.dir, 'etcdinit.log')}`);
    const local = `https://127.0.0.1:${this.ports.etcdLocal}`;
    const urls = [local, ...listen.map((l) => `https://${l.host}:${l.port}`)].join(',');
    const peer = `http://${labNet()}.${this.index}.254:2380`;
    const args = [
      `--data-dir=${data}`,
      '--name=clustermesh-apiserver',
      '--client-cert-auth',
      `--trusted-ca-file=${tls('ca.crt')}`,
      `--cert-file=${tls('server.crt')}`,
      `--key-file=${tls('server.key')}`,
      `--listen-client-urls=${urls}`,
      `--advertise-client-urls=${local}`,
      `--initial-cluster-token=${token}`,
      '--auto-compaction-retention=1',
      // Lab only: etcdinit's member advertises localhost:2380, which every cluster would share.
      `--listen-peer-urls=${peer}`,
      '--log-level=warn',
    ];
    const pid = spawnDetached(join(this.bin, 'etcd'), args, join(this.dir, 'etcd.log'));
    this.etcd.started(pid, fp);
    await waitFor(`etcd of ${this.cluster} on 127.0.0.1:${this.ports.etcdLocal}`, 15000, async () => {
      if (!isAlive(pid)) throw new Error(`etcd exited; see ${join(this.dir, 'etcd.log')}`);
      return (await portOpen('127.0.0.1', this.ports.etcdLocal)) ? true : undefined;
    });
  }

  /** The admin client config the clustermesh and kvstoremesh containers get (etcd-config.yaml). */
  private writeCommon(inputs: ClusterInputs): void {
    const tls = (n: string) => join(this.dir, 'tls', n);
    writeFileSync(tls('admin.crt'), inputs.admin!.crt, { mode: 0o600 });
    writeFileSync(tls('admin.key'), inputs.admin!.key, { mode: 0o600 });
    const cfg = { endpoints: [`https://127.0.0.1:${this.ports.etcdLocal}`], 'trusted-ca-file': tls('ca.crt'), 'cert-file': tls('admin.crt'), 'key-file': tls('admin.key') };
    writeIfChanged(join(this.dir, 'etcd-config.yaml'), YAML.stringify(cfg));
  }

  private async ensureCrds(version: string, inputs: ClusterInputs): Promise<void> {
    const key = hash({ version, nodes: inputs.nodes });
    if (key === this.crdsFor) return;
    const dir = join(await this.modCache(), 'github.com', 'cilium', `cilium@v${version}`, 'pkg', 'k8s', 'apis', 'cilium.io', 'client', 'crds', 'v2');
    const files = ['ciliumnodes', 'ciliumidentities', 'ciliumendpoints', 'ciliumexternalworkloads'].map((n) => join(dir, `${n}.yaml`)).filter((f) => existsSync(f));
    if (files.length < 3) throw new Error(`no Cilium CRDs in ${dir}: run lab/build.sh`);
    await this.apply(files);
    // What the agents would write: one CiliumNode per node (the clustermesh-apiserver syncs them).
    const nodes = inputs.nodes.map((n) => ({
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumNode',
      metadata: { name: n.name },
      spec: { addresses: [{ type: 'InternalIP', ip: n.ip }] },
    }));
    const f = join(this.dir, 'ciliumnodes.yaml');
    writeFileSync(f, nodes.map((n) => YAML.stringify(n)).join('---\n'));
    await this.apply([f]);
    this.crdsFor = key;
  }

  private async syncClustermesh(binary: string, version: string, inputs: ClusterInputs): Promise<ComponentStatus> {
    const usersEnabled = inputs.remoteUsersText !== undefined;
    const usersFile = join(this.dir, 'users.yaml');
    // The real users manager re-reads this file on change: no restart.
    if (usersEnabled && inputs.remoteUsersText !== this.usersText) {
      writeIfChanged(usersFile, inputs.remoteUsersText!);
      this.usersText = inputs.remoteUsersText;
    }
    const fp = hash({ etcd: this.etcd.fp, version, name: inputs.clusterName, id: inputs.clusterId, max: inputs.maxConnectedClusters, admin: inputs.admin, usersEnabled });
    if (fp !== this.clustermesh.fp || !this.clustermesh.alive()) {
      await this.clustermesh.stop();
      await this.ensureCrds(version, inputs);
      writeFileSync(join(this.dir, 'kubeconfig'), this.kubeconfig, { mode: 0o600 });
      const args = [
        'clustermesh',
        `--cluster-name=${inputs.clusterName}`,
        `--cluster-id=${inputs.clusterId ?? 0}`,
        `--k8s-kubeconfig-path=${join(this.dir, 'kubeconfig')}`,
        `--kvstore-opt=etcd.config=${join(this.dir, 'etcd-config.yaml')}`,
        '--kvstore-opt=etcd.qps=20',
        // etcd.bootstrapQps exists from 1.16 (pkg/kvstore/etcd.go); 1.15 refuses an unknown option.
        ...(minorOf(version) >= 16 ? ['--kvstore-opt=etcd.bootstrapQps=10000'] : []),
        `--max-connected-clusters=${inputs.maxConnectedClusters ?? 255}`,
        // 1.15 names it --clustermesh-health-port (default 80) and serves /healthz only.
        `${minorOf(version) >= 16 ? '--health-port' : '--clustermesh-health-port'}=${this.ports.clustermeshHealth}`,
        ...(usersEnabled ? ['--cluster-users-enabled', `--cluster-users-config-path=${usersFile}`] : []),
        ...gops(version, this.ports.clustermeshGops),
      ];
      this.clustermesh.started(spawnDetached(binary, args, join(this.dir, 'clustermesh.log')), fp);
    }
    return this.health(this.clustermesh, this.ports.clustermeshHealth, minorOf(version) >= 16 ? '/readyz' : '/healthz');
  }

  private async syncKvstoremesh(binary: string, version: string, inputs: ClusterInputs): Promise<ComponentStatus> {
    if (!inputs.kvstoremeshFor || !inputs.remote) {
      await this.kvstoremesh.stop();
      return { state: 'absent' };
    }
    // Peer configs as the container sees them, with the client certificate paths pointing at local files.
    const cmDir = join(this.dir, 'clustermesh');
    const want = new Map<string, string>();
    for (const p of inputs.peers) {
      const o = (YAML.parse(p.text) ?? {}) as Record<string, unknown>;
      for (const k of ['trusted-ca-file', 'cert-file', 'key-file']) {
        const base = String(o[k] ?? '').split('/').pop() ?? '';
        const which = CLIENT_FILES[base];
        if (which) o[k] = join(this.dir, 'tls', `remote-${which}`);
      }
      want.set(p.name, YAML.stringify(o));
    }
    const hosts = ['127.0.0.1 localhost', '::1 localhost', ...socketLb(inputs, version).map(([ip, host]) => `${ip} ${host}`)].join('\n') + '\n';
    const fp = hash({ etcd: this.etcd.fp, version, name: inputs.clusterName, id: inputs.clusterId, max: inputs.maxConnectedClusters, remote: inputs.remote, remoteTrust: inputs.remoteTrust, hosts, peers: [...want], for: inputs.kvstoremeshFor, rollout: inputs.dialerGeneration });
    if (fp !== this.kvstoremesh.fp || !this.kvstoremesh.alive()) {
      await this.kvstoremesh.stop();
      rmSync(cmDir, { recursive: true, force: true });
      mkdirSync(cmDir, { recursive: true });
      for (const [n, text] of want) writeFileSync(join(cmDir, n), text, { mode: 0o600 });
      const tls = (n: string) => join(this.dir, 'tls', n);
      writeFileSync(tls('remote-ca'), inputs.remoteTrust ?? (inputs.remote.ca || inputs.caCert!), { mode: 0o600 });
      writeFileSync(tls('remote-crt'), inputs.remote.crt, { mode: 0o600 });
      writeFileSync(tls('remote-key'), inputs.remote.key, { mode: 0o600 });
      writeFileSync(join(this.dir, 'hosts'), hosts);
      // No name server answers here: a name outside the hosts file fails as "no such host".
      writeFileSync(join(this.dir, 'resolv.conf'), 'nameserver 127.0.0.254\noptions timeout:1 attempts:1\n');
      const args = [
        'kvstoremesh',
        `--cluster-name=${inputs.clusterName}`,
        `--cluster-id=${inputs.clusterId ?? 0}`,
        `--kvstore-opt=etcd.config=${join(this.dir, 'etcd-config.yaml')}`,
        '--kvstore-opt=etcd.qps=100',
        // etcd.bootstrapQps exists from 1.16 (pkg/kvstore/etcd.go); 1.15 refuses an unknown option.
        ...(minorOf(version) >= 16 ? ['--kvstore-opt=etcd.bootstrapQps=10000'] : []),
        '--kvstore-opt=etcd.maxInflight=10',
        `--clustermesh-config=${cmDir}`,
        `--max-connected-clusters=${inputs.maxConnectedClusters ?? 255}`,
        // 1.15's kvstoremesh has no health API.
        ...(minorOf(version) >= 16 ? [`--health-port=${this.ports.kvstoremeshHealth}`] : []),
        `--api-serve-addr=127.0.0.1:${this.ports.kvstoremeshApi}`,
        ...(minorOf(version) >= 17 ? ['--enable-heartbeat=true'] : []),
        ...gops(version, this.ports.kvstoremeshGops),
      ];
      const [cmd, full] = inPodMounts(this.dir, [binary, ...args]);
      this.kvstoremesh.started(spawnDetached(cmd, full, join(this.dir, 'kvstoremesh.log')), fp);
    }
    if (minorOf(version) < 16) return { state: (await portOpen('127.0.0.1', this.ports.kvstoremeshApi)) ? 'ready' : 'starting', pid: this.kvstoremesh.pid };
    return this.health(this.kvstoremesh, this.ports.kvstoremeshHealth, '/readyz');
  }

  private async health(p: Proc, port: number, path: string): Promise<ComponentStatus> {
    if (!p.alive()) return { state: 'error', error: 'exited (see its log in the lab state)' };
    try {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(1000) });
      return { state: res.status === 200 ? 'ready' : 'starting', pid: p.pid };
    } catch {
      return { state: 'starting', pid: p.pid };
    }
  }

  async stop(): Promise<void> {
    await this.kvstoremesh.stop();
    await this.clustermesh.stop();
    await this.etcd.stop();
    this.usersText = undefined;
  }
}

/**
 * The hostAliases a dialler's connections resolve, with the one datapath effect the lab models: with
 * kube-proxy replacement, the socket load balancer (bpf/bpf_sock.c, `sock4_wildcard_lookup`) turns a
 * connect to <a remote node's IP>:<NodePort of a local NodePort Service> into that Service's local
 * backend, so a peer dialled on the cluster's own NodePort is never reached (DESIGN.md §4). The hook
 * sits on every connect of the node, so it applies to both diallers: the agents and the
 * clustermesh-apiserver pod's KVStoreMesh. Read in the cilium module's source: 1.15.19, 1.16.19 and
 * 1.17.14 take every remote-node identity; from 1.18 (1.18.11, 1.19.0, 1.20.2) the lookup skips nodes
 * of remote clusters (`!info->flag_remote_cluster`), so the peer is reached. The lab cannot run that
 * datapath: it points such a peer's name at the local workers instead, and the real components do the
 * rest (own etcd, no remote-<own name> user: permission denied).
 */
function socketLb(inputs: ClusterInputs, version: string): [string, string][] {
  const own = inputs.service?.type === 'NodePort' ? inputs.service.nodePort : undefined;
  if (!inputs.kvstoremeshFor || !inputs.kubeProxyReplacement || minorOf(version) >= 18 || !own || !inputs.workerIPs[0]) return inputs.hostAliases;
  const landed = new Set<string>();
  for (const p of inputs.peers) {
    const ep = ((YAML.parse(p.text) ?? {}) as { endpoints?: string[] }).endpoints?.[0];
    try {
      const u = new URL(String(ep));
      if (Number(u.port || 2379) === own) landed.add(u.hostname);
    } catch {
      // not a URL: nothing to translate
    }
  }
  return inputs.hostAliases.map(([ip, host]): [string, string] => [landed.has(host) ? inputs.workerIPs[0]! : ip, host]);
}

function minorOf(version: string): number {
  return Number(version.split('.')[1] ?? 0);
}

/** 1.16 has no --enable-gops (gops always on, default port shared): give each process its own port. */
function gops(version: string, port: number): string[] {
  return minorOf(version) >= 17 ? ['--enable-gops=false'] : [`--gops-port=${port}`];
}

function writeIfChanged(file: string, text: string): void {
  try {
    if (existsSync(file) && readFileSync(file, 'utf8') === text) return;
  } catch {
    // rewrite
  }
  writeFileSync(file + '.tmp', text, { mode: 0o600 });
  renameSync(file + '.tmp', file);
}
