import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDocument } from 'yaml';
import type { Finding } from '../../src/errors.js';
import type { Facts, NodeFact } from '../../src/kube/facts.js';
import type { ClusterSpec, MeshSpec, ValuesFile } from '../../src/spec/types.js';
import { RULES, validateSpec, type ValidateContext } from '../../src/validate/rules.js';
import { buildSpec } from './builder.js';
import { SecretPem } from '../../src/pki/secret.js';
import type { CaMaterial } from '../../src/pki/types.js';

const now = new Date('2025-01-01T00:00:00Z');

function values(c: ClusterSpec, text: string): void {
  const doc = parseDocument(text);
  const v: ValuesFile = { path: `/virtual/values_${c.name}.yaml`, text, doc, data: doc.toJS() as Record<string, unknown> };
  c.values = v;
}

function node(name: string, ip: string, roles: NodeFact['roles'] = [], podCIDRs: string[] = []): NodeFact {
  return { name, roles, internalIPs: [ip], externalIPs: [], podCIDRs };
}

/** Facts matching buildSpec(2): two workers per cluster at the endpoint IPs, one control plane. */
function factsFor(spec: MeshSpec): Facts {
  const facts: Facts = { clusters: {} };
  for (const c of spec.clusters) {
    const ips = c.endpoint.type === 'NodePort' ? c.endpoint.ips : [];
    facts.clusters[c.name] = {
      nodes: [
        node(`${c.name}-cp`, ips[0]!.replace(/\.\d+$/, '.5'), ['control-plane', 'etcd', 'master'], [c.podCIDRs[0]!.replace(/\/24$/, '/26')]),
        ...ips.map((ip, k) => node(`${c.name}-w${k}`, ip)),
      ],
    };
  }
  return facts;
}

interface Case {
  code: keyof typeof RULES;
  path: string;
  mutate: (s: MeshSpec) => ValidateContext | void;
  n?: number;
  severity?: 'error' | 'warning';
}

/** A CA (certificate text left out: validate reads only its dates) with `days` days left at `now`. */
const caExpiring = (days: number): CaMaterial => ({
  certPem: '',
  key: new SecretPem(''),
  subject: 'CN=test CA',
  fingerprint256: 'AA',
  notBefore: new Date(now.getTime() - 86_400_000),
  notAfter: new Date(now.getTime() + days * 86_400_000),
});

const c0 = (s: MeshSpec) => s.clusters[0]!;
const c1 = (s: MeshSpec) => s.clusters[1]!;
const np = (c: ClusterSpec) => {
  if (c.endpoint.type !== 'NodePort') throw new Error('builder gives NodePort');
  return c.endpoint;
};
const explicitPeers = (c: ClusterSpec, peers: string[]) => {
  c.peers = peers;
  c.peersExplicit = true;
};

