import { test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { parse, parseAllDocuments } from 'yaml';
import { CA_BUNDLE_ANNOTATION } from '../../src/defaults.js';
import { planMesh } from '../../src/plan/plan.js';
import { renderMesh } from '../../src/render/render.js';
import { ALL_TARGETS } from '../../src/render/types.js';
import type { MeshSpec } from '../../src/spec/types.js';
import { FAKE_CA, fakeCertsFor, makeSpec, valuesFile } from './helpers.js';

const USER = `# my values
global:
  clusterCIDR: 10.42.0.0/16 # injected by RKE2
hubble: # Enable Hubble
  enabled: true
  relay: {enabled: true}
zeta: 1
clustermesh:
  annotations:
    team: net # keep me
  apiserver:
    resources: {limits: {cpu: "1"}}
    tls:
      ca:
        cert: OLDCA
      server:
        cert: OLD-USER-CERT
        key: OLD-USER-KEY
alpha: [a, b]   # trailing
tls:
  ca:
    key: OLD-USER-CA-KEY
`;

function render(spec: MeshSpec) {
  const plan = planMesh(spec, { ca: FAKE_CA, ...(spec.certificates.method === 'provided' ? { certs: fakeCertsFor(spec) } : {}) });
  return { plan, files: renderMesh(plan, { targets: ALL_TARGETS }) };
}

function deepKeys(v: unknown, prefix = ''): string[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [prefix];
  return Object.entries(v).flatMap(([k, x]) => deepKeys(x, prefix ? `${prefix}.${k}` : k));
}

test('values: user comments and key order kept, mesh keys appended, user keys never dropped', () => {
  const spec = makeSpec(3, { version: '1.15.5', values: () => valuesFile(USER) });
  const { files } = render(spec);
  const text = files.find((f) => f.path === 'values/c000.yaml')!.content;
  for (const c of ['# my values', '# injected by RKE2', 'hubble: # Enable Hubble', '# keep me', 'alpha: [a, b] # trailing']) {
    assert.ok(text.includes(c), `lost "${c}":\n${text}`);
  }
  const order = ['global:', 'hubble:', 'zeta:', 'clustermesh:', 'alpha:', 'tls:', 'cluster:'].map((k) => text.indexOf(`\n${k}`));
  assert.deepEqual([...order].sort((a, b) => a - b), order, 'top-level key order');
  const out = parse(text);
  const user = parse(USER);
  const secretPaths = new Set(['tls.ca.key', 'clustermesh.apiserver.tls.ca.cert', 'clustermesh.apiserver.tls.server.cert', 'clustermesh.apiserver.tls.server.key']);
  for (const k of deepKeys(user).filter((k) => !secretPaths.has(k) && k !== 'clustermesh.apiserver.tls.ca.cert')) {
    const got = k.split('.').reduce<any>((o, s) => o?.[s], out);
    assert.notEqual(got, undefined, `user key ${k} dropped`);
  }
  assert.equal(out.clustermesh.apiserver.resources.limits.cpu, '1');
  assert.equal(out.clustermesh.annotations.team, 'net');
  assert.equal(out.cluster.name, 'c000');
  assert.equal(out.clustermesh.config.clusters.length, 2);
  // The user's own key material is removed from values/ (meshform's lives under secrets/).
  assert.equal(out.tls?.ca?.key, undefined);
  assert.equal(out.clustermesh.apiserver.tls.server.cert, undefined);
  assert.ok(!text.includes('OLD-USER'));
  // rke2 / rancher drop RKE2's injected global block.
  const rke2 = parse(files.find((f) => f.path === 'rke2/c000/rke2-cilium-config.yaml')!.content);
  assert.equal(parse(rke2.spec.valuesContent).global, undefined);
  assert.equal(parse(rke2.spec.valuesContent).zeta, 1);
});

test('secrets: key material only in secret files under secrets/, never in values/, rke2/, rancher/, fleet/, plan.json', () => {
  for (const version of ['1.15.5', '1.16.12', '1.19.6']) {
    for (const rke2Version of ['v1.27.14+rke2r1', 'v1.33.1+rke2r1']) {
      const spec = makeSpec(3, { version, rke2Version, values: () => valuesFile(USER) });
      const { files } = render(spec);
      const b64 = (s: string) => Buffer.from(s).toString('base64');
      const keys = [FAKE_CA.key.reveal(), ...[...fakeCertsFor(spec).values()].flatMap((c) => [c.server, c.admin, c.remote, ...(c.local ? [c.local] : [])].map((x) => x.key.reveal()))];
      for (const f of files) {
        const hasKey = f.content.includes('SECRETKEY') || keys.some((k) => f.content.includes(b64(k)));
        if (!f.path.startsWith('secrets/')) {
          assert.equal(f.secret, false, f.path);
          assert.ok(!hasKey, `${version}/${rke2Version}: key material in ${f.path}`);
        } else {
          assert.equal(f.secret, true, f.path);
        }
      }
      assert.ok(files.some((f) => f.secret && f.content.includes(b64(FAKE_CA.key.reveal()))), 'CA key present under secrets/');
    }
  }
});

test('version forms: list vs map peers, certs in values vs pre-created Secrets, local cert 1.16–1.18', () => {
  const paths = (v: string) => render(makeSpec(2, { version: v })).files.map((f) => f.path);
  assert.ok(!paths('1.15.5').some((p) => p.includes('-cert.yaml')));
  assert.deepEqual(paths('1.17.6').filter((p) => p.startsWith('secrets/c000/clustermesh')), ['secrets/c000/clustermesh-apiserver-local-cert.yaml']);
  assert.deepEqual(
    paths('1.19.6').filter((p) => p.startsWith('secrets/c000/clustermesh')),
    ['admin', 'local', 'remote', 'server'].map((k) => `secrets/c000/clustermesh-apiserver-${k}-cert.yaml`),
  );
  const v19 = parse(render(makeSpec(3, { version: '1.19.6' })).files.find((f) => f.path === 'values/c000.yaml')!.content);
  assert.deepEqual(Object.keys(v19.clustermesh.config.clusters), ['c001', 'c002']);
  assert.equal(v19.clustermesh.apiserver.tls.enableSecrets, false);
  const s18 = parse(render(makeSpec(2, { version: '1.18.6' })).files.find((f) => f.path === 'secrets/c000.values.yaml')!.content);
  assert.deepEqual(Object.keys(s18.clustermesh.apiserver.tls), ['server', 'admin', 'remote']);
  const local = parse(render(makeSpec(2, { version: '1.17.6' })).files.find((f) => f.path.endsWith('local-cert.yaml'))!.content);
  assert.equal(local.type, 'kubernetes.io/tls');
  assert.deepEqual(Object.keys(local.data).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
});

test('1.20 form: pre-created Secrets only, no enableSecrets, server SANs under tls.auto.server, the chart validity set for auto methods', () => {
  const valuesOf = (spec: MeshSpec, c = 'c000') => parse(render(spec).files.find((f) => f.path === `values/${c}.yaml`)!.content);
  const spec = makeSpec(2, { version: '1.20.2', values: () => valuesFile(USER) });
  spec.clusters[0]!.tls.extraIpAddresses = ['203.0.113.5'];
  const { files } = render(spec);
  assert.deepEqual(
    files.filter((f) => f.path.startsWith('secrets/c000/clustermesh')).map((f) => f.path),
    ['admin', 'local', 'remote', 'server'].map((k) => `secrets/c000/clustermesh-apiserver-${k}-cert.yaml`),
  );
  const secretValues = parse(files.find((f) => f.path === 'secrets/c000.values.yaml')!.content);
  assert.deepEqual(Object.keys(secretValues), ['tls'], 'no certificates in values: the 1.20 chart refuses them');
  const tls = valuesOf(spec).clustermesh.apiserver.tls;
  assert.equal(tls.enableSecrets, undefined);
  assert.equal(tls.server.extraDnsNames, undefined, 'the user\'s tls.server keeps only what the user wrote');
  assert.deepEqual(tls.auto, { enabled: false, server: { extraDnsNames: ['c000.mesh.cilium.io'], extraIpAddresses: ['203.0.113.5'] } });
  for (const method of ['helm', 'cronJob', 'certmanager'] as const) {
    const auto = valuesOf(makeSpec(2, { version: '1.20.2', method })).clustermesh.apiserver.tls.auto;
    assert.equal(auto.certValidityDuration, 1095, method);
    assert.deepEqual(auto.server.extraDnsNames, ['c000.mesh.cilium.io'], method);
    const before = valuesOf(makeSpec(2, { version: '1.19.6', method })).clustermesh.apiserver.tls;
    assert.equal(before.auto.server, undefined, method);
    assert.deepEqual(before.server.extraDnsNames, ['c000.mesh.cilium.io'], method);
  }
  assert.equal(valuesOf(makeSpec(2, { version: '1.20.2' })).clustermesh.apiserver.tls.auto.certValidityDuration, undefined, 'provided: meshform issues');
});

test('a CA bundle (ca.trust): tls.caBundle with the shared CA first; 1.16–1.17 with KVStoreMesh pre-create every certificate with the bundle as ca.crt', () => {
  const OLD = { path: '/in-memory/old.crt', certPem: '-----BEGIN CERTIFICATE-----\nOLD-CA\n-----END CERTIFICATE-----\n', subject: 'CN=old', fingerprint256: 'FP:OLD', notBefore: FAKE_CA.notBefore, notAfter: FAKE_CA.notAfter };
  const renderBundled = (version: string, kvstoremesh?: boolean) => {
    const spec = makeSpec(2, { version });
    if (kvstoremesh !== undefined) for (const c of spec.clusters) c.kvstoremesh = kvstoremesh;
    const plan = planMesh(spec, { ca: { ...FAKE_CA, trust: [OLD] }, certs: fakeCertsFor(spec) });
    return renderMesh(plan, { targets: ALL_TARGETS });
  };
  const bundle = FAKE_CA.certPem + OLD.certPem;
  for (const version of ['1.15.19', '1.16.19', '1.17.14', '1.18.11', '1.19.0', '1.20.2']) {
    const files = renderBundled(version);
    const v = parse(files.find((f) => f.path === 'values/c000.yaml')!.content);
    assert.deepEqual(v.tls, { caBundle: { enabled: true, content: bundle } }, version);
    // The bundle's hash on the clustermesh-apiserver pods: a new bundle restarts its etcd (which reads its CA pool once).
    assert.deepEqual(v.clustermesh.apiserver.podAnnotations, { [CA_BUNDLE_ANNOTATION]: createHash('sha256').update(bundle).digest('hex') }, version);
    for (const f of files.filter((x) => x.role === 'certSecret')) {
      assert.equal(Buffer.from(parse(f.content).data['ca.crt'], 'base64').toString(), bundle, `${version} ${f.path}`);
    }
    const preCreated = files.filter((f) => f.path.startsWith('secrets/c000/clustermesh')).length;
    const minor = Number(version.split('.')[1]);
    assert.equal(preCreated, minor === 15 ? 0 : minor === 18 ? 1 : 4, version);
    if (minor === 16 || minor === 17) assert.equal(v.clustermesh.apiserver.tls.enableSecrets, false, version);
  }
  // 1.16 without KVStoreMesh: its agents read the bundle, so the certificates stay in values.
  assert.deepEqual([...new Set(renderBundled('1.16.19', false).filter((f) => f.role === 'certSecret').map((f) => f.path.replace(/^secrets\/c00\d\//, '')))], ['clustermesh-apiserver-local-cert.yaml']);
  // Without ca.trust nothing changes: no tls.caBundle, no annotation.
  const plain = parse(render(makeSpec(2, { version: '1.20.2' })).files.find((f) => f.path === 'values/c000.yaml')!.content);
  assert.equal(plain.tls, undefined);
  assert.equal(plain.clustermesh.apiserver.podAnnotations, undefined);
});

test('rke2: valuesSecrets where RKE2 allows, else inline under secrets/; Fleet ships only the former', () => {
  const spec = makeSpec(2, { version: '1.17.6' });
  spec.clusters[1]!.rke2Version = 'v1.31.7+rke2r1';
  const { files, plan } = render(spec);
  const ok = parse(files.find((f) => f.path === 'rke2/c000/rke2-cilium-config.yaml')!.content);
  assert.equal(ok.spec.failurePolicy, 'abort');
  assert.deepEqual(ok.spec.valuesSecrets, [{ name: 'meshform-rke2-cilium-values', keys: ['values.yaml'] }]);
  const sec = parse(files.find((f) => f.path === 'secrets/c000/rke2-cilium-values.yaml')!.content);
  assert.equal(sec.metadata.name, 'meshform-rke2-cilium-values');
  assert.ok(parse(sec.stringData['values.yaml']).tls.ca.key);
  const inline = files.find((f) => f.path === 'secrets/c001/rke2-cilium-config.yaml')!;
  assert.ok(inline.secret);
  assert.ok(parse(parse(inline.content).spec.valuesContent).tls.ca.key);
  assert.ok(!files.some((f) => f.path === 'rke2/c001/rke2-cilium-config.yaml'));
  const fleet = parse(files.find((f) => f.path === 'fleet/fleet.yaml')!.content);
  assert.deepEqual(fleet.targetCustomizations.map((t: { name: string }) => t.name), ['c000', 'not-in-mesh']);
  assert.ok(plan.warnings.some((w) => w.code === 'VALUES_SECRETS_UNSUPPORTED' && w.path === 'clusters[1].rke2Version'));
});

test('every generated YAML file parses; multi-line values content stays a literal block', () => {
  const { files } = render(makeSpec(4, { version: '1.16.12', loadBalancerEvery: 2, values: () => valuesFile(USER) }));
  for (const f of files) {
    if (f.path.endsWith('.yaml')) assert.doesNotThrow(() => parseAllDocuments(f.content).forEach((d) => { if (d.errors.length) throw d.errors[0]; }), f.path);
    if (f.path.endsWith('.yaml') || f.path.endsWith('.tf')) assert.ok(f.content.startsWith('# Generated by meshform'), f.path);
  }
  assert.doesNotThrow(() => JSON.parse(files.find((f) => f.path === 'plan.json')!.content));
});

test('re-render of the same inputs gives identical files, sorted by path', () => {
  const spec = makeSpec(5, { version: '1.18.6', values: (i) => (i % 2 ? valuesFile(USER) : undefined) });
  const a = render(spec).files;
  const b = render(spec).files;
  assert.deepEqual(a, b);
  const p = a.map((f) => f.path);
  assert.deepEqual(p, [...p].sort());
});

test('plan.json: no keys, fingerprints and peers present', () => {
  const { files } = render(makeSpec(3, { version: '1.16.12' }));
  const text = files.find((f) => f.path === 'plan.json')!.content;
  assert.ok(!text.includes('SECRETKEY') && !text.includes('PRIVATE KEY') && !text.includes('CERTIFICATE'));
  const plan = JSON.parse(text);
  assert.equal(plan.ca.fingerprint256, 'FP:CA');
  assert.equal(plan.clusters[0].certs.local.fingerprint256, 'FP:local:c000');
  assert.deepEqual(plan.clusters[0].peers, ['c001', 'c002']);
});

test('render output grows linearly in the peer entries, not faster', () => {
  // Measured in bytes, not wall-clock time: deterministic on a loaded machine. Per-pair work shows
  // as bytes per peer entry that grow with the mesh; linear output keeps them flat.
  const perEntry = (n: number): number => {
    const spec = makeSpec(n, { method: 'helm' });
    const files = renderMesh(planMesh(spec, { ca: FAKE_CA }), { targets: ['values'] });
    return files.reduce((sum, f) => sum + f.content.length, 0) / (n * (n - 1));
  };
  const small = perEntry(30);
  const big = perEntry(120); // 16x the peer entries
  assert.ok(big <= small * 1.1, `bytes per peer entry: 30 clusters ${small.toFixed(1)}, 120 clusters ${big.toFixed(1)}`);
  assert.ok(big >= small * 0.5, 'the peer entries are all there');
});

test('peer lists: full mesh, explicit subsets and other orders all list exactly the declared peers', () => {
  const spec = makeSpec(6, { method: 'helm', version: '1.16.12' });
  spec.clusters[2]!.peers = ['c005', 'c000']; // explicit, reordered subset
  spec.clusters[3]!.peers = [];
  const plan = planMesh(spec, { ca: FAKE_CA });
  const files = renderMesh(plan, { targets: ['values', 'rke2', 'rancher'] });
  for (const c of plan.clusters) {
    const values = parse(files.find((f) => f.path === `values/${c.name}.yaml`)!.content);
    assert.deepEqual(values.clustermesh.config.clusters.map((p: { name: string }) => p.name), c.peers, c.name);
    const hcc = parse(files.find((f) => f.path === `rke2/${c.name}/rke2-cilium-config.yaml`)!.content);
    assert.deepEqual(parse(hcc.spec.valuesContent).clustermesh.config.clusters, values.clustermesh.config.clusters);
    const rancher = parse(files.find((f) => f.path === `rancher/${c.name}.yaml`)!.content);
    assert.deepEqual(rancher.spec.rkeConfig.chartValues['rke2-cilium'].clustermesh.config.clusters, values.clustermesh.config.clusters);
  }
  const c1 = parse(files.find((f) => f.path === 'values/c001.yaml')!.content).clustermesh.config.clusters;
  assert.deepEqual(c1[0], { name: 'c000', ips: ['100.64.0.1', '100.64.0.2'], port: 30000 });
});

test('odd user values: aliases into global, directives, flow root, non-map content all render valid YAML', () => {
  const inputs = [
    'global: &g\n  a: 1\nother: *g\n',
    'base: &b {x: 1}\nclustermesh:\n  <<: *b\n  apiserver: {replicas: 3}\n',
    '%YAML 1.2\n---\nk: v\n',
    '{hubble: {enabled: true}, clustermesh: {useAPIServer: false}}\n',
    '[1, 2]\n',
    '# only a comment\n',
  ];
  for (const text of inputs) {
    const spec = makeSpec(2, { method: 'helm', values: () => valuesFile(text) });
    const { files } = render(spec);
    for (const f of files.filter((x) => x.path.endsWith('.yaml'))) {
      for (const d of parseAllDocuments(f.content)) assert.deepEqual(d.errors, [], `${JSON.stringify(text)} → ${f.path}`);
    }
    const hcc = parse(files.find((f) => f.path === 'rke2/c000/rke2-cilium-config.yaml')!.content);
    const v = parse(hcc.spec.valuesContent);
    assert.equal(v.global, undefined);
    assert.equal(v.cluster.name, 'c000');
    assert.equal(v.clustermesh.useAPIServer, true);
    assert.equal(v.clustermesh.config.clusters[0].name, 'c001');
    const rancher = parse(files.find((f) => f.path === 'rancher/c000.yaml')!.content);
    assert.deepEqual(rancher.spec.rkeConfig.chartValues['rke2-cilium'], v);
  }
});
