import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { X509Certificate } from 'node:crypto';
import { parse, stringify } from 'yaml';
import { parseFacts } from '../../src/spec/facts.js';
import {
  ciliumVersionFromChart,
  discoverAll,
  discoverCluster,
  duplicateClusterFindings,
  identityFindings,
  assertIdentity,
  nodeFact,
} from '../../src/discover/discover.js';
import { initSpecFromFacts } from '../../src/discover/init.js';
import { clusterError } from '../../src/kube/errors.js';
import type { KubeObject } from '../../src/kube/client.js';
import { MeshformError } from '../../src/errors.js';
import { FakeClusterClient, node } from '../kube/fake-client.js';

function releaseSecret(revision: number, config: object, status = 'deployed'): KubeObject {
  const rel = { name: 'rke2-cilium', namespace: 'kube-system', version: revision, info: { status }, chart: { metadata: { name: 'rke2-cilium', version: '1.16.302', appVersion: '1.16.3' } }, config };
  const helmB64 = gzipSync(Buffer.from(JSON.stringify(rel))).toString('base64');
  return {
    apiVersion: 'v1', kind: 'Secret', type: 'helm.sh/release.v1',
    metadata: { name: `sh.helm.release.v1.rke2-cilium.v${revision}`, namespace: 'kube-system', labels: { owner: 'helm', name: 'rke2-cilium', status, version: String(revision) } },
    data: { release: Buffer.from(helmB64).toString('base64') },
  };
}

/** An RKE2-shaped cluster: 2 servers (control-plane, etcd, master), 2 agents. */
function rke2(name: string, opts: { clusterName?: string; clusterId?: string; net: string; nodePort?: number; uid?: string }): FakeClusterClient {
  const objs: KubeObject[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system', uid: opts.uid ?? `uid-${name}` } },
    node(`${name}-cp1`, `${opts.net}.11`, ['control-plane', 'etcd', 'master'], '10.1.0.0/24'),
    node(`${name}-cp2`, `${opts.net}.12`, ['control-plane', 'etcd', 'master'], '10.1.1.0/24'),
    node(`${name}-w2`, `${opts.net}.22`, [], '10.1.3.0/24'),
    node(`${name}-w1`, `${opts.net}.21`, [], '10.1.2.0/24'),
    { apiVersion: 'helm.cattle.io/v1', kind: 'HelmChart', metadata: { name: 'rke2-cilium', namespace: 'kube-system' },
      spec: { chart: 'rke2-cilium', version: '1.16.302', set: { 'global.clusterCIDR': '10.1.0.0/16', 'global.serviceCIDR': '10.101.0.0/18', 'global.clusterDNS': '10.101.0.10', 'global.systemDefaultRegistry': '' } } },
    { apiVersion: 'helm.cattle.io/v1', kind: 'HelmChartConfig', metadata: { name: 'rke2-cilium', namespace: 'kube-system' }, spec: { valuesContent: 'kubeProxyReplacement: true\nclustermesh:\n  apiserver:\n    kvstoremesh:\n      enabled: false\n' } },
    releaseSecret(1, { old: true }, 'superseded'),
    releaseSecret(2, { kubeProxyReplacement: true, hubble: { enabled: true } }),
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cilium-config', namespace: 'kube-system' },
      data: { 'cluster-name': opts.clusterName ?? 'default', 'cluster-id': opts.clusterId ?? '0', 'max-connected-clusters': '255', 'routing-mode': 'tunnel', 'tunnel-protocol': 'vxlan', 'kube-proxy-replacement': 'true' } },
  ];
  if (opts.nodePort) {
    objs.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'clustermesh-apiserver', namespace: 'kube-system' }, spec: { type: 'NodePort', ports: [{ port: 2379, nodePort: opts.nodePort }] } });
  }
  return new FakeClusterClient(name, objs);
}