const cases: Case[] = [
  // names
  { code: 'NAME_INVALID', path: 'clusters[1].name', mutate: (s) => void (c1(s).name = 'Mesh_02') },
  { code: 'NAME_TOO_LONG', path: 'clusters[0].name', mutate: (s) => void (c0(s).name = 'a'.repeat(33)) },
  { code: 'NAME_RESERVED', path: 'clusters[1].name', mutate: (s) => void (c1(s).name = 'default') },
  { code: 'NAME_DUPLICATE', path: 'clusters[1].name', mutate: (s) => void (c1(s).name = c0(s).name) },
  // IDs
  { code: 'ID_RESERVED', path: 'clusters[0].id', mutate: (s) => void (c0(s).id = 0) },
  { code: 'ID_OUT_OF_RANGE', path: 'clusters[1].id', mutate: (s) => void (c1(s).id = 300) },
  { code: 'ID_DUPLICATE', path: 'clusters[1].id', mutate: (s) => void (c1(s).id = c0(s).id) },
  // maxConnectedClusters
  { code: 'MAX_CONNECTED_INVALID', path: 'maxConnectedClusters', mutate: (s) => void (s.maxConnectedClusters = 300 as 255) },
  { code: 'MAX_CONNECTED_VALUES_MISMATCH', path: 'clusters[1].values', mutate: (s) => values(c1(s), 'clustermesh:\n  maxConnectedClusters: 511\n') },
  {
    code: 'MAX_CONNECTED_FACTS_MISMATCH',
    path: 'maxConnectedClusters',
    mutate: (s) => ({ now, facts: { clusters: { [c0(s).name]: { maxConnectedClusters: 511 } } } }),
  },
  { code: 'TOO_MANY_CLUSTERS', path: 'clusters', n: 256, mutate: (s) => void (s.clusters[255]!.id = 255) },
  // CIDRs
  { code: 'CIDR_INVALID', path: 'clusters[0].podCIDR', mutate: (s) => void (c0(s).podCIDRs = ['10.0.0.0']) },
  { code: 'CIDR_NOT_CANONICAL', path: 'clusters[1].nodeCIDRs[0]', mutate: (s) => void (c1(s).nodeCIDRs = ['192.168.1.1/25']) },
  { code: 'POD_CIDR_MISSING', path: 'clusters[1].podCIDR', mutate: (s) => void (c1(s).podCIDRs = []) },
  { code: 'SERVICE_CIDR_MISSING', path: 'clusters[0].serviceCIDR', mutate: (s) => void (c0(s).serviceCIDRs = []) },
  { code: 'POD_CIDR_OVERLAP', path: 'clusters[1].podCIDR', mutate: (s) => void (c1(s).podCIDRs = ['10.0.0.128/25']) },
  {
    code: 'POD_CIDR_OVERLAP',
    path: 'clusters[1].podCIDR[1]',
    mutate: (s) => {
      c0(s).podCIDRs.push('fd00:10::/48');
      c1(s).podCIDRs.push('fd00:10:0:1::/64');
    },
  },
  {
    code: 'POD_CIDR_RKE2_DEFAULT_SHARED',
    path: 'clusters[1].podCIDR',
    mutate: (s) => {
      c0(s).podCIDRs = ['10.42.0.0/16'];
      c1(s).podCIDRs = ['10.42.0.0/16'];
    },
  },
  { code: 'SERVICE_CIDR_OVERLAP', path: 'clusters[1].serviceCIDR', mutate: (s) => void (c1(s).serviceCIDRs = ['172.16.0.0/16']) },
  { code: 'SERVICE_POD_CIDR_OVERLAP', path: 'clusters[0].serviceCIDR', mutate: (s) => void (c0(s).serviceCIDRs = ['10.0.1.0/24']) },
  { code: 'NODE_CIDR_OVERLAP', path: 'clusters[1].nodeCIDRs[0]', mutate: (s) => void (c1(s).nodeCIDRs = ['192.168.0.0/16']) },
  { code: 'NODE_CIDR_IN_CLUSTER_CIDR', path: 'clusters[1].nodeCIDRs[1]', mutate: (s) => void c1(s).nodeCIDRs.push('10.0.0.0/8') },
  {
    code: 'ENDPOINT_IP_IN_CLUSTER_CIDR',
    path: 'clusters[0].endpoint.ips[0]',
    mutate: (s) => {
      c0(s).nodeCIDRs = [];
      np(c0(s)).ips[0] = '172.16.1.9';
    },
  },
  { code: 'IP_IN_TWO_CLUSTERS', path: 'clusters[1].endpoint.ips[0]', mutate: (s) => void (np(c1(s)).ips[0] = np(c0(s)).ips[0]!) },
  { code: 'ENDPOINT_IP_DUPLICATE', path: 'clusters[0].endpoint.ips[1]', mutate: (s) => void (np(c0(s)).ips[1] = np(c0(s)).ips[0]!) },
  { code: 'IP_INVALID', path: 'clusters[0].endpoint.ips[1]', mutate: (s) => void (np(c0(s)).ips[1] = '300.1.1.1') },
  // values files
  { code: 'VALUES_POD_CIDR_MISMATCH', path: 'clusters[0].podCIDR', mutate: (s) => values(c0(s), 'global:\n  clusterCIDR: 10.42.0.0/16\n') },
  { code: 'VALUES_SERVICE_CIDR_MISMATCH', path: 'clusters[1].serviceCIDR', mutate: (s) => values(c1(s), 'global:\n  serviceCIDR: 10.43.0.0/16\n') },
  // endpoints
  { code: 'NODEPORT_OUT_OF_RANGE', path: 'clusters[1].endpoint.nodePort', mutate: (s) => void (np(c1(s)).nodePort = 2379) },
  { code: 'NODEPORT_DUPLICATE', path: 'clusters[1].endpoint.nodePort', mutate: (s) => void (np(c1(s)).nodePort = np(c0(s)).nodePort) },
  { code: 'ENDPOINT_NO_IPS', path: 'clusters[0].endpoint.ips', mutate: (s) => void (np(c0(s)).ips = []) },
  { code: 'ENDPOINT_SINGLE_IP', path: 'clusters[1].endpoint.ips', severity: 'warning', mutate: (s) => void np(c1(s)).ips.pop() },
  { code: 'ENDPOINT_IP_OUTSIDE_NODE_CIDRS', path: 'clusters[0].endpoint.ips[1]', mutate: (s) => void (np(c0(s)).ips[1] = '203.0.113.9') },
  { code: 'LB_NO_ADDRESS', path: 'clusters[1].endpoint', mutate: (s) => void (c1(s).endpoint = { type: 'LoadBalancer', port: 2379 }) },
  { code: 'HUBBLE_NODEPORT_OUT_OF_RANGE', path: 'clusters[0].hubble.ui.nodePort', mutate: (s) => void (c0(s).hubbleUiNodePort = 80) },
  { code: 'HUBBLE_NODEPORT_CONFLICT', path: 'clusters[0].hubble.ui.nodePort', mutate: (s) => void (c0(s).hubbleUiNodePort = np(c0(s)).nodePort) },
  // facts
  {
    code: 'ENDPOINT_IP_CONTROL_PLANE',
    path: 'clusters[0].endpoint.ips[0]',
    mutate: (s) => {
      const facts = factsFor(s);
      np(c0(s)).ips[0] = facts.clusters[c0(s).name]!.nodes![0]!.internalIPs[0]!;
      return { now, facts };
    },
  },
  {
    code: 'ENDPOINT_IP_OTHER_CLUSTER',
    path: 'clusters[1].endpoint.ips[1]',
    mutate: (s) => {
      const facts = factsFor(s);
      // A node of c1 that (wrongly) sits in c2's node network: only facts can tell.
      facts.clusters[c0(s).name]!.nodes!.push(node('c1-w9', '192.168.1.77'));
      np(c1(s)).ips[1] = '192.168.1.77';
      return { now, facts };
    },
  },
  {
    code: 'ENDPOINT_IP_UNKNOWN_NODE',
    path: 'clusters[1].endpoint.ips[0]',
    mutate: (s) => {
      const facts = factsFor(s);
      np(c1(s)).ips[0] = '192.168.1.99';
      return { now, facts };
    },
  },
  {
    code: 'POD_CIDR_FACTS_MISMATCH',
    path: 'clusters[0].podCIDR',
    mutate: (s) => {
      const facts = factsFor(s);
      facts.clusters[c0(s).name]!.nodes![1]!.podCIDRs = ['10.42.0.0/24'];
      return { now, facts };
    },
  },
  { code: 'FACTS_POD_CIDR_MISMATCH', path: 'clusters[1].podCIDR', mutate: (s) => ({ now, facts: { clusters: { [c1(s).name]: { clusterCIDR: ['10.42.0.0/16'] } } } }) },
  { code: 'FACTS_SERVICE_CIDR_MISMATCH', path: 'clusters[0].serviceCIDR', mutate: (s) => ({ now, facts: { clusters: { [c0(s).name]: { serviceCIDR: ['10.43.0.0/16'] } } } }) },
  // TLS
  { code: 'CA_MISSING', path: 'ca', mutate: (s) => void delete s.ca },
  { code: 'DOMAIN_INVALID', path: 'domain', mutate: (s) => void (s.domain = 'Mesh_Domain..io') },
  {
    code: 'SAN_NOT_COVERED',
    path: 'clusters[1].endpoint.address',
    mutate: (s) => void (c1(s).endpoint = { type: 'LoadBalancer', address: 'cm_lb..example.net', port: 2379 }),
  },
  { code: 'SAN_INVALID', path: 'clusters[1].tls.extraDnsNames[1]', mutate: (s) => void (c1(s).tls.extraDnsNames = ['ok.example.net', 'not a name']) },
  { code: 'CERT_RENEW_WINDOW', path: 'certificates.renewBeforeDays', mutate: (s) => void (s.certificates.renewBeforeDays = 2000) },
  // A CA with 1000 days left cannot carry the default 1095-day leaves, whatever the method.
  ...(['provided', 'helm', 'cronJob', 'certmanager'] as const).map((method): Case => ({
    code: 'CA_EXPIRES_BEFORE_LEAVES',
    path: 'certificates.validityDays',
    mutate: (s) => {
      s.certificates.method = method;
      return { now, ca: caExpiring(1000) };
    },
  })),
  // cronJob without a shared CA: certgen's own CA lives tls.ca.certValidityDuration days (chart default 1095).
  {
    code: 'CA_EXPIRES_BEFORE_LEAVES',
    path: 'certificates.validityDays',
    mutate: (s) => {
      Object.assign(s.certificates, { method: 'cronJob', validityDays: 2000 });
      delete s.ca;
    },
  },
  {
    code: 'CA_EXPIRES_BEFORE_LEAVES',
    path: 'clusters[1].values',
    mutate: (s) => {
      s.certificates.method = 'cronJob';
      delete s.ca;
      values(c1(s), 'tls:\n  ca:\n    certValidityDuration: 400\n');
    },
  },
  {
    code: 'CA_BUNDLE_UNREACHABLE',
    path: 'clusters[0].kvstoremesh',
    mutate: (s) => {
      s.ca!.trust = ['/virtual/old-ca.crt'];
      c0(s).kvstoremesh = true;
    },
  },
  {
    code: 'CA_BUNDLE_UNREACHABLE',
    path: 'clusters[1].kvstoremesh',
    mutate: (s) => {
      s.ca!.trust = ['/virtual/old-ca.crt'];
      s.certificates.method = 'cronJob';
      for (const c of s.clusters) [c.ciliumVersion, c.chartVersion] = ['1.17.14', '1.17.1400'];
      c0(s).kvstoremesh = false;
    },
  },
  {
    // Adoption (method keep) on 1.17 with KVStoreMesh: meshform issues nothing, so it cannot hand
    // KVStoreMesh the bundle through a pre-created Secret either.
    code: 'CA_BUNDLE_UNREACHABLE',
    path: 'clusters[0].kvstoremesh',
    mutate: (s) => {
      s.ca!.trust = ['/virtual/cluster-ca.crt'];
      s.certificates.method = 'keep';
      for (const c of s.clusters) [c.ciliumVersion, c.chartVersion] = ['1.17.14', '1.17.1400'];
      c1(s).kvstoremesh = false;
    },
  },
  { code: 'CA_MISSING', path: 'ca', mutate: (s) => { s.certificates.method = 'keep'; delete s.ca; } },
  { code: 'KEEP_WITHOUT_TRUST', path: 'ca.trust', severity: 'warning', mutate: (s) => void (s.certificates.method = 'keep') },
  { code: 'CERT_METHOD_HELM_RKE2', path: 'certificates.method', severity: 'warning', mutate: (s) => void (s.certificates.method = 'helm') },
  {
    code: 'CERT_METHOD_HELM_DRIFT',
    path: 'certificates.method',
    severity: 'warning',
    mutate: (s) => {
      s.certificates.method = 'helm';
      s.cilium.release = 'cilium';
    },
  },
  // versions
  { code: 'VERSION_INVALID', path: 'clusters[1].ciliumVersion', mutate: (s) => void (c1(s).ciliumVersion = '1.15') },
  { code: 'VERSION_INVALID', path: 'clusters[0].chartVersion', mutate: (s) => void (c0(s).chartVersion = 'latest') },
  {
    code: 'VERSION_TOO_OLD',
    path: 'cilium.version',
    mutate: (s) => {
      s.cilium.version = '1.13.4';
      for (const c of s.clusters) [c.ciliumVersion, c.chartVersion] = ['1.13.4', '1.13.400'];
    },
  },
  {
    // 1.14 was accepted before, though its chart lacks keys meshform renders.
    code: 'VERSION_TOO_OLD',
    path: 'cilium.version',
    mutate: (s) => {
      s.cilium.version = '1.14.12';
      for (const c of s.clusters) [c.ciliumVersion, c.chartVersion] = ['1.14.12', '1.14.1200'];
    },
  },
  { code: 'RKE2_VERSION_INVALID', path: 'clusters[1].rke2Version', mutate: (s) => void (c1(s).rke2Version = 'latest') },
  { code: 'RKE2_VERSION_INVALID', path: 'clusters[0].rke2Version', mutate: (s) => void (c0(s).rke2Version = 'v1.32+rke2r1') },
  {
    code: 'VERSION_SKEW',
    path: 'clusters[1].ciliumVersion',
    mutate: (s) => void ([c1(s).ciliumVersion, c1(s).chartVersion] = ['1.17.2', '1.17.200']),
  },
  {
    code: 'VERSION_UNKNOWN_NEWER',
    path: 'clusters[1].ciliumVersion',
    severity: 'warning',
    mutate: (s) => {
      for (const c of s.clusters) [c.ciliumVersion, c.chartVersion] = ['1.21.0', '1.21.0'];
      c0(s).ciliumVersion = '1.20.2';
      c0(s).chartVersion = '1.20.200';
    },
  },
  { code: 'CHART_VERSION_MISMATCH', path: 'clusters[0].chartVersion', mutate: (s) => void (c0(s).chartVersion = '1.15.600') },
  // datapath
  {
    code: 'ROUTING_MODE_MISMATCH',
    path: 'clusters[1].values',
    mutate: (s) => {
      values(c0(s), 'routingMode: tunnel\n');
      values(c1(s), 'tunnel: disabled\nipv4NativeRoutingCIDR: 10.0.0.0/8\n');
    },
  },
  {
    code: 'TUNNEL_PROTOCOL_MISMATCH',
    path: 'clusters[1].values',
    mutate: (s) => {
      values(c0(s), '{}\n');
      values(c1(s), 'tunnelProtocol: geneve\n');
    },
  },
  {
    code: 'NATIVE_ROUTING_CIDR_NOT_COVERING',
    path: 'clusters[0].values',
    mutate: (s) => {
      values(c0(s), 'routingMode: native\nipv4NativeRoutingCIDR: 10.0.0.0/24\n');
      values(c1(s), 'routingMode: native\nipv4NativeRoutingCIDR: 10.0.0.0/8\n');
    },
  },
  {
    code: 'NATIVE_ROUTING_CIDR_MISSING',
    path: 'clusters[1].values',
    severity: 'warning',
    mutate: (s) => {
      values(c0(s), 'routingMode: native\nipv4NativeRoutingCIDR: 10.0.0.0/8\n');
      values(c1(s), 'routingMode: native\n');
    },
  },
  // auth
  { code: 'PEER_UNKNOWN', path: 'clusters[0].peers[1]', mutate: (s) => explicitPeers(c0(s), ['c2', 'c9']) },
  { code: 'PEER_SELF', path: 'clusters[0].peers[0]', mutate: (s) => explicitPeers(c0(s), ['c1', 'c2']) },
  { code: 'PEER_DUPLICATE', path: 'clusters[1].peers[1]', mutate: (s) => explicitPeers(c1(s), ['c1', 'c1']) },
  { code: 'PEER_NOT_SYMMETRIC', path: 'clusters[1].peers', n: 3, mutate: (s) => explicitPeers(c1(s), ['c3']) },
];

