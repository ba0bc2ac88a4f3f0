import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exampleCopy, meshform, normalise, snapshot, ROOT } from './helpers.js';
import '../golden/pki.js';

test('--help and --version exit 0; an unknown command or flag exits 2', () => {
  assert.equal(meshform(['--help']).code, 0);
  assert.match(meshform(['--version']).stdout, /\d+\.\d+\.\d+/);
  const bad = meshform(['frobnicate']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown command/);
  assert.equal(meshform(['render', 'x.yaml']).code, 2, 'render without --out is a usage error');
  assert.equal(meshform(['validate', 'x.yaml', '--bogus']).code, 2);
});

test('the seed example: ca init, validate, render, and a byte-identical re-render', async () => {
  const dir = await exampleCopy('seed');
  const init = meshform(['ca', 'init', '--spec', 'mesh.yaml'], { cwd: dir });
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /sha256/);
  const again = meshform(['ca', 'init', '--spec', 'mesh.yaml'], { cwd: dir });
  assert.equal(again.code, 2, 'refuses to overwrite the CA without --force');
  assert.match(again.stderr, /--force/);

  const v = meshform(['validate', 'mesh.yaml'], { cwd: dir });
  assert.equal(v.code, 0, v.stdout + v.stderr);

  const r = meshform(['render', 'mesh.yaml', '--out', 'out'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /mesh01\s+1\s+1\.15\.5\s+10\.244\.0\.0\/16/);
  assert.match(r.stdout, /Next:/);
  const record = JSON.parse(await readFile(join(dir, 'out/.meshform-record.json'), 'utf8')) as { files: Record<string, string> };
  const files = Object.keys(record.files);
  const before = new Map<string, string>();
  for (const f of files) before.set(f, await readFile(join(dir, 'out', f), 'utf8'));

  const r2 = meshform(['render', 'mesh.yaml', '--out', 'out', '-o', 'json'], { cwd: dir, env: { MESHFORM_NOW: '2027-01-15T00:00:00.000Z' } });
  assert.equal(r2.code, 0, r2.stderr);
  const summary = JSON.parse(r2.stdout) as { files: { written: string[]; unchanged: string[] }; peerEntries: number };
  assert.deepEqual(summary.files.written, [], 'a re-render with the same inputs writes nothing');
  assert.equal(summary.peerEntries, 2);
  for (const f of files) assert.equal(await readFile(join(dir, 'out', f), 'utf8'), before.get(f), f);
});