test('nodeFact: roles from labels, a node without server roles is a worker', () => {
  assert.deepEqual(nodeFact(node('cp', '192.0.2.1', ['control-plane', 'etcd', 'master'])).roles, ['control-plane', 'master', 'etcd']);
  const w = nodeFact(node('w', '192.0.2.2', [], '10.0.0.0/24'));
  assert.deepEqual(w, { name: 'w', roles: ['worker'], internalIPs: ['192.0.2.2'], externalIPs: [], podCIDRs: ['10.0.0.0/24'] });
});

test('chart version → Cilium version', () => {
  assert.equal(ciliumVersionFromChart('1.15.500'), '1.15.5');
  assert.equal(ciliumVersionFromChart('1.16.302'), '1.16.3');
  assert.equal(ciliumVersionFromChart('1.17.6'), '1.17.6');
  assert.equal(ciliumVersionFromChart('x'), undefined);
});

test('discover reads every fact of DESIGN §8.1 from an RKE2-shaped cluster', async () => {
  const f = await discoverCluster(rke2('mesh01', { clusterName: 'mesh01', clusterId: '1', net: '192.0.2', nodePort: 32379 }));
  assert.equal(f.kubeSystemUID, 'uid-mesh01');
  assert.deepEqual(f.nodes?.map((n) => [n.name, n.roles.join('+')]), [
    ['mesh01-cp1', 'control-plane+master+etcd'], ['mesh01-cp2', 'control-plane+master+etcd'], ['mesh01-w1', 'worker'], ['mesh01-w2', 'worker'],
  ]);
  assert.deepEqual(f.clusterCIDR, ['10.1.0.0/16']);
  assert.deepEqual(f.serviceCIDR, ['10.101.0.0/18']);
  assert.equal(f.helmChart?.set['global.clusterDNS'], '10.101.0.10');
  assert.match(f.helmChartConfig?.valuesContent ?? '', /kubeProxyReplacement: true/);
  assert.deepEqual(f.values, { kubeProxyReplacement: true, hubble: { enabled: true } });
  assert.deepEqual(f.helmRelease, { revision: 2, status: 'deployed', chartVersion: '1.16.302', appVersion: '1.16.3' });
  assert.equal(f.ciliumVersion, '1.16.3');
  assert.equal(f.chartVersion, '1.16.302');
  assert.equal(f.rke2Version, 'v1.31.8+rke2r1');
  assert.equal(f.clusterName, 'mesh01');
  assert.equal(f.clusterId, 1);
  assert.equal(f.maxConnectedClusters, 255);
  assert.equal(f.routingMode, 'tunnel');
  assert.equal(f.tunnelProtocol, 'vxlan');
  assert.equal(f.kubeProxyReplacement, 'true');
  assert.equal(f.kvstoremesh, false);
  assert.deepEqual(f.service, { type: 'NodePort', nodePort: 32379 });
  assert.equal(f.warnings, undefined);
  // What discover --save writes must load back as a facts file: every field it reads is known there.
  const back = parseFacts(stringify({ clusters: { mesh01: f } }), 'facts.yaml');
  assert.deepEqual(back.clusters['mesh01'], f);
});

test('no RBAC on secrets: a warning, the rest is still read', async () => {
  const c = rke2('mesh01', { net: '192.0.2' });
  c.fail = (call) => (call.kind === 'Secret' ? clusterError({ cluster: 'mesh01', code: 'KUBE_FORBIDDEN', message: 'missing RBAC: needs list on secrets in kube-system', rule: 'r', fix: 'f' }) : undefined);
  const f = await discoverCluster(c);
  assert.equal(f.values, undefined);
  assert.equal(f.nodes?.length, 4);
  assert.equal(f.chartVersion, '1.16.302');
  assert.equal(f.ciliumVersion, '1.16.3', 'falls back to the HelmChart version');
  assert.match(f.warnings?.[0] ?? '', /helm release secrets in kube-system: missing RBAC: needs list on secrets/);
});

test('a missing release is a warning naming it', async () => {
  const c = rke2('mesh01', { net: '192.0.2' });
  for (const k of [...c.objects.keys()]) if (k.startsWith('Secret/')) c.objects.delete(k);
  const f = await discoverCluster(c);
  assert.deepEqual(f.warnings, ['no helm release "rke2-cilium" in kube-system']);
});

