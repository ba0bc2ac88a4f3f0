// doctor end to end over in-memory clusters: status, topology, probes (to closed ports on
// 127.0.0.0/8 only) and the refinement, through the library (runDoctor) and the CLI command.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runDoctor } from '../../src/doctor/run.js';
import { readTopology } from '../../src/doctor/topology.js';
import { formatDoctorReport, type DoctorReport } from '../../src/doctor/doctor.js';
import { doctorCommand } from '../../src/cli/live.js';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/io.js';
import type { KubeObject } from '../../src/kube/client.js';
import { clusterError } from '../../src/kube/errors.js';
import { FakeClusterClient, agentPod, fakeConnector, node } from '../kube/fake-client.js';
import { makeCa, makeLeaf, type TestCa } from './certs.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const DENIED = 'failed to detect whether the cluster configuration is required: etcdserver: permission denied';

let ca: TestCa;
/** Ports nothing listens on, so probes fail fast at TCP without leaving the machine. */
let closed: [number, number];

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

before(async () => {
  ca = await makeCa();
  closed = [await closedPort(), await closedPort()];
});

interface Peer {
  name: string;
  ips: string[];
  port: number;
  /** The agents' view of this peer (default ready). */
  status?: string;
}

interface Shape {
  name: string;
  /** Second octet: nodes are 127.<n>.0.11/12 (control plane) and .21/.22 (workers). */
  net: number;
  nodePort: number;
  peers: Peer[];
  /** Users its clustermesh-apiserver admits (default remote-<peer> of every peer). */
  users?: string[];
  kpr?: string;
}

const ip = (net: number, host: number) => `127.${net}.0.${host}`;

async function cluster(s: Shape): Promise<FakeClusterClient> {
  const remote = await makeLeaf(ca, `remote-${s.name}`);
  const agentJson = JSON.stringify({
    'cluster-mesh': {
      clusters: s.peers.map((p) =>
        p.status
          ? { name: p.name, status: p.status, 'num-failures': 3, synced: {} }
          : { name: p.name, ready: true, connected: true, status: 'etcd: 1/1 connected', config: { required: true, retrieved: true }, synced: { nodes: true, endpoints: true, identities: true, services: true } },
      ),
    },
  });
  const objs: KubeObject[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system', uid: `uid-${s.name}` } },
    node(`${s.name}-cp1`, ip(s.net, 11), ['control-plane', 'etcd', 'master']),
    node(`${s.name}-cp2`, ip(s.net, 12), ['control-plane', 'etcd', 'master']),
    node(`${s.name}-w1`, ip(s.net, 21)),
    node(`${s.name}-w2`, ip(s.net, 22)),
    { apiVersion: 'helm.cattle.io/v1', kind: 'HelmChart', metadata: { name: 'rke2-cilium', namespace: 'kube-system' }, spec: { version: '1.15.500', set: {} } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cilium-config', namespace: 'kube-system' },
      data: { 'cluster-name': s.name, 'cluster-id': '1', 'kube-proxy-replacement': s.kpr ?? 'true' } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'clustermesh-apiserver', namespace: 'kube-system' }, spec: { type: 'NodePort', ports: [{ port: 2379, nodePort: s.nodePort }] } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cilium-clustermesh', namespace: 'kube-system' },
      data: Object.fromEntries(s.peers.map((p) => [p.name, b64(stringify({ endpoints: [`https://${p.name}.mesh.cilium.io:${p.port}`] }))])) },
    { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'cilium', namespace: 'kube-system' },
      spec: { template: { spec: { containers: [{ name: 'cilium-agent', image: 'rancher/mirrored-cilium-cilium:v1.15.5' }], hostAliases: s.peers.map((p) => ({ ip: p.ips[0], hostnames: [`${p.name}.mesh.cilium.io`] })) } } } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'clustermesh-remote-users', namespace: 'kube-system' },
      data: { 'users.yaml': stringify({ users: (s.users ?? s.peers.map((p) => `remote-${p.name}`)).map((name) => ({ name, role: 'remote' })) }) } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'clustermesh-apiserver-remote-cert', namespace: 'kube-system' },
      data: { 'tls.crt': b64(remote.certPem), 'tls.key': b64(remote.keyPem), 'ca.crt': b64(ca.certPem) } },
    agentPod('cilium-a', `${s.name}-w1`),
    agentPod('cilium-b', `${s.name}-w2`),
  ];
  const c = new FakeClusterClient(s.name, objs);
  c.execHandler = (_ns, _pod, container, cmd) => {
    if (container === 'cilium-agent' && (cmd[0] === 'cilium-dbg' || cmd[0] === 'cilium') && cmd[1] === 'status') return { stdout: agentJson, stderr: '', exitCode: 0 };
    return { stdout: '', stderr: 'not in this fake', exitCode: 1 };
  };
  return c;
}