test('the three-clusters example renders', async () => {
  const dir = await exampleCopy('three-clusters');
  assert.equal(meshform(['ca', 'init', 'ca', '--algorithm', 'rsa-2048'], { cwd: dir }).code, 0);
  const r = meshform(['render', 'mesh.yaml', '--out', 'out', '-o', 'json'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { clusters: Array<{ name: string; peers: string[] }> };
  assert.deepEqual(
    summary.clusters.map((c) => [c.name, c.peers.length]),
    [['east', 2], ['west', 2], ['central', 2]],
  );
});

test('validate exits 1 with a table of findings, and -o json lists them with code and path', async () => {
  const dir = await exampleCopy('seed');
  meshform(['ca', 'init', '--spec', 'mesh.yaml'], { cwd: dir });
  const spec = (await readFile(join(dir, 'mesh.yaml'), 'utf8')).replace('nodePort: 32380', 'nodePort: 32379').replace('id: 2', 'id: 1');
  await writeFile(join(dir, 'mesh.yaml'), spec);
  const v = meshform(['validate', 'mesh.yaml'], { cwd: dir });
  assert.equal(v.code, 1);
  assert.match(v.stdout, /ID_DUPLICATE/);
  assert.match(v.stdout, /NODEPORT_DUPLICATE/);
  const j = meshform(['validate', 'mesh.yaml', '-o', 'json'], { cwd: dir });
  assert.equal(j.code, 1);
  const report = JSON.parse(j.stdout) as { ok: boolean; findings: Array<{ code: string; path: string }> };
  assert.equal(report.ok, false);
  assert.ok(report.findings.some((f) => f.code === 'ID_DUPLICATE' && f.path === 'clusters[1].id'));
});

/**
 * Bad input of every kind: a coded message naming the path, no stack trace, nothing written, and
 * the exit code of the policy (exit.ts): 2 when the spec does not load, 1 when it loads but breaks
 * a rule, the same code validate gives the same spec.
 */
const badCases: Array<{ name: string; edit: (spec: string) => string; expect: RegExp; code: 1 | 2 }> = [
  { name: 'malformed-yaml', edit: (s) => s.replace('clusters:', 'clusters: [\n'), expect: /YAML_SYNTAX/, code: 2 },
  { name: 'wrong-type', edit: (s) => s.replace('id: 2', 'id: two'), expect: /clusters\[1\]\.id/, code: 2 },
  { name: 'bad-cidr', edit: (s) => s.replace('10.245.0.0/16', '10.245.0.0/33'), expect: /CIDR_INVALID/, code: 2 },
  { name: 'id-out-of-range', edit: (s) => s.replace('id: 2', 'id: 300'), expect: /ID_OUT_OF_RANGE|SPEC_OUT_OF_RANGE/, code: 1 },
  { name: 'duplicate-name', edit: (s) => s.replace('name: mesh02', 'name: mesh01'), expect: /NAME_DUPLICATE/, code: 1 },
  { name: 'unknown-key', edit: (s) => s.replace('podCIDR: 10.245.0.0/16', 'podCidr: 10.245.0.0/16'), expect: /did you mean "podCIDR"/, code: 2 },
  { name: 'missing-values-file', edit: (s) => s.replace('values: values_mesh02.yaml', 'values: nowhere.yaml'), expect: /FILE_NOT_FOUND/, code: 2 },
  { name: 'values-outside-folder', edit: (s) => s.replace('values: values_mesh02.yaml', 'values: /etc/passwd'), expect: /VALUES_OUTSIDE_SPEC_FOLDER/, code: 2 },
  { name: 'cilium-too-old', edit: (s) => s.replace('version: 1.15.5', 'version: 1.14.12'), expect: /VERSION_TOO_OLD/, code: 1 },
  { name: 'rke2-version-invalid', edit: (s) => s.replace('rke2Version: v1.27.14+rke2r1', 'rke2Version: v1.27-rke2'), expect: /RKE2_VERSION_INVALID/, code: 1 },
];

for (const c of badCases) {
  test(`render with bad input (${c.name}): exit ${c.code} as from validate, clear error, earlier output intact`, async () => {
    const dir = await exampleCopy('seed');
    meshform(['ca', 'init', '--spec', 'mesh.yaml'], { cwd: dir });
    assert.equal(meshform(['render', 'mesh.yaml', '--out', 'out'], { cwd: dir }).code, 0);
    const before = await readFile(join(dir, 'out/values/mesh02.yaml'), 'utf8');
    await writeFile(join(dir, 'mesh.yaml'), c.edit(await readFile(join(dir, 'mesh.yaml'), 'utf8')));
    const r = meshform(['render', 'mesh.yaml', '--out', 'out'], { cwd: dir });
    assert.equal(r.code, c.code, r.stderr);
    assert.equal(meshform(['validate', 'mesh.yaml'], { cwd: dir }).code, c.code, 'validate gives the same spec the same code');
    assert.match(r.stderr, c.expect);
    assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
    assert.match(r.stderr, /fix: /);
    assert.equal(await readFile(join(dir, 'out/values/mesh02.yaml'), 'utf8'), before);
    await snapshot(`render-${c.name}.stderr`, normalise(r.stderr, { dir, repo: ROOT }));
  });
}

test('a CA whose key does not match its certificate is refused with exit 1 (a finding, as validate reports it)', async () => {
  const dir = await exampleCopy('seed');
  meshform(['ca', 'init', '--spec', 'mesh.yaml'], { cwd: dir });
  meshform(['ca', 'init', 'other'], { cwd: dir });
  await writeFile(join(dir, 'ca/ca.key'), await readFile(join(dir, 'other/ca.key')));
  const r = meshform(['render', 'mesh.yaml', '--out', 'out'], { cwd: dir });
  assert.equal(r.code, 1);
  assert.equal(meshform(['validate', 'mesh.yaml'], { cwd: dir }).code, 1);
  assert.match(r.stderr, /CA_KEY_MISMATCH/);
  await assert.rejects(stat(join(dir, 'out')), 'nothing written');
  await snapshot('render-ca-key-mismatch.stderr', normalise(r.stderr, { dir, repo: ROOT }));
});

test('an expired CA is refused with exit 1 (a finding, as validate reports it)', async () => {
  const dir = await exampleCopy('seed');
  assert.equal(meshform(['ca', 'init', '--spec', 'mesh.yaml', '--days', '30'], { cwd: dir, env: { MESHFORM_NOW: '2020-01-01T00:00:00Z' } }).code, 0);
  const r = meshform(['render', 'mesh.yaml', '--out', 'out'], { cwd: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /CA_EXPIRED/);
  await snapshot('render-ca-expired.stderr', normalise(r.stderr, { dir, repo: ROOT }));
});

test('a missing spec file exits 2 naming the file', () => {
  const r = meshform(['validate', 'no/such/mesh.yaml']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no\/such\/mesh\.yaml/);
});

test('ca import takes a cilium-ca Secret manifest; ca show prints no key', async () => {
  const dir = await exampleCopy('seed');
  meshform(['ca', 'init', 'orig'], { cwd: dir });
  const crt = await readFile(join(dir, 'orig/ca.crt'));
  const key = await readFile(join(dir, 'orig/ca.key'));
  const secret = [
    'apiVersion: v1',
    'kind: Secret',
    'metadata: {name: cilium-ca, namespace: kube-system}',
    'data:',
    `  ca.crt: ${crt.toString('base64')}`,
    `  ca.key: ${key.toString('base64')}`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'cilium-ca.yaml'), secret);
  const imp = meshform(['ca', 'import', 'cilium-ca.yaml', '--spec', 'mesh.yaml'], { cwd: dir });
  assert.equal(imp.code, 0, imp.stderr);
  assert.equal(await readFile(join(dir, 'ca/ca.crt'), 'utf8'), crt.toString('utf8'));
  assert.equal((await stat(join(dir, 'ca/ca.key'))).mode & 0o777, 0o600);
  const show = meshform(['ca', 'show', '--spec', 'mesh.yaml', '-o', 'json'], { cwd: dir });
  assert.equal(show.code, 0);
  const info = JSON.parse(show.stdout) as { fingerprint256: string; notAfter: string };
  assert.match(info.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.ok(!show.stdout.includes('PRIVATE KEY'));
  const orig = meshform(['ca', 'show', 'orig', '-o', 'json'], { cwd: dir });
  assert.equal((JSON.parse(orig.stdout) as { fingerprint256: string }).fingerprint256, info.fingerprint256);
});

test('key files are 0600 in 0700 folders after render', async () => {
  const dir = await exampleCopy('seed');
  meshform(['ca', 'init', '--spec', 'mesh.yaml'], { cwd: dir });
  assert.equal(meshform(['render', 'mesh.yaml', '--out', 'out'], { cwd: dir }).code, 0);
  const walk = async (d: string): Promise<string[]> => {
    const out: string[] = [];
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        assert.equal((await stat(p)).mode & 0o777, 0o700, `${p} is 0700`);
        out.push(...(await walk(p)));
      } else out.push(p);
    }
    return out;
  };
  assert.equal((await stat(join(dir, 'out/secrets'))).mode & 0o777, 0o700);
  for (const f of await walk(join(dir, 'out/secrets'))) {
    if (f.endsWith('.gitignore')) continue;
    assert.equal((await stat(f)).mode & 0o777, 0o600, `${f} is 0600`);
  }
  assert.equal((await stat(join(dir, 'ca/ca.key'))).mode & 0o777, 0o600);
});

test('ca show describes an expired CA, names the problem and exits 1', async () => {
  const dir = await exampleCopy('seed');
  assert.equal(meshform(['ca', 'init', 'old', '--days', '30'], { cwd: dir, env: { MESHFORM_NOW: '2020-01-01T00:00:00Z' } }).code, 0);
  const r = meshform(['ca', 'show', 'old'], { cwd: dir });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /not after\s+2020-01-31/);
  assert.match(r.stderr, /CA_EXPIRED/);
});