test('discoverAll: one unreachable cluster is reported, the others are discovered', async () => {
  const a = rke2('mesh01', { net: '192.0.2' });
  const b = rke2('mesh02', { net: '198.51.100' });
  b.fail = () => clusterError({ cluster: 'mesh02', code: 'KUBE_UNREACHABLE', message: 'cannot reach the Kubernetes API', rule: 'r', fix: 'f' });
  const r = await discoverAll([{ name: 'mesh01', client: a }, { name: 'mesh02', client: b }]);
  assert.deepEqual(Object.keys(r.facts.clusters), ['mesh01']);
  assert.equal(r.failures.length, 1);
  assert.equal(r.failures[0]?.cluster, 'mesh02');
  assert.equal(r.failures[0]?.error.exitCode, 3);
});

test('discoverAll runs clusters concurrently, within the bound', async () => {
  const clients = Array.from({ length: 6 }, (_, i) => rke2(`c${i}`, { net: `10.9.${i}` }));
  const active = new Map<string, number>();
  let peak = 0;
  for (const c of clients) {
    c.delayMs = 5;
    const get = c.get.bind(c);
    c.get = async (...args) => {
      active.set(c.cluster, (active.get(c.cluster) ?? 0) + 1);
      peak = Math.max(peak, [...active.values()].filter((n) => n > 0).length);
      try {
        return await get(...args);
      } finally {
        active.set(c.cluster, (active.get(c.cluster) ?? 1) - 1);
      }
    };
  }
  const r = await discoverAll(clients.map((c) => ({ name: c.cluster, client: c })), { concurrency: 3 });
  assert.equal(Object.keys(r.facts.clusters).length, 6);
  assert.equal(peak, 3);
});

test('identity: a context pointing at another mesh cluster is refused, unless allowed (then a warning)', () => {
  const facts = { clusterName: 'mesh02', clusterId: 2, kubeSystemUID: 'u2' };
  const f = identityFindings({ name: 'mesh01', id: 1, index: 0 }, facts);
  assert.deepEqual(f.map((x) => [x.code, x.severity, x.path]), [['CLUSTER_IDENTITY_MISMATCH', 'error', 'clusters[0].name'], ['CLUSTER_ID_CHANGE', 'error', 'clusters[0].id']]);
  assert.throws(() => assertIdentity({ name: 'mesh01', id: 1 }, facts), (e: MeshformError) => e.exitCode === 3 && /Cilium is named "mesh02"/.test(e.message) && e.findings.length === 2);
  assert.deepEqual(identityFindings({ name: 'mesh01', id: 1 }, facts, { allowIdentityChange: true }).map((x) => x.severity), ['warning', 'warning']);
  assert.deepEqual(identityFindings({ name: 'mesh01', id: 1, kubeSystemUID: 'u9' }, facts, { allowIdentityChange: true })[0]?.severity, 'error');
  assert.deepEqual(identityFindings({ name: 'mesh01', id: 1 }, { clusterName: 'default', clusterId: 0 }), []);
  assert.deepEqual(identityFindings({ name: 'mesh01', id: 1 }, { clusterName: 'mesh01', clusterId: 1 }), []);
});

test('two spec clusters reaching one real cluster are caught', () => {
  const f = duplicateClusterFindings({ clusters: { a: { kubeSystemUID: 'u' }, b: { kubeSystemUID: 'u' }, c: { kubeSystemUID: 'v' } } }, ['a', 'b', 'c']);
  assert.equal(f.length, 1);
  assert.equal(f[0]?.path, 'clusters[1].context');
});

