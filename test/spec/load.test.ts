import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MeshformError, type Finding } from '../../src/errors.js';
import { loadFacts, loadSpec, parseFacts, parseSpec } from '../../src/spec/load.js';
import { SPEC_DEFAULTS } from '../../src/defaults.js';
import { validateSpec } from '../../src/validate/rules.js';

const now = new Date('2025-01-01T00:00:00Z');
const SEED = resolve('examples/seed/mesh.yaml');
const seedText = readFileSync(SEED, 'utf8');

function fails(fn: () => unknown): Finding[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof MeshformError, `expected MeshformError, got ${String(e)}`);
    assert.equal(e.exitCode, 2);
    return e.findings;
  }
  assert.fail('expected a MeshformError');
}

async function failsAsync(p: Promise<unknown>): Promise<Finding[]> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof MeshformError);
    return e.findings;
  }
  assert.fail('expected a MeshformError');
}

const has = (fs: Finding[], code: string, path: string) =>
  assert.ok(fs.some((f) => f.code === code && f.path === path), `expected ${code} at ${path}; got ${JSON.stringify(fs.map((f) => [f.code, f.path]))}`);

const MIN = `apiVersion: meshform/v1alpha1
kind: Mesh
name: m
cilium: {version: 1.16.3}
clusters:
  - name: a
    id: 1
    podCIDR: 10.1.0.0/16
    serviceCIDR: 10.101.0.0/16
    endpoint: {nodePort: 32001, ips: [192.0.2.1, 192.0.2.2]}
  - name: b
    id: 2
    podCIDR: [10.2.0.0/16, "fd00:2::/48"]
    serviceCIDR: 10.102.0.0/16
    endpoint: {loadBalancerIP: 198.51.100.7}
`;

