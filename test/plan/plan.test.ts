import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planMesh, rke2SupportsValuesSecrets } from '../../src/plan/plan.js';
import { MeshformError } from '../../src/errors.js';
import { featuresOf, parseCiliumVersion } from '../../src/util/version.js';
import { FAKE_CA, fakeCertsFor, makeSpec } from '../render/helpers.js';

test('valuesSecrets support follows the RKE2 releases that have it', () => {
  const yes = ['v1.30.12+rke2r1', 'v1.31.8+rke2r1', 'v1.32.4+rke2r2', 'v1.33.0+rke2r1', 'v1.34.1+rke2r1', '1.31.9'];
  const no = ['v1.30.11+rke2r1', 'v1.31.7+rke2r1', 'v1.32.3+rke2r1', 'v1.29.15+rke2r1', 'v1.27.14+rke2r1', 'garbage', undefined];
  for (const v of yes) assert.equal(rke2SupportsValuesSecrets(v), true, v);
  for (const v of no) assert.equal(rke2SupportsValuesSecrets(v), false, String(v));
});

test('full mesh: every cluster lists every other cluster exactly once (N=2..40)', () => {
  for (let n = 2; n <= 40; n++) {
    const spec = makeSpec(n, { method: 'helm' });
    const plan = planMesh(spec, { ca: FAKE_CA });
    for (const c of plan.clusters) {
      assert.equal(new Set(c.peers).size, n - 1);
      assert.ok(!c.peers.includes(c.name));
      for (const p of c.peers) assert.ok(plan.byName.has(p));
    }
  }
});

test('dial, service and SANs follow the endpoint', () => {
  const spec = makeSpec(3, { method: 'helm', loadBalancerEvery: 2 });
  spec.clusters[2]!.endpoint = { type: 'LoadBalancer', loadBalancerIP: '203.0.113.9', port: 2379 };
  spec.clusters[0]!.tls.extraDnsNames = ['extra.example.net'];
  const plan = planMesh(spec, {});
  const [a, b, c] = plan.clusters;
  assert.deepEqual(a!.dial, { ips: ['100.64.0.1', '100.64.0.2'], port: 30000 });
  assert.deepEqual(a!.service, { type: 'NodePort', nodePort: 30000 });
  assert.deepEqual(a!.serverExtra.dnsNames, ['c000.mesh.cilium.io', 'extra.example.net']);
  assert.deepEqual(b!.dial, { address: 'c001.lb.example.net', port: 2379 });
  assert.deepEqual(b!.serverExtra.dnsNames, ['c001.mesh.cilium.io', 'c001.lb.example.net']);
  assert.deepEqual(c!.dial, { ips: ['203.0.113.9'], port: 2379 });
  assert.deepEqual(c!.service, { type: 'LoadBalancer', loadBalancerIP: '203.0.113.9' });
});

test('warnings: inline secrets on old RKE2, unknown newer Cilium (the helm method is validate\'s)', () => {
  const spec = makeSpec(2, { method: 'helm', rke2Version: 'v1.29.1+rke2r1', version: '1.21.0' });
  const plan = planMesh(spec, { ca: FAKE_CA });
  const codes = plan.warnings.map((w) => w.code).sort();
  assert.deepEqual(codes, ['VALUES_SECRETS_UNSUPPORTED', 'VALUES_SECRETS_UNSUPPORTED', 'VERSION_UNKNOWN_NEWER', 'VERSION_UNKNOWN_NEWER']);
  assert.match(plan.warnings.find((w) => w.code === 'VERSION_UNKNOWN_NEWER')!.message, /rendered in the 1\.20 form/);
  // 1.21 renders as the newest known minor does.
  assert.deepEqual(plan.clusters[0]!.features, { ...featuresOf(parseCiliumVersion('1.20.2')!), unknownNewer: true });
  assert.ok(plan.warnings.every((w) => w.severity === 'warning' && w.path && w.fix));
});

test('kvstoremesh defaults by version and follows the spec override', () => {
  assert.equal(planMesh(makeSpec(2, { method: 'helm', version: '1.15.5' })).clusters[0]!.kvstoremesh, false);
  assert.equal(planMesh(makeSpec(2, { method: 'helm', version: '1.16.3' })).clusters[0]!.kvstoremesh, true);
  const spec = makeSpec(2, { method: 'helm', version: '1.17.1' });
  spec.clusters[1]!.kvstoremesh = false;
  assert.equal(planMesh(spec).clusters[1]!.kvstoremesh, false);
});

test('method provided without certificates is a coded input error', () => {
  const spec = makeSpec(2);
  assert.throws(() => planMesh(spec, { ca: FAKE_CA }), (e: unknown) => e instanceof MeshformError && e.findings[0]!.code === 'CERTS_MISSING');
  assert.doesNotThrow(() => planMesh(spec, { ca: FAKE_CA, certs: fakeCertsFor(spec) }));
});

test('facts fill what the spec leaves out: RKE2 version, values, CIDRs; the spec wins where given', () => {
  const spec = makeSpec(2, { method: 'helm' });
  delete spec.clusters[0]!.rke2Version;
  spec.clusters[0]!.podCIDRs = [];
  spec.clusters[1]!.rke2Version = 'v1.27.1+rke2r1';
  const plan = planMesh(spec, {
    facts: {
      clusters: {
        c000: { rke2Version: 'v1.33.2+rke2r1', values: { operator: { replicas: 1 } }, clusterCIDR: ['10.1.0.0/16'] },
        c001: { rke2Version: 'v1.33.2+rke2r1' },
      },
    },
  });
  const [a, b] = plan.clusters;
  assert.equal(a!.rke2Version, 'v1.33.2+rke2r1');
  assert.equal(a!.valuesSecrets, true);
  assert.deepEqual(a!.podCIDRs, ['10.1.0.0/16']);
  assert.deepEqual(a!.values!.data, { operator: { replicas: 1 } });
  assert.equal(b!.rke2Version, 'v1.27.1+rke2r1');
  assert.equal(b!.valuesSecrets, false);
});