test('init: names and IDs Cilium uses are kept, new ones get the next free; worker IPs; CIDRs; values files', async () => {
  const a = await discoverCluster(rke2('mesh01', { clusterName: 'mesh01', clusterId: '1', net: '192.0.2', nodePort: 32379 }));
  const b = await discoverCluster(rke2('ctx-B', { net: '198.51.100' }));
  const c = await discoverCluster(rke2('third', { clusterName: 'east', clusterId: '3', net: '203.0.113' }));
  const r = initSpecFromFacts([
    { fallbackName: 'ctx-a', context: 'ctx-a', facts: a },
    { fallbackName: 'Ctx_B', context: 'Ctx_B', kubeconfig: 'kubeconfigs/b.yaml', facts: b },
    { fallbackName: 'third', context: 'third', facts: c },
  ], { meshName: 'onprem' });
  const spec = parse(r.meshYaml) as { clusters: Record<string, unknown>[]; cilium: { version: string } };
  assert.deepEqual(spec.clusters.map((x) => [x['name'], x['id']]), [['mesh01', 1], ['ctx-b', 2], ['east', 3]]);
  assert.deepEqual(spec.clusters[0]?.['endpoint'], { nodePort: 32379, ips: ['192.0.2.21', '192.0.2.22'] });
  assert.deepEqual((spec.clusters[1]?.['endpoint'] as { nodePort: number }).nodePort, 32380, 'the next free NodePort');
  assert.equal(spec.clusters[1]?.['kubeconfig'], 'kubeconfigs/b.yaml');
  assert.equal(spec.clusters[0]?.['podCIDR'], '10.1.0.0/16');
  assert.equal(spec.clusters[0]?.['serviceCIDR'], '10.101.0.0/18');
  assert.equal(spec.cilium.version, '1.16.3');
  assert.deepEqual(r.files.map((f) => f.path), ['values_mesh01.yaml', 'values_ctx-b.yaml', 'values_east.yaml']);
  assert.deepEqual(parse(r.files[0]?.content ?? ''), { kubeProxyReplacement: true, hubble: { enabled: true } });
  assert.match(r.meshYaml, /^# Written by meshform init/);
});

test('init output loads with the spec loader as written', async () => {
  const { loadSpec } = await import('../../src/spec/load.js');
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const a = await discoverCluster(rke2('mesh01', { clusterName: 'mesh01', clusterId: '1', net: '192.0.2', nodePort: 32379 }));
  const b = await discoverCluster(rke2('mesh02', { net: '198.51.100' }));
  const r = initSpecFromFacts([{ fallbackName: 'mesh01', context: 'mesh01', facts: a }, { fallbackName: 'mesh02', context: 'mesh02', facts: b }], { meshName: 'lab' });
  const dir = mkdtempSync(join(tmpdir(), 'meshform-init-'));
  writeFileSync(join(dir, 'mesh.yaml'), r.meshYaml);
  for (const f of r.files) writeFileSync(join(dir, f.path), f.content);
  const spec = await loadSpec(join(dir, 'mesh.yaml'));
  assert.deepEqual(spec.clusters.map((c) => [c.name, c.id, c.context, c.podCIDRs.join(',')]), [['mesh01', 1, 'mesh01', '10.1.0.0/16'], ['mesh02', 2, 'mesh02', '10.1.0.0/16']]);
  assert.deepEqual(spec.clusters[0]?.endpoint, { type: 'NodePort', nodePort: 32379, ips: ['192.0.2.21', '192.0.2.22'] });
  assert.deepEqual(spec.clusters[1]?.values?.data, { kubeProxyReplacement: true, hubble: { enabled: true } });
});

test('init on a cluster whose values hold keys (the seed\'s way): keys are left out of values_<c>.yaml with a warning, and the spec loads', async () => {
  const { loadSpec } = await import('../../src/spec/load.js');
  const { mkdtempSync, writeFileSync, readFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { createCa } = await import('../../src/pki/ca.js');
  const ca = await createCa({ algorithm: 'ecdsa-p256', validityDays: 365, now: new Date('2026-11-01T00:00:00Z') });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const a = await discoverCluster(rke2('mesh01', { clusterName: 'mesh01', clusterId: '1', net: '192.0.2', nodePort: 32379 }));
  a.values = {
    cluster: { name: 'mesh01', id: 1 },
    tls: { ca: { cert: b64(ca.certPem), key: b64(ca.key.reveal()) } },
    clustermesh: { apiserver: { tls: { server: { cert: b64(ca.certPem), key: b64(ca.key.reveal()) } } } },
  };
  const b = await discoverCluster(rke2('mesh02', { net: '198.51.100' }));
  const r = initSpecFromFacts([{ fallbackName: 'mesh01', context: 'mesh01', facts: a }, { fallbackName: 'mesh02', context: 'mesh02', facts: b }], { meshName: 'lab' });
  const w = r.findings.find((f) => f.code === 'INIT_KEYS_LEFT_OUT');
  assert.ok(w, 'a warning names what was left out');
  assert.equal(w.value, 'tls.ca.key, clustermesh.apiserver.tls.server.key');
  assert.match(w.fix, /meshform ca import/);
  const dir = mkdtempSync(join(tmpdir(), 'meshform-init-keys-'));
  writeFileSync(join(dir, 'mesh.yaml'), r.meshYaml);
  for (const f of r.files) writeFileSync(join(dir, f.path), f.content);
  const text = readFileSync(join(dir, 'values_mesh01.yaml'), 'utf8');
  assert.doesNotMatch(text, new RegExp(b64(ca.key.reveal()).slice(0, 40)));
  assert.match(text, /cert: /, 'the public certificates stay');
  const spec = await loadSpec(join(dir, 'mesh.yaml'));
  assert.equal(spec.clusters[0]?.name, 'mesh01');
});

test('init on clusters with different CAs (their own cilium-ca), one in a mesh already: adopted as they are — method keep, each CA in ca.trust — and the spec loads and validates', async () => {
  const { prepare } = await import('../../src/prepare.js');
  const { mkdtempSync, mkdirSync, writeFileSync, readFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join, dirname } = await import('node:path');
  const { createCa, writeCaFiles } = await import('../../src/pki/ca.js');
  const now = new Date('2026-11-01T00:00:00Z');
  const [caA, caB, shared] = await Promise.all([1, 2, 3].map(() => createCa({ algorithm: 'ecdsa-p256', validityDays: 3650, now })));
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const withCa = (c: FakeClusterClient, ca: { certPem: string; key: { reveal(): string } }) => {
    c.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cilium-ca', namespace: 'kube-system' }, data: { 'ca.crt': b64(ca.certPem), 'ca.key': b64(ca.key.reveal()) } });
    return c;
  };
  const a = await discoverCluster(withCa(rke2('mesh01', { clusterName: 'mesh01', clusterId: '1', net: '192.0.2', nodePort: 32379 }), caA!));
  const b = await discoverCluster(withCa(rke2('mesh02', { clusterName: 'mesh02', clusterId: '2', net: '198.51.100', nodePort: 32380 }), caB!));
  // Clusters on 1.18 (the chart mounts the CA bundle for KVStoreMesh too: adoptable as they are).
  for (const x of [a, b]) [x.ciliumVersion, x.chartVersion] = ['1.18.11', '1.18.1100'];
  [b.clusterCIDR, b.serviceCIDR] = [['10.2.0.0/16'], ['10.102.0.0/18']];
  // Only the public certificate is kept: no key in the facts (discover's JSON output).
  assert.equal(a.caCert?.trim(), caA!.certPem.trim());
  assert.doesNotMatch(JSON.stringify(a), /PRIVATE KEY/);
  // Not in a mesh yet: nothing relies on their CAs across clusters, the shared CA replaces them (said).
  const fresh = initSpecFromFacts([{ fallbackName: 'mesh01', context: 'mesh01', facts: a }, { fallbackName: 'mesh02', context: 'mesh02', facts: b }], { meshName: 'lab' });
  assert.equal(fresh.method, 'provided');
  assert.equal((parse(fresh.meshYaml) as { certificates: { method: string } }).certificates.method, 'provided');
  const replaced = fresh.findings.find((x) => x.code === 'INIT_CAS_REPLACED');
  assert.ok(replaced, 'init says the shared CA replaces theirs');
  assert.match(replaced.message, /2 different CAs .*none of them is in a mesh yet/);
  assert.match(replaced.fix, /--certificates keep/);
  assert.equal(fresh.files.some((x) => x.path.startsWith('ca-trust/')), false);
  // Asked for: adopted even so.
  const asked = initSpecFromFacts([{ fallbackName: 'mesh01', context: 'mesh01', facts: a }, { fallbackName: 'mesh02', context: 'mesh02', facts: b }], { meshName: 'lab', certificates: 'keep' });
  assert.equal(asked.method, 'keep');
  assert.ok(asked.findings.some((x) => x.code === 'INIT_CAS_DIFFER'));
  // mesh01 is in a mesh (its deployed values have peers): its links rely on its CA, so it is kept.
  a.peers = ['mesh09'];
  const r = initSpecFromFacts([{ fallbackName: 'mesh01', context: 'mesh01', facts: a }, { fallbackName: 'mesh02', context: 'mesh02', facts: b }], { meshName: 'lab' });
  const f = r.findings.find((x) => x.code === 'INIT_CAS_DIFFER');
  assert.ok(f, 'init names the differing CAs');
  assert.match(f.message, /2 different CAs.*mesh01 is in a mesh already/);
  assert.match(f.fix, /meshform ca rotate mesh\.yaml/);
  const doc = parse(r.meshYaml) as { certificates: { method: string }; ca: { trust: string[] } };
  assert.equal(doc.certificates.method, 'keep');
  assert.deepEqual(doc.ca.trust, ['ca-trust/mesh01.crt', 'ca-trust/mesh02.crt']);
  assert.match(r.meshYaml, /ca rotate/);
  assert.ok(r.files.every((x) => !x.secret && !/PRIVATE KEY/.test(x.content)));
  const dir = mkdtempSync(join(tmpdir(), 'meshform-init-adopt-'));
  for (const x of [{ path: 'mesh.yaml', content: r.meshYaml }, ...r.files]) {
    mkdirSync(dirname(join(dir, x.path)), { recursive: true });
    writeFileSync(join(dir, x.path), x.content);
  }
  assert.equal(readFileSync(join(dir, 'ca-trust/mesh02.crt'), 'utf8').trim(), caB!.certPem.trim());
  await writeCaFiles(join(dir, 'ca'), shared!, { force: false });
  const p = await prepare(join(dir, 'mesh.yaml'), { now });
  assert.deepEqual(p.findings.filter((x) => x.severity === 'error'), []);
  const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
  assert.deepEqual(p.ca?.trust?.map((t) => t.fingerprint256), [fp(caA!.certPem), fp(caB!.certPem)]);
  // One CA on every cluster: nothing to adopt, the usual spec.
  const same = await discoverCluster(withCa(rke2('mesh03', { clusterName: 'mesh03', clusterId: '3', net: '203.0.113', nodePort: 32381 }), caA!));
  const r2 = initSpecFromFacts([{ fallbackName: 'mesh01', context: 'mesh01', facts: a }, { fallbackName: 'mesh03', context: 'mesh03', facts: same }], { meshName: 'lab' });
  assert.equal(r2.findings.some((x) => x.code === 'INIT_CAS_DIFFER'), false);
  assert.equal((parse(r2.meshYaml) as { certificates: { method: string } }).certificates.method, 'provided');
  // Replacing the CAs of a meshed cluster is the operator's explicit choice.
  const forced = initSpecFromFacts([{ fallbackName: 'mesh01', context: 'mesh01', facts: a }, { fallbackName: 'mesh02', context: 'mesh02', facts: b }], { meshName: 'lab', certificates: 'provided' });
  assert.equal(forced.method, 'provided');
  assert.ok(forced.findings.some((x) => x.code === 'INIT_CAS_REPLACED'));
  assert.equal(forced.findings.some((x) => x.code === 'INIT_CAS_DIFFER'), false);
});