test('the baseline spec is clean', () => {
  for (const n of [1, 2, 3, 256]) {
    assert.deepEqual(validateSpec(buildSpec(n, n > 255 ? 511 : 255), { now }), []);
  }
  const s = buildSpec(2);
  assert.deepEqual(validateSpec(s, { now, facts: factsFor(s) }), []);
});

for (const c of cases) {
  test(`${c.code} at ${c.path}`, () => {
    const spec = buildSpec(c.n ?? 2);
    const ctx = c.mutate(spec) ?? { now };
    const found = validateSpec(spec, ctx);
    const hit = found.find((f) => f.code === c.code && f.path === c.path);
    assert.ok(hit, `expected ${c.code} at ${c.path}; got ${JSON.stringify(found.map((f) => [f.code, f.path]))}`);
    assert.equal(hit.severity, c.severity ?? 'error');
    assert.equal(hit.rule, RULES[c.code].rule);
    assert.ok(hit.message.length > 0 && hit.fix.length > 0);
  });
}

test('every validator code in the catalogue has a test case or is a load-time code', () => {
  const loadOnly = new Set([
    'FILE_NOT_FOUND', 'FILE_UNREADABLE', 'FILE_TOO_LARGE', 'YAML_EXPANSION_TOO_LARGE', 'YAML_SYNTAX', 'VALUES_SYNTAX', 'FACTS_SYNTAX', 'SPEC_NOT_A_MAP',
    'VALUES_NOT_A_MAP', 'SPEC_UNKNOWN_KEY', 'SPEC_REQUIRED', 'SPEC_TYPE', 'SPEC_INVALID_VALUE', 'SPEC_OUT_OF_RANGE',
    'MESH_NAME_INVALID', 'NODEPORT_RANGE_INVALID', 'ENDPOINT_TYPE_AMBIGUOUS', 'ENDPOINT_TYPE_MISMATCH',
    'VALUES_OUTSIDE_SPEC_FOLDER', 'VALUES_PRIVATE_KEY', 'VALUES_KUBECONFIG_CREDENTIALS', 'USAGE_CN', 'MESHFORM_NOW_INVALID',
    // CA checks (src/pki/ca.ts, tested in test/pki/).
    'CA_CERT_BUNDLE', 'CA_KEY_WEAK', 'CA_KEY_PERMISSIONS', 'CA_DIR_PERMISSIONS',
  ]);
  const tested = new Set(cases.map((c) => c.code));
  // The other areas are emitted outside validateSpec (pki, plan, CLI, init, kube, doctor, the writer) and tested there.
  const elsewhere = new Set(['ca', 'plan', 'usage', 'init', 'cluster', 'doctor', 'output']);
  const missing = Object.keys(RULES).filter(
    (k) => !loadOnly.has(k) && !tested.has(k as keyof typeof RULES) && !elsewhere.has(RULES[k as keyof typeof RULES].area),
  );
  assert.deepEqual(missing, []);
});