/** The seed's two clusters; mesh01 dials mesh02 at `mesh02ips` (default its workers). */
async function mesh(opts: { mesh02ips?: string[]; mesh01status?: string; mesh02users?: string[]; mesh02peers?: Peer[] } = {}) {
  const [p1, p2] = closed;
  const mesh01 = await cluster({ name: 'mesh01', net: 1, nodePort: p1, peers: [{ name: 'mesh02', ips: opts.mesh02ips ?? [ip(2, 21)], port: p2, ...(opts.mesh01status ? { status: opts.mesh01status } : {}) }] });
  const mesh02 = await cluster({ name: 'mesh02', net: 2, nodePort: p2, peers: opts.mesh02peers ?? [{ name: 'mesh01', ips: [ip(1, 21)], port: p1 }], ...(opts.mesh02users ? { users: opts.mesh02users } : {}) });
  return { mesh01, mesh02 };
}

test('readTopology reads nodes, Service, version, kube-proxy replacement, dials, declared peers, admitted users and the login user', async () => {
  const { mesh01, mesh02 } = await mesh();
  mesh02.fail = () => clusterError({ cluster: 'mesh02', code: 'KUBE_UNREACHABLE', message: 'cluster mesh02: cannot reach the Kubernetes API', rule: 'r', fix: 'f' });
  const { topology, unreadable } = await readTopology([{ name: 'mesh01', client: mesh01, index: 0 }, { name: 'mesh02', client: mesh02, index: 1 }]);
  const t = topology.clusters['mesh01'];
  assert.equal(t?.index, 0);
  assert.deepEqual(t?.nodes?.map((n) => n.name), ['mesh01-cp1', 'mesh01-cp2', 'mesh01-w1', 'mesh01-w2']);
  assert.deepEqual(t?.service, { type: 'NodePort', nodePort: closed[0] });
  assert.equal(t?.ciliumVersion, '1.15.5');
  assert.equal(t?.kubeProxyReplacement, true);
  assert.deepEqual(t?.dials?.map((d) => [d.peer, d.host, d.port]), [['mesh02', ip(2, 21), closed[1]]]);
  assert.deepEqual(t?.declaredPeers, ['mesh02']);
  assert.deepEqual(t?.admittedUsers, ['remote-mesh02']);
  assert.equal(t?.loginUser, 'remote-mesh01');
  assert.equal(JSON.stringify(topology).includes('PRIVATE KEY'), false, 'no key in the topology');
  assert.equal(topology.clusters['mesh02'], undefined);
  assert.deepEqual(unreadable.map((u) => u.cluster), ['mesh02']);
  assert.match(unreadable[0]?.error ?? '', /cannot reach the Kubernetes API/);
});