test('validate --facts runs the live rules offline: a control-plane IP as a peer endpoint is an error', async () => {
  const dir = await exampleCopy('seed');
  meshform(['ca', 'init', '--spec', 'mesh.yaml'], { cwd: dir });
  assert.equal(meshform(['validate', 'mesh.yaml', '--facts', 'facts.yaml'], { cwd: dir }).code, 0);
  const spec = (await readFile(join(dir, 'mesh.yaml'), 'utf8')).replace('ips: [192.0.2.21, 192.0.2.22]', 'ips: [192.0.2.11, 192.0.2.22]');
  await writeFile(join(dir, 'mesh.yaml'), spec);
  const v = meshform(['validate', 'mesh.yaml', '--facts', 'facts.yaml', '-o', 'json'], { cwd: dir });
  assert.equal(v.code, 1);
  const report = JSON.parse(v.stdout) as { findings: Array<{ code: string; path: string; fix: string }> };
  const f = report.findings.find((x) => x.code === 'ENDPOINT_IP_CONTROL_PLANE');
  assert.equal(f?.path, 'clusters[0].endpoint.ips[0]');
  assert.match(f?.fix ?? '', /192\.0\.2\.21/);
  const r = meshform(['render', 'mesh.yaml', '--facts', 'facts.yaml', '--out', 'out'], { cwd: dir });
  assert.equal(r.code, 1, 'the same findings give render the code validate gives');
  await assert.rejects(stat(join(dir, 'out')), 'nothing written');
});