test('both examples load and validate without errors', async () => {
  for (const ex of ['seed', 'three-clusters']) {
    const spec = await loadSpec(`examples/${ex}/mesh.yaml`);
    assert.deepEqual(validateSpec(spec, { now, caFindings: [] }), [], ex);
  }
  const seed = await loadSpec(SEED);
  const [m1, m2] = seed.clusters;
  assert.deepEqual(m1!.endpoint, { type: 'NodePort', nodePort: 32379, ips: ['192.0.2.21', '192.0.2.22'] });
  assert.equal(m2!.chartVersion, '1.15.500');
  assert.equal(m1!.values!.path, resolve('examples/seed/values_mesh01.yaml'));
  assert.match(m1!.values!.doc.toString(), /# Enable Hubble for observability/);
  assert.equal(m1!.disableKubeProxy, true);
  assert.equal(m1!.hubbleUiNodePort, 31235);
  assert.deepEqual(m1!.peers, ['mesh02']);
  assert.equal(seed.ca!.cert, resolve('examples/seed/ca/ca.crt'));
});

test('leaf validity defaults to the chart default of the mesh\'s versions (365 from 1.20), an explicit one wins', () => {
  const days = (text: string) => parseSpec(text, '/x/mesh.yaml').certificates.validityDays;
  assert.equal(days(MIN), 1095);
  assert.equal(days(MIN.replace('version: 1.16.3', 'version: 1.20.2')), 365);
  assert.equal(days(MIN.replace('version: 1.16.3', 'version: 1.19.6').replace('    id: 2\n', '    id: 2\n    ciliumVersion: 1.20.1\n')), 365);
  assert.equal(days(MIN.replace('version: 1.16.3', 'version: 1.21.0')), 365);
  assert.equal(days(MIN.replace('version: 1.16.3}', 'version: 1.20.2}\ncertificates: {validityDays: 730}')), 730);
  const s = parseSpec(MIN.replace('version: 1.16.3}', 'version: 1.20.2}\nca: {cert: ca/ca.crt, key: ca/ca.key, trust: [old/ca.crt]}'), '/x/mesh.yaml');
  assert.deepEqual(s.ca, { cert: '/x/ca/ca.crt', key: '/x/ca/ca.key', trust: ['/x/old/ca.crt'] });
  assert.equal(s.certificates.renewBeforeDays, SPEC_DEFAULTS.certificates.renewBeforeDays);
});

test('defaults and normalisation', () => {
  const s = parseSpec(MIN, '/x/mesh.yaml');
  assert.equal(s.domain, 'mesh.cilium.io');
  assert.equal(s.maxConnectedClusters, 255);
  assert.equal(s.authMode, 'cluster');
  assert.deepEqual(s.certificates, { method: 'provided', validityDays: 1095, renewBeforeDays: 30, keyAlgorithm: 'ecdsa-p256' });
  assert.deepEqual(s.cilium, { version: '1.16.3', release: 'rke2-cilium', namespace: 'kube-system' });
  assert.deepEqual(s.nodePortRange, { min: 30000, max: 32767 });
  assert.equal(s.apiserver.replicas, 2);
  const [a, b] = s.clusters;
  assert.deepEqual(b!.podCIDRs, ['10.2.0.0/16', 'fd00:2::/48']);
  assert.deepEqual(b!.endpoint, { type: 'LoadBalancer', port: 2379, loadBalancerIP: '198.51.100.7' });
  assert.equal(a!.chartVersion, '1.16.300');
  assert.deepEqual(a!.nodeCIDRs, []);
  assert.equal(a!.disableKubeProxy, false);
  assert.equal(a!.peersExplicit, false);
  assert.deepEqual(a!.peers, ['b']);
});

test('unknown keys get a did-you-mean', () => {
  const fs = fails(() => parseSpec(MIN.replace('podCIDR: 10.1.0.0/16', 'podCidr: 10.1.0.0/16').replace('cilium:', 'cillium:'), '/x/mesh.yaml'));
  const f = fs.find((x) => x.path === 'clusters[0].podCidr')!;
  assert.equal(f.code, 'SPEC_UNKNOWN_KEY');
  assert.match(f.message, /^clusters\[0\]\.podCidr: unknown key; did you mean "podCIDR"\?/);
  has(fs, 'SPEC_UNKNOWN_KEY', 'cillium');
  has(fs, 'SPEC_REQUIRED', 'cilium');
});

test('all findings are collected, each with exact path, value, rule and fix', () => {
  const bad = MIN.replace('id: 1', 'id: "1"')
    .replace('nodePort: 32001', 'nodePort: 70000')
    .replace('10.101.0.0/16', '10.101.1.0/16')
    .replace('192.0.2.2]', '192.0.2]')
    .replace('{version: 1.16.3}', '{version: 1.16}')
    .replace('name: m', 'name: m\nmaxConnectedClusters: 300\nauthMode: strict');
  const fs = fails(() => parseSpec(bad, '/x/mesh.yaml'));
  has(fs, 'SPEC_TYPE', 'clusters[0].id');
  has(fs, 'SPEC_OUT_OF_RANGE', 'clusters[0].endpoint.nodePort');
  has(fs, 'CIDR_NOT_CANONICAL', 'clusters[0].serviceCIDR');
  has(fs, 'IP_INVALID', 'clusters[0].endpoint.ips[1]');
  has(fs, 'SPEC_TYPE', 'cilium.version');
  has(fs, 'SPEC_INVALID_VALUE', 'maxConnectedClusters');
  has(fs, 'SPEC_INVALID_VALUE', 'authMode');
  assert.equal(fs.find((f) => f.code === 'CIDR_NOT_CANONICAL')!.fix, 'write 10.101.0.0/16');
  for (const f of fs) assert.ok(f.code && f.rule && f.fix && f.value !== undefined, JSON.stringify(f));
  assert.match(fs.find((f) => f.path === 'clusters[0].id')!.message, /line 9, column 9/);
});

test('endpoint type must agree with its keys', () => {
  let fs = fails(() => parseSpec(MIN.replace('{loadBalancerIP: 198.51.100.7}', '{type: NodePort, loadBalancerIP: 198.51.100.7}'), '/x/m.yaml'));
  has(fs, 'ENDPOINT_TYPE_MISMATCH', 'clusters[1].endpoint.loadBalancerIP');
  fs = fails(() => parseSpec(MIN.replace('{loadBalancerIP: 198.51.100.7}', '{nodePort: 32000, address: x.example}'), '/x/m.yaml'));
  has(fs, 'ENDPOINT_TYPE_AMBIGUOUS', 'clusters[1].endpoint');
});

test('malformed YAML, duplicate keys, not a map', () => {
  let fs = fails(() => parseSpec('a: [1, 2\nb: 3\n', '/x/m.yaml'));
  assert.equal(fs[0]!.code, 'YAML_SYNTAX');
  assert.match(fs[0]!.message, /line \d+, column \d+/);
  fs = fails(() => parseSpec(MIN + 'name: again\n', '/x/m.yaml'));
  assert.equal(fs[0]!.code, 'YAML_SYNTAX');
  fs = fails(() => parseSpec('- 1\n', '/x/m.yaml'));
  assert.equal(fs[0]!.code, 'SPEC_NOT_A_MAP');
  fs = fails(() => parseSpec('a: &a [1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n', '/x/m.yaml'));
  assert.equal(fs[0]!.code, 'YAML_SYNTAX');
});

test('files: missing spec, missing/bad values, directory, too large', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshform-load-'));
  let fs = await failsAsync(loadSpec(join(dir, 'nope.yaml')));
  assert.equal(fs[0]!.code, 'FILE_NOT_FOUND');
  fs = await failsAsync(loadSpec(dir));
  assert.equal(fs[0]!.code, 'FILE_UNREADABLE');
  writeFileSync(join(dir, 'big.yaml'), Buffer.alloc(16 * 1024 * 1024 + 1, 0x20));
  fs = await failsAsync(loadSpec(join(dir, 'big.yaml')));
  assert.equal(fs[0]!.code, 'FILE_TOO_LARGE');

  mkdirSync(join(dir, 'v'));
  writeFileSync(join(dir, 'v', 'bad.yaml'), 'a: [\n');
  writeFileSync(join(dir, 'v', 'list.yaml'), '- 1\n');
  const spec = MIN.replace('    endpoint: {nodePort', '    values: v/missing.yaml\n    endpoint: {nodePort').replace(
    '    endpoint: {loadBalancerIP',
    '    values: v/bad.yaml\n    endpoint: {loadBalancerIP',
  );
  writeFileSync(join(dir, 'mesh.yaml'), spec);
  fs = await failsAsync(loadSpec(join(dir, 'mesh.yaml')));
  has(fs, 'FILE_NOT_FOUND', 'clusters[0].values');
  has(fs, 'VALUES_SYNTAX', 'clusters[1].values');
  writeFileSync(join(dir, 'mesh.yaml'), spec.replace('v/bad.yaml', 'v/list.yaml').replace('v/missing.yaml', 'v'));
  fs = await failsAsync(loadSpec(join(dir, 'mesh.yaml')));
  has(fs, 'VALUES_NOT_A_MAP', 'clusters[1].values');
  has(fs, 'FILE_UNREADABLE', 'clusters[0].values');
});