test('a CA that outlives the leaves passes; the fix names the longest validity that fits', () => {
  const s = buildSpec(2);
  assert.deepEqual(validateSpec(s, { now, ca: caExpiring(1096) }), []);
  const f = validateSpec(s, { now, ca: caExpiring(1000) }).find((x) => x.code === 'CA_EXPIRES_BEFORE_LEAVES')!;
  assert.match(f.message, /expires on 2027-09-28, before certificates issued now for 1095 days would \(2028-01-01\)/);
  assert.match(f.fix, /at most 1000$/);
  s.certificates.validityDays = 1000;
  assert.deepEqual(validateSpec(s, { now, ca: caExpiring(1000) }), []);
});

test('a CA bundle reaches KVStoreMesh: 1.15 without it, 1.16–1.17 through pre-created Secrets, 1.18+ by the chart', () => {
  for (const [version, kvstoremesh] of [['1.15.19', false], ['1.16.19', true], ['1.17.14', true], ['1.18.11', true], ['1.20.2', true]] as const) {
    const s = buildSpec(2);
    s.ca!.trust = ['/virtual/old-ca.crt'];
    for (const c of s.clusters) [c.ciliumVersion, c.chartVersion, c.kvstoremesh] = [version, version, kvstoremesh];
    assert.deepEqual(validateSpec(s, { now }), [], version);
  }
});