test('runDoctor: a control-plane IP as peer endpoint is named for the agents and for the probe of that endpoint', async () => {
  const { mesh01, mesh02 } = await mesh({ mesh02ips: [ip(2, 11)], mesh01status: DENIED });
  const notes: string[] = [];
  const { report } = await runDoctor(
    [{ name: 'mesh01', client: mesh01, index: 0, peers: ['mesh02'] }, { name: 'mesh02', client: mesh02, index: 1, peers: ['mesh01'] }],
    { probeOptions: { timeoutMs: 2000 }, onProgress: (m) => notes.push(m) },
  );
  assert.equal(report.healthy, false);
  const agent = report.findings.find((f) => f.source === 'agent');
  assert.equal(agent?.code, 'ENDPOINT_CONTROL_PLANE');
  assert.equal(agent?.textCode, 'PERMISSION_DENIED');
  assert.equal(agent?.seen, DENIED);
  assert.deepEqual(agent?.where, ['mesh01-w1', 'mesh01-w2']);
  assert.match(agent?.cause ?? '', /127\.2\.0\.11 \(node mesh02-cp1/);
  assert.match(agent?.fix ?? '', /clusters\[1\]\.endpoint\.ips \(mesh02\) to \[127\.2\.0\.21, 127\.2\.0\.22\]/);
  const probe = report.findings.find((f) => f.source === 'probe' && f.cluster === 'mesh01');
  assert.equal(probe?.code, 'ENDPOINT_CONTROL_PLANE');
  assert.deepEqual(probe?.endpoint, { host: ip(2, 11), port: closed[1] });
  assert.match(probe?.seen ?? '', /^tcp: .*connection refused/);
  // mesh02 dials mesh01's worker on mesh01's NodePort: right IP and port, so only the text speaks.
  const other = report.findings.find((f) => f.source === 'probe' && f.cluster === 'mesh02');
  assert.equal(other?.code, 'UNREACHABLE');
  assert.equal(other?.textCode, undefined);
  assert.ok(notes.some((n) => /probing every peer endpoint/.test(n)));
});

test('runDoctor: without probes, a one-sided peering is PEER_ONE_SIDED; an unreadable cluster is tolerated', async () => {
  const { mesh01, mesh02 } = await mesh({ mesh01status: DENIED, mesh02users: [], mesh02peers: [] });
  const third = await cluster({ name: 'mesh03', net: 3, nodePort: 1, peers: [] });
  third.fail = () => clusterError({ cluster: 'mesh03', code: 'KUBE_UNREACHABLE', message: 'cluster mesh03: cannot reach the Kubernetes API', rule: 'r', fix: 'f' });
  const notes: string[] = [];
  const { report, unreadable } = await runDoctor(
    [{ name: 'mesh01', client: mesh01, peers: ['mesh02'] }, { name: 'mesh02', client: mesh02, peers: ['mesh01'] }, { name: 'mesh03', client: third, peers: [] }],
    { probe: false, onProgress: (m) => notes.push(m) },
  );
  assert.deepEqual(report.probes, []);
  assert.deepEqual(unreadable.map((u) => u.cluster), ['mesh03']);
  assert.ok(notes.some((n) => /^mesh03: its topology cannot be read/.test(n)), notes.join('\n'));
  const codes = report.findings.map((f) => `${f.cluster}→${f.peer ?? ''} ${f.code}`).sort();
  assert.deepEqual(codes, ['mesh01→mesh02 PEER_ONE_SIDED', 'mesh02→mesh01 PEER_NOT_CONFIGURED', 'mesh03→ CLUSTER_ACCESS']);
  const f = report.findings.find((x) => x.code === 'PEER_ONE_SIDED');
  assert.match(f?.cause ?? '', /^mesh02 does not list mesh01 as a peer, so mesh02's clustermesh-apiserver does not admit user remote-mesh01/);
  assert.match(formatDoctorReport(report), /✗ mesh01 → mesh02 \[PEER_ONE_SIDED\] \(agent, mesh01-w1, mesh01-w2\)\n {4}seen: {2}failed to detect .*permission denied\n {4}cause: mesh02 does not list mesh01/);
});

function captureIo(cwd: string): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t), now: () => new Date(), cwd, env: {} };
}