test('a LoadBalancer address (DNS name or IP) is covered by its certificate: validate, CLI and library, reports no SAN_NOT_COVERED', async () => {
  const { prepare } = await import('../../src/prepare.js');
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const golden = join(ROOT, 'test/fixtures/golden');
  const dir = await mkdtemp(join(tmpdir(), 'meshform-lb-'));
  const spec = (await readFile(join(golden, 'loadbalancer/mesh.yaml'), 'utf8'))
    .replace('ca: {cert: ../_pki/ca.crt, key: ../_pki/ca.key}', `ca: {cert: ${join(golden, '_pki/ca.crt')}, key: ${join(golden, '_pki/ca.key')}}`)
    .replace('endpoint: {loadBalancerIP: 203.0.113.10}', 'endpoint: {address: 203.0.113.10, port: 2379}');
  await writeFile(join(dir, 'lb-ip.yaml'), spec);
  const now = '2027-06-01T00:00:00.000Z';
  for (const file of [join(golden, 'loadbalancer/mesh.yaml'), join(dir, 'lb-ip.yaml')]) {
    const r = meshform(['validate', file, '-o', 'json'], { env: { MESHFORM_NOW: now } });
    const report = JSON.parse(r.stdout) as { ok: boolean; findings: Array<{ code: string }> };
    assert.deepEqual(report.findings.filter((f) => f.code.startsWith('SAN_')), [], file);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lib = await prepare(file, { now: new Date(now) });
    assert.deepEqual(lib.findings.map((f) => f.code), [], file);
  }
  // The rendered values carry the IP address as an IP SAN (the chart's extraIpAddresses), not as a DNS name.
  const out = meshform(['render', join(dir, 'lb-ip.yaml'), '--out', join(dir, 'out'), '--targets', 'values'], { env: { MESHFORM_NOW: now } });
  assert.equal(out.code, 0, out.stderr);
  const red = await readFile(join(dir, 'out/values/red.yaml'), 'utf8');
  assert.match(red, /extraIpAddresses:\n\s+- 203\.0\.113\.10/);
  assert.doesNotMatch(red, /extraDnsNames:\n(\s+- .*\n)*\s+- 203\.0\.113\.10/);
});

test('a mesh big enough to issue its certificates on worker threads renders through the CLI (the worker loads beside the bundle too)', async () => {
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'meshform-workers-'));
  const lines = ['apiVersion: meshform/v1alpha1', 'kind: Mesh', 'name: big', 'cilium: {version: 1.16.5}', 'ca: {cert: ca/ca.crt, key: ca/ca.key}', 'clusters:'];
  // 20 clusters × 4 certificates: above the pool's inline threshold, so worker threads issue them.
  for (let i = 1; i <= 20; i++) {
    lines.push(`  - name: c${i}`, `    id: ${i}`, '    rke2Version: v1.32.4+rke2r1', `    podCIDR: 10.${i}.0.0/16`, `    serviceCIDR: 10.${100 + i}.0.0/16`,
      `    endpoint: {nodePort: ${30000 + i}, ips: [192.168.${i}.10, 192.168.${i}.11]}`);
  }
  await writeFile(join(dir, 'mesh.yaml'), lines.join('\n') + '\n');
  assert.equal(meshform(['ca', 'init', 'ca'], { cwd: dir }).code, 0);
  const r = meshform(['render', 'mesh.yaml', '--out', 'out', '-o', 'json'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const certs = await readdir(join(dir, 'out/secrets/c20/certs'));
  assert.ok(certs.includes('server.crt') && certs.includes('local.key'), certs.join(','));
});