test('method keep with the own CA of every cluster in ca.trust passes on 1.18+ (the chart mounts the bundle everywhere)', () => {
  for (const version of ['1.18.11', '1.19.0', '1.20.2']) {
    const s = buildSpec(2);
    s.certificates.method = 'keep';
    s.ca!.trust = ['/virtual/a-ca.crt', '/virtual/b-ca.crt'];
    for (const c of s.clusters) [c.ciliumVersion, c.chartVersion, c.kvstoremesh] = [version, version, true];
    assert.deepEqual(validateSpec(s, { now }), [], version);
  }
});

test('the helm method trap is named on RKE2 by an rke2Version too, and provided is the fix', () => {
  const s = buildSpec(2);
  s.certificates.method = 'helm';
  s.cilium.release = 'cilium';
  c1(s).rke2Version = 'v1.33.1+rke2r1';
  const f = validateSpec(s, { now });
  assert.deepEqual(f.map((x) => x.code), ['CERT_METHOD_HELM_RKE2']);
  assert.match(f[0]!.message, /helm-controller/);
  assert.match(f[0]!.fix, /^use certificates\.method provided/);
});

test('cilium-cli style messages name the value and the range', () => {
  const s = buildSpec(2);
  c1(s).id = 300;
  const f = validateSpec(s, { now }).find((x) => x.code === 'ID_OUT_OF_RANGE')!;
  assert.match(f.message, /cluster ID 300 out of acceptable range \(1-255\)/);
  const t = buildSpec(2, 511);
  c1(t).id = 300;
  assert.equal(validateSpec(t, { now }).length, 0);
});

