import { test } from 'node:test';
import assert from 'node:assert/strict';
import { refineFinding, refineFindings } from '../../src/doctor/refine.js';
import { classifyFailure, type DiagnosisCode } from '../../src/doctor/rules.js';
import { clusterTopology, type ClusterTopology, type MeshTopology } from '../../src/doctor/topology.js';
import type { DoctorFinding } from '../../src/doctor/doctor.js';
import type { NodeFact } from '../../src/kube/facts.js';

const TEXT = {
  denied: 'failed to detect whether the cluster configuration is required: etcdserver: permission denied',
  refused: 'dial tcp 198.51.100.21:32380: connect: connection refused',
  x509: 'tls: failed to verify certificate: x509: certificate signed by unknown authority',
  dns: 'dial tcp: lookup mesh02.mesh.cilium.io on 10.43.0.10:53: no such host',
  odd: 'something nobody has seen before',
  // Real Cilium 1.16+ status for every connection failure (lab: kvstoremesh-dbg 1.16.19, 1.18.11).
  waiting: 'Waiting for initial connection to be established',
} as const;

const node = (name: string, ip: string, cp = false, external?: string): NodeFact => ({
  name, roles: cp ? ['control-plane', 'master', 'etcd'] : ['worker'], internalIPs: [ip], externalIPs: external ? [external] : [], podCIDRs: [],
});

/** Two RKE2-shaped clusters of the seed, meshed correctly: every refinement's facts are false. */
function seed(): MeshTopology {
  const cluster = (name: string, index: number, net: string, nodePort: number, peer: string, peerNet: string, peerPort: number): ClusterTopology => ({
    index,
    nodes: [node(`${name}-cp1`, `${net}.11`, true, `${net}.111`), node(`${name}-cp2`, `${net}.12`, true), node(`${name}-w1`, `${net}.21`, false, `${net}.121`), node(`${name}-w2`, `${net}.22`, false, `${net}.122`)],
    service: { type: 'NodePort', nodePort },
    ciliumVersion: '1.15.5',
    kubeProxyReplacement: true,
    authMode: 'cluster',
    dials: [21, 22].map((h) => ({ cluster: name, peer, host: `${peerNet}.${h}`, port: peerPort, serverName: `${peer}.mesh.cilium.io` })),
    declaredPeers: [peer],
    admittedUsers: [`remote-${peer}`],
    loginUser: `remote-${name}`,
  });
  return {
    clusters: {
      mesh01: cluster('mesh01', 0, '192.0.2', 32379, 'mesh02', '198.51.100', 32380),
      mesh02: cluster('mesh02', 1, '198.51.100', 32380, 'mesh01', '192.0.2', 32379),
    },
  };
}

type Edit = (t: MeshTopology) => void;
const dials = (ips: string[], port = 32380): Edit => (t) => {
  t.clusters['mesh01']!.dials = ips.map((host) => ({ cluster: 'mesh01', peer: 'mesh02', host, port, serverName: 'mesh02.mesh.cilium.io' }));
};
const oneSided: Edit = (t) => {
  t.clusters['mesh02']!.declaredPeers = [];
  t.clusters['mesh02']!.admittedUsers = [];
};
const sameNodePort: Edit = (t) => {
  t.clusters['mesh02']!.service = { type: 'NodePort', nodePort: 32379 };
  dials(['198.51.100.21', '198.51.100.22'], 32379)(t);
};

function finding(text: string, over: Partial<DoctorFinding> = {}): DoctorFinding {
  const d = classifyFailure(text, { cluster: 'mesh01', peer: 'mesh02' });
  return { cluster: 'mesh01', peer: 'mesh02', code: d.code, source: 'agent', seen: text, cause: d.cause, fix: d.fix, where: ['w1'], ...over };
}

interface Case {
  name: string;
  edits: Edit[];
  text: string;
  over?: Partial<DoctorFinding>;
  code: DiagnosisCode;
  cause?: RegExp[];
  fix?: RegExp[];
}