test('values fill CIDRs and kube-proxy replacement; relative paths resolve from the spec folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshform-values-'));
  writeFileSync(join(dir, 'va.yaml'), '# keep me\nglobal:\n  clusterCIDR: 10.1.0.0/16,fd00:1::/56\n  serviceCIDR: 10.101.0.0/16\nkubeProxyReplacement: "strict"\n');
  const text = MIN.replace('    podCIDR: 10.1.0.0/16\n    serviceCIDR: 10.101.0.0/16\n', '    values: va.yaml\n    kubeconfig: k/a.yaml\n');
  const s = parseSpec(text, join(dir, 'mesh.yaml'));
  const a = s.clusters[0]!;
  assert.deepEqual(a.podCIDRs, ['10.1.0.0/16', 'fd00:1::/56']);
  assert.deepEqual(a.serviceCIDRs, ['10.101.0.0/16']);
  assert.equal(a.disableKubeProxy, true);
  assert.equal(a.kubeconfig, join(dir, 'k/a.yaml'));
  assert.match(a.values!.text, /# keep me/);
});

test('facts files load with the same error quality', async () => {
  const good = `clusters:
  mesh01:
    maxConnectedClusters: 255
    nodes:
      - {name: cp1, roles: [control-plane, etcd, master], internalIPs: [192.0.2.10], podCIDRs: [10.244.0.0/24]}
      - {name: w1, roles: [], internalIPs: [192.0.2.21], externalIPs: ["2001:DB8::1"]}
`;
  const f = parseFacts(good, '/x/facts.yaml');
  assert.deepEqual(f.clusters.mesh01!.nodes![1], { name: 'w1', roles: [], internalIPs: ['192.0.2.21'], externalIPs: ['2001:db8::1'], podCIDRs: [] });
  const fs = fails(() => parseFacts(good.replace('internalIPs: [192.0.2.21]', 'internalIps: [192.0.2.21]').replace('roles: []', 'roles: [boss]'), '/x/facts.yaml'));
  has(fs, 'SPEC_UNKNOWN_KEY', 'clusters.mesh01.nodes[1].internalIps');
  assert.match(fs.find((x) => x.code === 'SPEC_UNKNOWN_KEY')!.message, /did you mean "internalIPs"/);
  has(fs, 'SPEC_INVALID_VALUE', 'clusters.mesh01.nodes[1].roles[0]');
  const missing = await failsAsync(loadFacts('/nonexistent/facts.yaml'));
  assert.equal(missing[0]!.code, 'FILE_NOT_FOUND');
  // Facts drive the worker-IP rule end to end.
  const spec = parseSpec(seedText, SEED);
  const facts = parseFacts(
    `clusters:
  mesh01:
    nodes:
      - {name: cp1, roles: [control-plane, etcd], internalIPs: [192.0.2.22]}
      - {name: w1, internalIPs: [192.0.2.21]}
`,
    '/x/f.yaml',
  );
  const found = validateSpec(spec, { now, facts });
  assert.ok(found.some((x) => x.code === 'ENDPOINT_IP_CONTROL_PLANE' && x.path === 'clusters[0].endpoint.ips[1]'), JSON.stringify(found));
});