test('NodePorts may repeat when every involved cluster runs 1.19+', () => {
  const s = buildSpec(2);
  for (const c of s.clusters) [c.ciliumVersion, c.chartVersion] = ['1.19.1', '1.19.100'];
  np(c1(s)).nodePort = np(c0(s)).nodePort;
  assert.deepEqual(validateSpec(s, { now }), []);
  c0(s).ciliumVersion = '1.18.4';
  c0(s).chartVersion = '1.18.400';
  assert.deepEqual(validateSpec(s, { now }).map((f) => f.code), ['NODEPORT_DUPLICATE']);
});

test('SANs: a LoadBalancer address (DNS name or IP) is covered by the certificate meshform issues', () => {
  // The certificate and the rendered values carry the address (serverCertNames), so validate must not flag it.
  const s = buildSpec(2);
  c1(s).endpoint = { type: 'LoadBalancer', address: 'cm.example.net', port: 2379 };
  assert.deepEqual(validateSpec(s, { now }), []);
  c1(s).endpoint = { type: 'LoadBalancer', address: '198.51.100.9', port: 2379 };
  assert.deepEqual(validateSpec(s, { now }), []);
  c1(s).endpoint = { type: 'LoadBalancer', loadBalancerIP: '198.51.100.9', port: 2379 };
  assert.deepEqual(validateSpec(s, { now }), []);
});