test('meshform doctor -o json: the same NodePort on both clusters is SAME_NODEPORT in the JSON, exit 1', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'meshform-doctor-'));
  await writeFile(join(dir, 'mesh.yaml'), stringify({
    apiVersion: 'meshform/v1alpha1', kind: 'Mesh', name: 'unit', cilium: { version: '1.15.5' }, authMode: 'cluster', ca: { cert: 'ca/ca.crt', key: 'ca/ca.key' },
    clusters: [
      { name: 'mesh01', id: 1, podCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/18', endpoint: { nodePort: 32379, ips: [ip(1, 21), ip(1, 22)] } },
      { name: 'mesh02', id: 2, podCIDR: '10.245.0.0/16', serviceCIDR: '10.96.64.0/18', endpoint: { nodePort: 32380, ips: [ip(2, 21), ip(2, 22)] } },
    ],
  }));
  assert.equal(await main(['ca', 'init', '--spec', join(dir, 'mesh.yaml')], captureIo(dir)), 0);
  // Both clusters serve on one NodePort and dial each other on it.
  const port = closed[0];
  const mesh01 = await cluster({ name: 'mesh01', net: 1, nodePort: port, peers: [{ name: 'mesh02', ips: [ip(2, 21)], port, status: DENIED }] });
  const mesh02 = await cluster({ name: 'mesh02', net: 2, nodePort: port, peers: [{ name: 'mesh01', ips: [ip(1, 21)], port, status: 'context deadline exceeded' }] });
  const clients = new Map([['mesh01', mesh01], ['mesh02', mesh02]]);
  const io = captureIo(dir);
  const code = await doctorCommand(io, join(dir, 'mesh.yaml'), { output: 'json', probe: false, execTimeout: '5s' }, { connector: fakeConnector(clients) });
  assert.equal(code, 1, io.stderr.join('\n'));
  const report = JSON.parse(io.stdout.join('')) as DoctorReport;
  const byLink = Object.fromEntries(report.findings.map((f) => [`${f.cluster}→${f.peer}`, f]));
  assert.equal(byLink['mesh01→mesh02']?.code, 'SAME_NODEPORT');
  assert.equal(byLink['mesh01→mesh02']?.textCode, 'PERMISSION_DENIED');
  assert.match(byLink['mesh01→mesh02']?.cause ?? '', new RegExp(`^mesh01's kube-proxy replacement catches connections to port ${port} \\(mesh01's own clustermesh NodePort\\)`));
  assert.match(byLink['mesh01→mesh02']?.fix ?? '', new RegExp(`mesh01 and mesh02 both use ${port}; set clusters\\[1\\]\\.endpoint\\.nodePort \\(mesh02\\) to another port`));
  assert.equal(byLink['mesh02→mesh01']?.code, 'SAME_NODEPORT');
  assert.equal(byLink['mesh02→mesh01']?.textCode, 'UNREACHABLE');
  assert.equal(io.stdout.join('').includes('PRIVATE KEY'), false);

  // The same clusters without kube-proxy replacement: the facts no longer prove it, the text stands.
  for (const c of [mesh01, mesh02]) c.put({ ...(c.peek('ConfigMap', 'cilium-config', 'kube-system') as KubeObject), data: { 'cluster-name': c.cluster, 'kube-proxy-replacement': 'false' } });
  const io2 = captureIo(dir);
  assert.equal(await doctorCommand(io2, join(dir, 'mesh.yaml'), { output: 'table', probe: false }, { connector: fakeConnector(clients) }), 1);
  assert.match(io2.stdout.join(''), /✗ mesh01 → mesh02 \[PERMISSION_DENIED\]/);
  assert.match(io2.stdout.join(''), /✗ mesh02 → mesh01 \[UNREACHABLE\]/);
});