const cases: Case[] = [
  // A consistent mesh: the facts prove nothing, the text classification stands.
  { name: 'consistent facts: permission denied stays PERMISSION_DENIED', edits: [], text: TEXT.denied, code: 'PERMISSION_DENIED' },
  { name: 'consistent facts: connection refused stays UNREACHABLE', edits: [], text: TEXT.refused, code: 'UNREACHABLE' },
  { name: 'consistent facts: a CA mismatch stays CA_MISMATCH', edits: [], text: TEXT.x509, code: 'CA_MISMATCH' },

  // A control-plane IP as peer endpoint.
  { name: 'control-plane IP, permission denied → ENDPOINT_CONTROL_PLANE naming IP, node and the worker IPs to use', edits: [dials(['198.51.100.11'])], text: TEXT.denied,
    code: 'ENDPOINT_CONTROL_PLANE', cause: [/mesh01 dials mesh02 at 198\.51\.100\.11 \(node mesh02-cp1, control-plane\/master\/etcd\)/],
    fix: [/clusters\[1\]\.endpoint\.ips \(mesh02\) to \[198\.51\.100\.21, 198\.51\.100\.22\]/, /render and apply mesh01/] },
  { name: 'control-plane IP among worker IPs, connection refused → ENDPOINT_CONTROL_PLANE', edits: [dials(['198.51.100.21', '198.51.100.12'])], text: TEXT.refused,
    code: 'ENDPOINT_CONTROL_PLANE', cause: [/198\.51\.100\.12 \(node mesh02-cp2/], fix: [/198\.51\.100\.21, 198\.51\.100\.22/] },
  { name: 'control-plane ExternalIP → the workers\' ExternalIPs are suggested', edits: [dials(['198.51.100.111'])], text: TEXT.denied,
    code: 'ENDPOINT_CONTROL_PLANE', fix: [/\[198\.51\.100\.121, 198\.51\.100\.122\]/] },
  { name: 'control-plane IP of a cluster without workers → the fix says so', edits: [dials(['198.51.100.11']), (t) => { t.clusters['mesh02']!.nodes = t.clusters['mesh02']!.nodes!.filter((n) => n.roles[0] !== 'worker'); }],
    text: TEXT.denied, code: 'ENDPOINT_CONTROL_PLANE', fix: [/mesh02 has no worker node/] },

  // A peer declared on one side only.
  { name: 'mesh02 does not list mesh01 → PEER_ONE_SIDED', edits: [oneSided], text: TEXT.denied,
    code: 'PEER_ONE_SIDED', cause: [/^mesh02 does not list mesh01 as a peer, so mesh02's clustermesh-apiserver does not admit user remote-mesh01/], fix: [/render the full mesh/, /apply mesh02$/] },
  { name: 'no users ConfigMap read, but authMode cluster and mesh01 undeclared → PEER_ONE_SIDED', edits: [oneSided, (t) => { delete t.clusters['mesh02']!.admittedUsers; }], text: TEXT.denied, code: 'PEER_ONE_SIDED' },
  { name: 'declared but not in clustermesh-remote-users → PEER_ONE_SIDED naming the ConfigMap', edits: [(t) => { t.clusters['mesh02']!.admittedUsers = []; }], text: TEXT.denied,
    code: 'PEER_ONE_SIDED', cause: [/lists mesh01 as a peer, but .* clustermesh-remote-users/] },
  { name: 'one-sided but the text says connection refused → not the cause: UNREACHABLE stays', edits: [oneSided], text: TEXT.refused, code: 'UNREACHABLE' },
  { name: 'one-sided facts, an unknown text → PEER_ONE_SIDED', edits: [oneSided], text: TEXT.odd, code: 'PEER_ONE_SIDED' },
  { name: 'one-sided facts, Cilium 1.16+ only waiting → PEER_ONE_SIDED', edits: [oneSided], text: TEXT.waiting, code: 'PEER_ONE_SIDED' },
  { name: 'control-plane IP, Cilium 1.16+ only waiting → ENDPOINT_CONTROL_PLANE', edits: [dials(['198.51.100.11'])], text: TEXT.waiting, code: 'ENDPOINT_CONTROL_PLANE' },
  { name: 'consistent facts, Cilium 1.16+ only waiting → NOT_CONNECTED stays (the probe names the cause)', edits: [], text: TEXT.waiting, code: 'NOT_CONNECTED' },
  { name: 'legacy login user `remote` is admitted everywhere → PERMISSION_DENIED stays', edits: [oneSided, (t) => { t.clusters['mesh01']!.loginUser = 'remote'; }], text: TEXT.denied, code: 'PERMISSION_DENIED' },
  { name: 'no users ConfigMap and authMode unknown → not enough facts, PERMISSION_DENIED stays', edits: [oneSided, (t) => { delete t.clusters['mesh02']!.admittedUsers; delete t.clusters['mesh02']!.authMode; }], text: TEXT.denied, code: 'PERMISSION_DENIED' },

  // The same NodePort on both clusters with kube-proxy replacement (≤ 1.18).
  { name: 'same NodePort, permission denied → SAME_NODEPORT naming both clusters, the port and a free one', edits: [sameNodePort], text: TEXT.denied,
    code: 'SAME_NODEPORT', cause: [/^mesh01's kube-proxy replacement catches connections to port 32379 \(mesh01's own clustermesh NodePort\) and sends them to mesh01's own clustermesh-apiserver/, /1\.15\.5/],
    fix: [/mesh01 and mesh02 both use 32379/, /clusters\[1\]\.endpoint\.nodePort \(mesh02\)/, /e\.g\. 32380/] },
  { name: 'same NodePort, connection refused → SAME_NODEPORT', edits: [sameNodePort], text: TEXT.refused, code: 'SAME_NODEPORT' },
  { name: 'same NodePort beats one-sided (the connection never reaches mesh02)', edits: [sameNodePort, oneSided], text: TEXT.denied, code: 'SAME_NODEPORT' },
  { name: 'same NodePort beats a control-plane IP', edits: [sameNodePort, dials(['198.51.100.11'], 32379)], text: TEXT.denied, code: 'SAME_NODEPORT' },
  { name: 'mesh01 dials mesh02 on its own NodePort, mesh02 on another → SAME_NODEPORT, fix: dial mesh02 on 32380', edits: [dials(['198.51.100.21'], 32379)], text: TEXT.denied,
    code: 'SAME_NODEPORT', fix: [/mesh01 serves on 32379, mesh02 on 32380/, /render and apply mesh01/] },
  { name: 'same NodePort on Cilium 1.19 → no SAME_NODEPORT', edits: [sameNodePort, (t) => { t.clusters['mesh01']!.ciliumVersion = '1.19.0'; }], text: TEXT.denied, code: 'PERMISSION_DENIED' },
  { name: 'same NodePort without kube-proxy replacement → no SAME_NODEPORT', edits: [sameNodePort, (t) => { t.clusters['mesh01']!.kubeProxyReplacement = false; }], text: TEXT.denied, code: 'PERMISSION_DENIED' },
  { name: 'same NodePort, kube-proxy replacement unknown → not enough facts', edits: [sameNodePort, (t) => { delete t.clusters['mesh01']!.kubeProxyReplacement; }], text: TEXT.refused, code: 'UNREACHABLE' },
  { name: 'same NodePort, Cilium version unknown → not enough facts', edits: [sameNodePort, (t) => { delete t.clusters['mesh01']!.ciliumVersion; }], text: TEXT.refused, code: 'UNREACHABLE' },
  { name: 'same NodePort does not explain a probe from outside mesh01', edits: [sameNodePort], text: TEXT.denied,
    over: { source: 'probe', endpoint: { host: '198.51.100.21', port: 32379 } }, code: 'PERMISSION_DENIED' },

  // Wrong IP / wrong port.
  { name: 'an address of no node of mesh02, connection refused → WRONG_ENDPOINT_IP', edits: [dials(['203.0.113.9'])], text: TEXT.refused,
    code: 'WRONG_ENDPOINT_IP', cause: [/mesh01 dials mesh02 at 203\.0\.113\.9, which is not the address of any node of mesh02/], fix: [/\[198\.51\.100\.21, 198\.51\.100\.22\]/] },
  { name: 'an unknown address with a CA mismatch: something answers there, the CA text stands', edits: [dials(['203.0.113.9'])], text: TEXT.x509, code: 'CA_MISMATCH' },
  { name: 'mesh01 dials its own node for mesh02 → WRONG_ENDPOINT_IP whatever the text (before SAME_NODEPORT)', edits: [dials(['192.0.2.21'], 32379)], text: TEXT.denied,
    code: 'WRONG_ENDPOINT_IP', cause: [/192\.0\.2\.21, which is mesh01's own node mesh01-w1, not an address of mesh02/] },
  { name: 'an address of a third cluster → WRONG_ENDPOINT_IP naming it', edits: [dials(['203.0.113.21']), (t) => { t.clusters['mesh03'] = { nodes: [node('mesh03-w1', '203.0.113.21')] }; }], text: TEXT.x509,
    code: 'WRONG_ENDPOINT_IP', cause: [/node mesh03-w1 of mesh03/] },
  { name: 'mesh02 nodes unknown → not enough facts for an IP verdict', edits: [dials(['203.0.113.9']), (t) => { delete t.clusters['mesh02']!.nodes; }], text: TEXT.refused, code: 'UNREACHABLE' },
  { name: 'a worker of mesh02 on a port its Service does not use → WRONG_PORT naming the NodePort', edits: [dials(['198.51.100.21'], 32390)], text: TEXT.refused,
    code: 'WRONG_PORT', cause: [/on port 32390, but mesh02's clustermesh-apiserver Service \(NodePort\) listens on NodePort 32380/], fix: [/clusters\[1\]\.endpoint\.nodePort \(mesh02\) must be 32380/] },
  { name: 'a LoadBalancer dialled on a NodePort → WRONG_PORT (2379)', edits: [dials(['203.0.113.50'], 32380), (t) => { t.clusters['mesh02']!.service = { type: 'LoadBalancer', nodePort: 31000, loadBalancerIngress: ['203.0.113.50'] }; }],
    text: TEXT.refused, code: 'WRONG_PORT', cause: [/port 2379 of its LoadBalancer 203\.0\.113\.50/] },
  { name: 'a LoadBalancer dialled on 2379 is right → UNREACHABLE stays', edits: [dials(['203.0.113.50'], 2379), (t) => { t.clusters['mesh02']!.service = { type: 'LoadBalancer', nodePort: 31000, loadBalancerIngress: ['203.0.113.50'] }; }],
    text: TEXT.refused, code: 'UNREACHABLE' },
  { name: 'control-plane IP beats a wrong port', edits: [dials(['198.51.100.11'], 32390)], text: TEXT.refused, code: 'ENDPOINT_CONTROL_PLANE' },
  { name: 'wrong port beats one-sided', edits: [dials(['198.51.100.21'], 32390), oneSided], text: TEXT.denied, code: 'WRONG_PORT' },

  // Probes are judged by the endpoint they probed.
  { name: 'a probe of a worker endpoint ignores the other (control-plane) endpoint', edits: [dials(['198.51.100.21', '198.51.100.11'])], text: TEXT.refused,
    over: { source: 'probe', endpoint: { host: '198.51.100.21', port: 32380 } }, code: 'UNREACHABLE' },
  { name: 'a probe of the control-plane endpoint → ENDPOINT_CONTROL_PLANE', edits: [dials(['198.51.100.21', '198.51.100.11'])], text: TEXT.refused,
    over: { source: 'probe', endpoint: { host: '198.51.100.11', port: 32380 } }, code: 'ENDPOINT_CONTROL_PLANE' },
  { name: 'a probe on a wrong port → WRONG_PORT', edits: [], text: TEXT.refused, over: { source: 'probe', endpoint: { host: '198.51.100.22', port: 32379 } }, code: 'WRONG_PORT' },

  // Never refined.
  { name: 'DNS failures keep DNS even with a control-plane IP', edits: [dials(['198.51.100.11'])], text: TEXT.dns, code: 'DNS' },
  { name: 'a finding without a peer is not a link failure', edits: [dials(['198.51.100.11'])], text: TEXT.denied, over: { peer: undefined }, code: 'PERMISSION_DENIED' },
  { name: 'the peer\'s topology unread → PERMISSION_DENIED stays', edits: [dials(['198.51.100.11']), oneSided, (t) => { delete t.clusters['mesh02']; }], text: TEXT.denied, code: 'PERMISSION_DENIED' },
];

for (const c of cases) {
  test(`refine: ${c.name}`, () => {
    const topo = seed();
    for (const e of c.edits) e(topo);
    const f = finding(c.text, c.over);
    const r = refineFinding(f, topo);
    assert.equal(r.code, c.code, r.cause);
    assert.equal(r.seen, c.text, 'the text seen is kept');
    if (r.code === f.code) assert.deepEqual(r, f, 'unrefined findings are unchanged');
    else {
      assert.equal(r.textCode, f.code);
      assert.deepEqual(r.where, f.where);
    }
    for (const re of c.cause ?? []) assert.match(r.cause, re);
    for (const re of c.fix ?? []) assert.match(r.fix, re);
    assert.deepEqual(refineFinding(r, topo), r, 'refining twice changes nothing');
  });
}

test('refine: an empty topology changes nothing', () => {
  const fs = [finding(TEXT.denied), finding(TEXT.refused), finding(TEXT.x509)];
  assert.deepEqual(refineFindings(fs, { clusters: {} }), fs);
});

test('refine: status-only codes (no peer configuration, node reachability, cluster access) are never refined', () => {
  const topo = seed();
  dials(['198.51.100.11'])(topo);
  for (const code of ['PEER_NOT_CONFIGURED', 'NODE_UNREACHABLE', 'CLUSTER_ACCESS'] as const) {
    const f = finding(TEXT.denied, { code });
    assert.deepEqual(refineFinding(f, topo), f);
  }
});

test('topology from facts: kube-proxy replacement from cilium-config first, else the values; authMode from the values', () => {
  const live = { config: { targets: [], declaredPeers: ['b'], imageVersion: '1.16.3' }, admittedUsers: ['remote-b'], loginUser: 'remote-a' };
  assert.equal(clusterTopology({ kubeProxyReplacement: 'false', values: { kubeProxyReplacement: true } }, live).kubeProxyReplacement, false);
  assert.equal(clusterTopology({ kubeProxyReplacement: 'strict' }).kubeProxyReplacement, true);
  assert.equal(clusterTopology({ values: { kubeProxyReplacement: 'true' } }).kubeProxyReplacement, true);
  assert.equal(clusterTopology({ helmChartConfig: { valuesContent: 'kubeProxyReplacement: true\nclustermesh: {apiserver: {tls: {authMode: cluster}}}\n' } }).authMode, 'cluster');
  assert.equal(clusterTopology({ kubeProxyReplacement: 'partial' }).kubeProxyReplacement, undefined);
  // The agents' image is what runs: it wins over the release's appVersion (a HelmChart may pin image.tag).
  const t = clusterTopology({ ciliumVersion: '1.15.5' }, live, 3);
  assert.deepEqual(t, { index: 3, ciliumVersion: '1.16.3', dials: [], declaredPeers: ['b'], admittedUsers: ['remote-b'], loginUser: 'remote-a' });
  assert.equal(clusterTopology(undefined, live).ciliumVersion, '1.16.3', 'the agent image tag when the release says nothing');
  assert.equal(clusterTopology({ ciliumVersion: '1.15.5' }, {}).ciliumVersion, '1.15.5', "the release's version without an agent image");
});