test('SANs: a custom address is covered by extraDnsNames, wildcards and extraIpAddresses', () => {
  const s = buildSpec(2);
  c1(s).endpoint = { type: 'LoadBalancer', address: 'cm.example.net', port: 2379 };
  c1(s).tls.extraDnsNames = ['*.example.net'];
  assert.deepEqual(validateSpec(s, { now }), []);
  c1(s).endpoint = { type: 'LoadBalancer', address: 'c2.mesh.cilium.io', port: 2379 };
  c1(s).tls.extraDnsNames = [];
  assert.deepEqual(validateSpec(s, { now }), []);
  c1(s).endpoint = { type: 'LoadBalancer', address: '2001:db8::9', port: 2379 };
  c1(s).tls.extraIpAddresses = ['2001:db8:0::9'];
  assert.deepEqual(validateSpec(s, { now }), []);
});

test('caFindings are merged and sorted with the rest', () => {
  const s = buildSpec(2);
  c1(s).id = 0;
  const ca: Finding = { code: 'CA_EXPIRED', severity: 'error', path: 'ca.cert', message: 'expired', rule: 'r', fix: 'f' };
  const found = validateSpec(s, { now, caFindings: [ca] });
  assert.deepEqual(found.map((f) => f.code), ['CA_EXPIRED', 'ID_RESERVED']);
});

test('identical CIDRs on many clusters give one finding per later cluster, not per pair', () => {
  const s = buildSpec(50);
  for (const c of s.clusters) c.podCIDRs = ['10.42.0.0/16'];
  const found = validateSpec(s, { now }).filter((f) => f.code === 'POD_CIDR_RKE2_DEFAULT_SHARED');
  assert.equal(found.length, 49);
  assert.match(found[0]!.message, /cannot change after install/);
});

test('findings are sorted naturally by path, then code', () => {
  const s = buildSpec(12);
  s.clusters[10]!.id = 0;
  s.clusters[2]!.id = 0;
  s.clusters[2]!.name = 'X';
  const found = validateSpec(s, { now });
  assert.deepEqual(
    found.map((f) => f.path),
    ['clusters[2].id', 'clusters[2].name', 'clusters[10].id', 'clusters[10].id'],
  );
});

test('a 511-cluster mesh validates clean', () => {
  const s = buildSpec(511, 511);
  assert.deepEqual(validateSpec(s, { now }), []);
  for (const c of s.clusters) c.podCIDRs = ['10.42.0.0/16'];
  assert.equal(validateSpec(s, { now }).filter((f) => f.code === 'POD_CIDR_RKE2_DEFAULT_SHARED').length, 510);
});
